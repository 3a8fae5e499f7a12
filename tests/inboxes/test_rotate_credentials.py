"""Rotating the credentials key: old rows are re-encrypted and the old key can then be dropped."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from apps.inboxes import crypto
from apps.inboxes.models import Inbox
from tests.fixtures.messaging import make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    crypto.reset_cache()
    yield old, new
    crypto.reset_cache()


def test_rotation_lets_the_old_key_go(alpha, bravo, in_schema, settings, keys, capsys):
    old, new = keys
    credentials = {
        "account_sid": "AC" + "2" * 32,
        "auth_token": "secret-token",
        "from_number": "+14155238886",
    }
    inboxes = {
        company: make_inbox(company, provider="twilio", credentials=credentials) for company in (alpha, bravo)
    }

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    crypto.reset_cache()
    call_command("rotate_credentials")
    assert "re-encrypted" in capsys.readouterr().out

    settings.FIELD_ENCRYPTION_KEYS = [new]
    crypto.reset_cache()
    for company, inbox in inboxes.items():
        with in_schema(company.schema_name):
            assert Inbox.objects.get(pk=inbox.pk).credentials["auth_token"] == "secret-token"
