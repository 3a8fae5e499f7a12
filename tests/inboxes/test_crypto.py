"""Provider credentials at rest: encrypted in the column, readable across a key rotation, clear errors."""

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from apps.inboxes import crypto
from apps.inboxes.models import Inbox
from apps.inboxes.services import inbox_update
from tests.fixtures.messaging import make_inbox

pytestmark = pytest.mark.django_db

CREDENTIALS = {
    "account_sid": "AC" + "4" * 32,
    "auth_token": "plain-twilio-auth-token-0123456789",
    "from_number": "whatsapp:+14155238886",
}


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def use_keys(settings):
    """`use_keys(*keys)`: the keys in FIELD_ENCRYPTION_KEYS, newest first, with the cache cleared."""

    def use(*keys: str) -> None:
        settings.FIELD_ENCRYPTION_KEYS = list(keys)
        crypto.reset_cache()

    crypto.reset_cache()
    yield use
    crypto.reset_cache()


def raw_column(company, inbox_id: int) -> str:
    """The column exactly as PostgreSQL holds it, bypassing the model."""
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT credentials_encrypted FROM "{company.schema_name}".inboxes_inbox WHERE id = %s',
            [inbox_id],
        )
        return cursor.fetchone()[0]


def test_credentials_are_encrypted_in_the_database(alpha, in_schema, use_keys):
    use_keys(new_key())

    inbox = make_inbox(alpha, provider="twilio", credentials=CREDENTIALS)

    stored = raw_column(alpha, inbox.pk)
    assert stored
    for value in (CREDENTIALS["auth_token"], CREDENTIALS["account_sid"], "auth_token", "14155238886"):
        assert value not in stored
    with in_schema(alpha.schema_name):
        assert Inbox.objects.get(pk=inbox.pk).credentials == CREDENTIALS


def test_meta_secrets_are_encrypted_too_and_updates_stay_encrypted(alpha, in_schema, use_keys):
    use_keys(new_key())
    meta = {
        "phone_number_id": "106540352242922",
        "business_account_id": "102290129340398",
        "access_token": "EAAG-plain-access-token",
        "app_secret": "plain-app-secret",
        "verify_token": "plain-verify-token",
    }
    inbox = make_inbox(alpha, provider="whatsapp_cloud", credentials=meta)
    before = raw_column(alpha, inbox.pk)

    with in_schema(alpha.schema_name):
        inbox_update(actor=None, inbox=inbox, credentials={"access_token": "EAAG-rotated-access-token"})

    after = raw_column(alpha, inbox.pk)
    assert after != before
    for value in (
        "EAAG-plain-access-token",
        "EAAG-rotated-access-token",
        "plain-app-secret",
        "plain-verify-token",
    ):
        assert value not in before and value not in after
    with in_schema(alpha.schema_name):
        assert Inbox.objects.get(pk=inbox.pk).credentials == {
            **meta,
            "access_token": "EAAG-rotated-access-token",
        }


def test_the_same_credentials_never_encrypt_to_the_same_text(use_keys):
    use_keys(new_key())

    first, second = crypto.encrypt_json(CREDENTIALS), crypto.encrypt_json(CREDENTIALS)

    assert first != second
    assert crypto.decrypt_json(first) == crypto.decrypt_json(second) == CREDENTIALS


def test_old_rows_still_decrypt_after_a_new_key_is_added_and_rotate_moves_them_to_it(
    alpha, in_schema, use_keys
):
    old, new = new_key(), new_key()
    use_keys(old)
    inbox = make_inbox(alpha, provider="twilio", credentials=CREDENTIALS)
    token = raw_column(alpha, inbox.pk)

    use_keys(new, old)
    with in_schema(alpha.schema_name):
        assert Inbox.objects.get(pk=inbox.pk).credentials == CREDENTIALS  # the old key still reads it
    rotated = crypto.rotate(token)
    assert rotated != token
    assert crypto.decrypt_json(rotated) == CREDENTIALS

    use_keys(new)
    assert crypto.decrypt_json(rotated) == CREDENTIALS  # the old key can go
    with pytest.raises(ValueError):
        crypto.decrypt_json(token)  # what was not rotated needs the old key

    use_keys(old)
    with pytest.raises(ValueError):
        crypto.decrypt_json(rotated)  # really under the new key, not the old one


def test_new_writes_use_the_first_key(use_keys):
    old, new = new_key(), new_key()
    use_keys(new, old)

    token = crypto.encrypt_json(CREDENTIALS)

    use_keys(new)
    assert crypto.decrypt_json(token) == CREDENTIALS
    use_keys(old)
    with pytest.raises(ValueError):
        crypto.decrypt_json(token)


def test_a_wrong_key_is_a_clear_value_error(alpha, in_schema, use_keys):
    use_keys(new_key())
    inbox = make_inbox(alpha, provider="twilio", credentials=CREDENTIALS)
    token = raw_column(alpha, inbox.pk)

    use_keys(new_key())

    with pytest.raises(ValueError, match="cannot be decrypted with the configured keys") as raised:
        crypto.decrypt_json(token)
    assert CREDENTIALS["auth_token"] not in str(raised.value)
    with in_schema(alpha.schema_name), pytest.raises(ValueError, match="cannot be decrypted"):
        _ = Inbox.objects.get(pk=inbox.pk).credentials


def test_a_corrupted_column_is_a_clear_value_error(use_keys):
    use_keys(new_key())
    token = crypto.encrypt_json(CREDENTIALS)

    with pytest.raises(ValueError, match="cannot be decrypted with the configured keys"):
        crypto.decrypt_json(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    with pytest.raises(ValueError, match="cannot be decrypted with the configured keys"):
        crypto.decrypt_json("not-a-fernet-token")


def test_an_inbox_without_credentials_decrypts_to_nothing(alpha, in_schema, use_keys):
    use_keys(new_key())

    inbox = make_inbox(alpha)  # sandbox: no provider credentials

    with in_schema(alpha.schema_name):
        assert Inbox.objects.get(pk=inbox.pk).credentials == {}
    assert crypto.decrypt_json("") == {}


def test_without_configured_keys_a_key_derived_from_the_secret_key_is_used(settings, use_keys):
    use_keys()  # FIELD_ENCRYPTION_KEYS = []
    token = crypto.encrypt_json(CREDENTIALS)
    assert crypto.decrypt_json(token) == CREDENTIALS

    settings.SECRET_KEY = settings.SECRET_KEY + "-changed"
    crypto.reset_cache()

    with pytest.raises(ValueError, match="cannot be decrypted"):
        crypto.decrypt_json(token)
