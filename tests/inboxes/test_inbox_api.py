"""`/api/v1/inboxes`: connecting providers, what each role sees, plan limits, templates, sandbox outbox."""

import json
import re
import uuid

import pytest

from apps.inboxes.models import Inbox, WebhookEvent
from tests.fakes.webhooks import meta_signature, meta_text_message
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, new_phone, receive

pytestmark = pytest.mark.django_db

INBOXES = "/api/v1/inboxes"


def meta_credentials(**overrides) -> dict:
    """Distinctive secrets, so a response that leaks one is easy to find."""
    return {
        "phone_number_id": "106540352242922",
        "business_account_id": "102290129340398",
        "access_token": f"EAAG-access-{uuid.uuid4().hex}",
        "app_secret": f"app-secret-{uuid.uuid4().hex}",
        **overrides,
    }


def twilio_credentials(**overrides) -> dict:
    return {
        "account_sid": "AC" + uuid.uuid4().hex,
        "auth_token": f"twilio-auth-{uuid.uuid4().hex}",
        "from_number": "whatsapp:+14155238886",
        **overrides,
    }


def signed_in(api, company, user=None):
    email = user.email if user else f"admin@{company.slug}.example.com"
    return api(company, token=api(company).login(email)["access"])


@pytest.fixture
def admin(api, alpha):
    return signed_in(api, alpha)


@pytest.fixture
def agent(api, alpha):
    return signed_in(api, alpha, make_user(alpha, role="agent"))


def error_of(response) -> dict:
    return response.json()["error"]


def leaked(response, *secrets: str) -> list[str]:
    text = response.content.decode()
    return [secret for secret in secrets if secret in text]


# --- creating inboxes ----------------------------------------------------------------------------


def test_an_admin_connects_a_whatsapp_cloud_number_and_gets_what_meta_needs(admin, alpha, in_schema):
    credentials = meta_credentials()

    response = admin.post(
        INBOXES, {"name": "Sales", "provider": "whatsapp_cloud", "credentials": credentials}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Sales" and body["provider"] == "whatsapp_cloud"
    assert body["rate_limit_per_second"] == 80  # Meta's default throughput per number
    assert re.fullmatch(rf"https?://{alpha.slug}\.localhost/hooks/whatsapp/{body['id']}", body["webhook_url"])
    # No verify token was given: one is generated, and it is what Meta's GET check will be compared to.
    assert body["verify_token"] and len(body["verify_token"]) >= 16
    assert body["sandbox_token"] is None
    assert "credentials" not in body
    assert leaked(response, credentials["access_token"], credentials["app_secret"]) == []
    with in_schema(alpha.schema_name):
        stored = Inbox.objects.get(pk=body["id"]).credentials
    assert stored["access_token"] == credentials["access_token"]
    assert stored["verify_token"] == body["verify_token"]


def test_a_verify_token_the_admin_chose_is_kept(admin):
    response = admin.post(
        INBOXES,
        {
            "name": "Sales",
            "provider": "whatsapp_cloud",
            "credentials": meta_credentials(verify_token="my-token"),
        },
    )

    assert response.status_code == 201
    assert response.json()["verify_token"] == "my-token"


def test_an_admin_connects_twilio_with_a_rate_limit(admin, alpha):
    credentials = twilio_credentials()

    response = admin.post(
        INBOXES,
        {"name": "SMS", "provider": "twilio", "credentials": credentials, "rate_limit_per_second": 5},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["provider"] == "twilio" and body["rate_limit_per_second"] == 5
    assert re.fullmatch(rf"https?://{alpha.slug}\.localhost/hooks/twilio/{body['id']}", body["webhook_url"])
    assert body["verify_token"] is None and body["sandbox_token"] is None
    assert leaked(response, credentials["auth_token"]) == []


def test_an_admin_creates_a_sandbox_and_reads_its_token(admin, alpha, in_schema):
    response = admin.post(INBOXES, {"name": "Demo", "provider": "sandbox", "credentials": {}})

    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(rf"https?://{alpha.slug}\.localhost/hooks/sandbox/{body['id']}", body["webhook_url"])
    assert body["verify_token"] is None
    with in_schema(alpha.schema_name):
        assert body["sandbox_token"] == Inbox.objects.get(pk=body["id"]).sandbox_token
    assert len(body["sandbox_token"]) >= 24


def test_admins_read_the_connection_details_on_get(admin, alpha):
    created = {
        provider: admin.post(
            INBOXES, {"name": provider, "provider": provider, "credentials": credentials}
        ).json()
        for provider, credentials in (
            ("sandbox", {}),
            ("whatsapp_cloud", meta_credentials()),
            ("twilio", twilio_credentials()),
        )
    }

    for provider, inbox in created.items():
        response = admin.get(f"{INBOXES}/{inbox['id']}")
        assert response.status_code == 200
        body = response.json()
        assert body["webhook_url"] == inbox["webhook_url"], provider
        assert body["verify_token"] == inbox["verify_token"], provider
        assert body["sandbox_token"] == inbox["sandbox_token"], provider


@pytest.mark.parametrize(
    ("provider", "credentials", "missing"),
    [
        ("whatsapp_cloud", meta_credentials(access_token=""), "access_token"),
        ("whatsapp_cloud", {k: v for k, v in meta_credentials().items() if k != "app_secret"}, "app_secret"),
        ("whatsapp_cloud", meta_credentials(phone_number_id="   "), "phone_number_id"),
        ("twilio", {k: v for k, v in twilio_credentials().items() if k != "auth_token"}, "auth_token"),
        ("twilio", twilio_credentials(from_number=None), "from_number"),
    ],
)
def test_missing_credentials_are_422_naming_the_field(
    admin, alpha, in_schema, provider, credentials, missing
):
    response = admin.post(INBOXES, {"name": "X", "provider": provider, "credentials": credentials})

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == [f"credentials.{missing}"]
    with in_schema(alpha.schema_name):
        assert not Inbox.objects.exists()


@pytest.mark.parametrize(
    ("provider", "credentials", "unknown"),
    [
        ("whatsapp_cloud", meta_credentials(webhook_secret="x"), "webhook_secret"),
        ("twilio", twilio_credentials(graph_base_url="http://127.0.0.1:1"), "graph_base_url"),
        ("sandbox", {"sandbox_token": "chosen-by-me"}, "sandbox_token"),
    ],
)
def test_unknown_credential_fields_are_422(admin, alpha, in_schema, provider, credentials, unknown):
    response = admin.post(INBOXES, {"name": "X", "provider": provider, "credentials": credentials})

    assert response.status_code == 422
    assert [d["field"] for d in error_of(response)["details"]] == [f"credentials.{unknown}"]
    with in_schema(alpha.schema_name):
        assert not Inbox.objects.exists()


def test_an_unknown_provider_is_422(admin):
    response = admin.post(INBOXES, {"name": "X", "provider": "telegram", "credentials": {}})

    assert response.status_code == 422
    assert error_of(response)["details"][0]["field"] == "provider"


@pytest.mark.parametrize(
    ("provider", "field", "url"),
    [
        ("whatsapp_cloud", "graph_base_url", "http://127.0.0.1:8081"),
        ("whatsapp_cloud", "graph_base_url", "http://169.254.169.254/latest/meta-data"),
        ("whatsapp_cloud", "graph_base_url", "http://[::1]:8080"),
        ("twilio", "api_base_url", "http://10.1.2.3"),
        ("twilio", "api_base_url", "file:///etc/passwd"),
    ],
)
def test_a_base_url_into_our_network_is_refused_when_private_addresses_are_not_allowed(
    admin, alpha, in_schema, settings, provider, field, url
):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    credentials = (meta_credentials if provider == "whatsapp_cloud" else twilio_credentials)(**{field: url})

    response = admin.post(INBOXES, {"name": "X", "provider": provider, "credentials": credentials})

    assert response.status_code == 422, response.content
    assert [d["field"] for d in error_of(response)["details"]] == [f"credentials.{field}"]
    with in_schema(alpha.schema_name):
        assert not Inbox.objects.exists()


def test_a_public_base_url_is_accepted_when_private_addresses_are_not_allowed(admin, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    credentials = meta_credentials(graph_base_url="https://93.184.216.34")

    response = admin.post(INBOXES, {"name": "X", "provider": "whatsapp_cloud", "credentials": credentials})

    assert response.status_code == 201, response.content


def test_a_loopback_base_url_is_accepted_when_private_addresses_are_allowed(
    admin, alpha, in_schema, settings
):
    settings.OUTBOUND_ALLOW_PRIVATE = True
    credentials = meta_credentials(graph_base_url="http://127.0.0.1:8081")

    response = admin.post(INBOXES, {"name": "X", "provider": "whatsapp_cloud", "credentials": credentials})

    assert response.status_code == 201, response.content
    with in_schema(alpha.schema_name):
        assert (
            Inbox.objects.get(pk=response.json()["id"]).credentials["graph_base_url"]
            == "http://127.0.0.1:8081"
        )


# --- credentials never come back -----------------------------------------------------------------


def test_no_response_ever_contains_a_credential(admin, agent, alpha):
    meta, twilio = meta_credentials(), twilio_credentials()
    secrets = (meta["access_token"], meta["app_secret"], twilio["auth_token"], twilio["account_sid"])
    responses = [
        admin.post(INBOXES, {"name": "Meta", "provider": "whatsapp_cloud", "credentials": meta}),
        admin.post(INBOXES, {"name": "Twilio", "provider": "twilio", "credentials": twilio}),
    ]
    ids = [response.json()["id"] for response in responses]
    for inbox_id in ids:
        responses += [
            admin.get(f"{INBOXES}/{inbox_id}"),
            agent.get(f"{INBOXES}/{inbox_id}"),
            admin.patch(f"{INBOXES}/{inbox_id}", {"name": "Renamed"}),
        ]
    responses += [admin.get(INBOXES), agent.get(INBOXES)]

    assert [response.status_code for response in responses] == [201, 201] + [200] * 8
    assert [leaked(response, *secrets) for response in responses] == [[]] * len(responses)


# --- roles and API keys --------------------------------------------------------------------------


def test_agents_get_the_plain_inbox_without_connection_secrets(admin, agent):
    sandbox = admin.post(INBOXES, {"name": "Demo", "provider": "sandbox"}).json()
    meta = admin.post(
        INBOXES, {"name": "Meta", "provider": "whatsapp_cloud", "credentials": meta_credentials()}
    ).json()

    for inbox in (sandbox, meta):
        response = agent.get(f"{INBOXES}/{inbox['id']}")
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == inbox["id"] and body["name"] == inbox["name"]
        assert {"webhook_url", "verify_token", "sandbox_token"}.isdisjoint(body)
        assert inbox["sandbox_token"] is None or inbox["sandbox_token"] not in response.content.decode()
        assert inbox["verify_token"] is None or inbox["verify_token"] not in response.content.decode()

    listed = agent.get(INBOXES)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert {item["id"] for item in items} == {sandbox["id"], meta["id"]}
    assert all({"webhook_url", "verify_token", "sandbox_token"}.isdisjoint(item) for item in items)


def test_agents_and_supervisors_cannot_create_or_change_inboxes(api, admin, agent, alpha, in_schema):
    supervisor = signed_in(api, alpha, make_user(alpha, role="supervisor"))
    inbox_id = admin.post(INBOXES, {"name": "Demo", "provider": "sandbox"}).json()["id"]

    for client in (agent, supervisor):
        created = client.post(INBOXES, {"name": "Mine", "provider": "sandbox"})
        patched = client.patch(f"{INBOXES}/{inbox_id}", {"rate_limit_per_second": 1, "name": "Hijacked"})
        template = client.post(f"{INBOXES}/{inbox_id}/templates", {"name": "hello", "body": "Hi"})
        assert (created.status_code, patched.status_code, template.status_code) == (403, 403, 403)
        assert error_of(created)["code"] == "forbidden"

    with in_schema(alpha.schema_name):
        assert list(Inbox.objects.values_list("name", "rate_limit_per_second")) == [("Demo", 80)]


def test_api_keys_read_inboxes_but_cannot_create_or_change_them(api, admin, alpha, in_schema):
    inbox_id = admin.post(INBOXES, {"name": "Demo", "provider": "sandbox"}).json()["id"]
    _, key = make_api_key(alpha, scopes=("conversations:read", "conversations:write"))
    client = api(alpha, headers={"X-Api-Key": key})

    read = client.get(f"{INBOXES}/{inbox_id}")
    created = client.post(INBOXES, {"name": "By key", "provider": "sandbox"})
    patched = client.patch(f"{INBOXES}/{inbox_id}", {"name": "By key"})

    assert read.status_code == 200
    assert "sandbox_token" not in read.json()
    assert (created.status_code, patched.status_code) == (403, 403)
    with in_schema(alpha.schema_name):
        assert list(Inbox.objects.values_list("name", flat=True)) == ["Demo"]


def test_an_api_key_without_the_read_scope_cannot_list_inboxes(api, admin, alpha):
    admin.post(INBOXES, {"name": "Demo", "provider": "sandbox"})
    _, key = make_api_key(alpha, scopes=("contacts:read",))

    response = api(alpha, headers={"X-Api-Key": key}).get(INBOXES)

    assert response.status_code == 403


# --- plan limit ----------------------------------------------------------------------------------


def test_max_inboxes_of_the_plan_is_enforced_with_limit_and_used(api, make_company, in_schema):
    company = make_company(plan="free")  # max_inboxes = 1
    admin = signed_in(api, company)
    first = admin.post(INBOXES, {"name": "One", "provider": "sandbox"})
    assert first.status_code == 201

    refused = admin.post(INBOXES, {"name": "Two", "provider": "sandbox"})

    assert refused.status_code == 403
    error = error_of(refused)
    assert error["code"] == "plan_limit_reached"
    assert error["details"]["limit"] == 1 and error["details"]["used"] == 1
    with in_schema(company.schema_name):
        assert Inbox.objects.count() == 1

    # Only active inboxes count: disconnecting one makes room, and it cannot come back over the limit.
    assert admin.patch(f"{INBOXES}/{first.json()['id']}", {"is_active": False}).status_code == 200
    assert admin.post(INBOXES, {"name": "Two", "provider": "sandbox"}).status_code == 201
    again = admin.patch(f"{INBOXES}/{first.json()['id']}", {"is_active": True})
    assert again.status_code == 403 and error_of(again)["code"] == "plan_limit_reached"
    with in_schema(company.schema_name):
        assert Inbox.objects.filter(is_active=True).count() == 1


# --- updating ------------------------------------------------------------------------------------


def post_meta_webhook(api, company, inbox_id: int, app_secret: str):
    body = meta_text_message("106540352242922", "5511988887777", "Hola")
    return api(company).post(
        f"/hooks/whatsapp/{inbox_id}", body, headers={"X-Hub-Signature-256": meta_signature(body, app_secret)}
    )


def test_patch_changes_the_rate_limit_and_merges_credentials(api, admin, alpha, in_schema):
    credentials = meta_credentials()
    created = admin.post(INBOXES, {"name": "Meta", "provider": "whatsapp_cloud", "credentials": credentials})
    inbox_id, verify_token = created.json()["id"], created.json()["verify_token"]

    response = admin.patch(
        f"{INBOXES}/{inbox_id}",
        {"rate_limit_per_second": 20, "credentials": {"access_token": "rotated-token"}},
    )

    assert response.status_code == 200, response.content
    assert response.json()["rate_limit_per_second"] == 20
    assert response.json()["verify_token"] == verify_token
    assert "rotated-token" not in response.content.decode()
    with in_schema(alpha.schema_name):
        stored = Inbox.objects.get(pk=inbox_id)
        assert stored.rate_limit_per_second == 20
        assert stored.credentials == {
            **credentials,
            "access_token": "rotated-token",
            "verify_token": verify_token,
        }
    # The app secret was not replaced: Meta's signatures with it still verify.
    assert post_meta_webhook(api, alpha, inbox_id, credentials["app_secret"]).status_code == 200

    replaced = admin.patch(f"{INBOXES}/{inbox_id}", {"credentials": {"app_secret": "new-app-secret"}})

    assert replaced.status_code == 200
    assert post_meta_webhook(api, alpha, inbox_id, credentials["app_secret"]).status_code == 403
    assert post_meta_webhook(api, alpha, inbox_id, "new-app-secret").status_code == 200


def test_an_invalid_patch_changes_nothing(admin, alpha, in_schema, settings):
    credentials = meta_credentials()
    inbox_id = admin.post(
        INBOXES, {"name": "Meta", "provider": "whatsapp_cloud", "credentials": credentials}
    ).json()["id"]
    settings.OUTBOUND_ALLOW_PRIVATE = False

    responses = [
        admin.patch(f"{INBOXES}/{inbox_id}", {"name": "New", "credentials": {"app_secret": ""}}),
        admin.patch(f"{INBOXES}/{inbox_id}", {"rate_limit_per_second": 5, "credentials": {"nope": "x"}}),
        admin.patch(
            f"{INBOXES}/{inbox_id}", {"name": "New", "credentials": {"graph_base_url": "http://127.0.0.1:1"}}
        ),
        admin.patch(f"{INBOXES}/{inbox_id}", {"rate_limit_per_second": 0}),
    ]

    assert [response.status_code for response in responses] == [422] * 4
    assert [error_of(r)["details"][0]["field"] for r in responses[:3]] == [
        "credentials.app_secret",
        "credentials.nope",
        "credentials.graph_base_url",
    ]
    with in_schema(alpha.schema_name):
        inbox = Inbox.objects.get(pk=inbox_id)
        assert (inbox.name, inbox.rate_limit_per_second) == ("Meta", 80)
        assert inbox.credentials["app_secret"] == credentials["app_secret"]
        assert "graph_base_url" not in inbox.credentials


@pytest.mark.parametrize(
    "field",
    ["name", "rate_limit_per_second", "reopen_window_hours", "greeting_message", "away_message", "is_active"],
)
def test_null_for_a_required_setting_is_422_not_500(admin, alpha, in_schema, field):
    inbox_id = admin.post(INBOXES, {"name": "Demo", "provider": "sandbox"}).json()["id"]

    response = admin.patch(f"{INBOXES}/{inbox_id}", {field: None})

    assert response.status_code == 422, response.content
    assert [d["field"] for d in error_of(response)["details"]] == [field]
    with in_schema(alpha.schema_name):
        assert Inbox.objects.get(pk=inbox_id).name == "Demo"


def test_null_daily_limit_removes_the_limit(admin):
    inbox_id = admin.post(INBOXES, {"name": "Demo", "provider": "sandbox", "daily_limit": 500}).json()["id"]
    assert admin.get(f"{INBOXES}/{inbox_id}").json()["daily_limit"] == 500

    response = admin.patch(f"{INBOXES}/{inbox_id}", {"daily_limit": None})

    assert response.status_code == 200
    assert response.json()["daily_limit"] is None


# --- templates -----------------------------------------------------------------------------------


def test_templates_are_created_listed_and_unique_per_name_and_language(admin, agent):
    inbox_id = admin.post(
        INBOXES, {"name": "Meta", "provider": "whatsapp_cloud", "credentials": meta_credentials()}
    ).json()["id"]
    path = f"{INBOXES}/{inbox_id}/templates"

    created = admin.post(
        path, {"name": "order_update", "language": "en", "body": "Hi {{1}}, order {{2}} is ready, {{1}}!"}
    )
    assert created.status_code == 201, created.content
    assert created.json() | {"id": 0} == {
        "id": 0,
        "name": "order_update",
        "language": "en",
        "body": "Hi {{1}}, order {{2}} is ready, {{1}}!",
        "category": "utility",
        "status": "approved",
        "variable_count": 2,
    }

    duplicate = admin.post(path, {"name": "order_update", "language": "en", "body": "Other {{1}}"})
    assert duplicate.status_code == 409
    assert error_of(duplicate)["code"] == "conflict"

    other_language = admin.post(
        path, {"name": "order_update", "language": "pt_BR", "body": "Olá {{1}}", "category": "marketing"}
    )
    assert other_language.status_code == 201
    assert other_language.json()["variable_count"] == 1
    plain = admin.post(path, {"name": "welcome", "body": "Welcome!"})
    assert plain.status_code == 201 and plain.json()["variable_count"] == 0

    for client in (admin, agent):
        listed = client.get(path)
        assert listed.status_code == 200
        assert [(t["name"], t["language"], t["variable_count"]) for t in listed.json()["items"]] == [
            ("order_update", "en", 2),
            ("order_update", "pt_BR", 1),
            ("welcome", "en", 0),
        ]


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "Order Update", "body": "Hi"},
        {"name": "order-update", "body": "Hi"},
        {"name": "", "body": "Hi"},
        {"name": "ok_name", "body": ""},
        {"name": "ok_name", "body": "Hi", "category": "spam"},
    ],
)
def test_invalid_templates_are_422_and_not_stored(admin, payload):
    inbox_id = admin.post(INBOXES, {"name": "Demo", "provider": "sandbox"}).json()["id"]

    response = admin.post(f"{INBOXES}/{inbox_id}/templates", payload)

    assert response.status_code == 422
    assert error_of(response)["code"] == "validation_error"
    assert admin.get(f"{INBOXES}/{inbox_id}/templates").json()["items"] == []


# --- tenant isolation ----------------------------------------------------------------------------


def test_another_companys_inbox_ids_are_404_on_every_route(api, alpha, bravo, in_schema):
    sandbox = make_inbox(alpha)
    meta = make_inbox(alpha, provider="whatsapp_cloud", credentials=meta_credentials(verify_token="vt-1"))
    twilio = make_inbox(alpha, provider="twilio", credentials=twilio_credentials())
    with in_schema(bravo.schema_name):
        # Ids are per schema: the test only means something if bravo has no inbox with these ids.
        assert not Inbox.objects.filter(pk__in=[sandbox.pk, meta.pk, twilio.pk]).exists()
    bravo_admin = signed_in(api, bravo)

    for inbox in (sandbox, meta, twilio):
        responses = [
            bravo_admin.get(f"{INBOXES}/{inbox.pk}"),
            bravo_admin.patch(f"{INBOXES}/{inbox.pk}", {"name": "Mine now"}),
            bravo_admin.get(f"{INBOXES}/{inbox.pk}/templates"),
            bravo_admin.post(f"{INBOXES}/{inbox.pk}/templates", {"name": "hello", "body": "Hi"}),
            bravo_admin.get(f"{INBOXES}/{inbox.pk}/sandbox/outbox"),
        ]
        assert [r.status_code for r in responses] == [404] * 5
        assert all(error_of(r)["code"] == "not_found" for r in responses)
    assert bravo_admin.get(INBOXES).json()["items"] == []

    # The webhook URLs themselves, even with alpha's own secrets, do not reach alpha from bravo's host.
    bravo_host = api(bravo)
    hooks = [
        bravo_host.post(
            f"/hooks/sandbox/{sandbox.pk}",
            {"from": "+5511999990000", "text": "hi"},
            headers={"X-Sandbox-Token": sandbox.sandbox_token},
        ),
        bravo_host.get(
            f"/hooks/whatsapp/{meta.pk}?hub.mode=subscribe&hub.verify_token=vt-1&hub.challenge=42"
        ),
    ]
    body = meta_text_message("106540352242922", "5511988887777", "Hola")
    hooks.append(
        bravo_host.post(
            f"/hooks/whatsapp/{meta.pk}",
            body,
            headers={"X-Hub-Signature-256": meta_signature(body, meta.credentials["app_secret"])},
        )
    )
    assert [r.status_code for r in hooks] == [404, 404, 404]
    with in_schema(alpha.schema_name):
        assert Inbox.objects.get(pk=sandbox.pk).name == "Support"
        assert not WebhookEvent.objects.exists()
    with in_schema(bravo.schema_name):
        assert not WebhookEvent.objects.exists()


# --- sandbox outbox ------------------------------------------------------------------------------


def test_the_sandbox_outbox_lists_what_was_sent_to_sandbox_customers(
    admin, agent, alpha, django_capture_on_commit_callbacks
):
    inbox = make_inbox(alpha)
    phone = new_phone()
    inbound = receive(alpha, inbox, phone=phone, text="Hello, anyone there?")
    outbox = f"{INBOXES}/{inbox.pk}/sandbox/outbox"
    assert admin.get(outbox).json() == {"items": [], "next_cursor": None}

    with django_capture_on_commit_callbacks(execute=True):
        sent = admin.post(
            f"/api/v1/conversations/{inbound.conversation_id}/messages", {"text": "Yes, how can I help?"}
        )
    assert sent.status_code == 201, sent.content

    response = admin.get(outbox)

    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 1  # the customer's own message is not in the outbox
    assert items[0]["id"] == sent.json()["id"]
    assert items[0]["conversation_id"] == inbound.conversation_id
    assert items[0]["to"] == phone
    assert items[0]["text"] == "Yes, how can I help?"
    assert items[0]["kind"] == "text"
    assert items[0]["status"] == "sent"  # the sandbox provider took it at once
    assert response.json()["next_cursor"] is None


def test_the_sandbox_outbox_is_newest_first_and_paginated(admin, alpha, django_capture_on_commit_callbacks):
    inbox = make_inbox(alpha)
    conversation_id = receive(alpha, inbox).conversation_id
    with django_capture_on_commit_callbacks(execute=True):
        sent = [
            admin.post(f"/api/v1/conversations/{conversation_id}/messages", {"text": f"Message {n}"}).json()[
                "id"
            ]
            for n in range(3)
        ]

    first = admin.get(f"{INBOXES}/{inbox.pk}/sandbox/outbox?limit=2").json()
    assert [item["id"] for item in first["items"]] == [sent[2], sent[1]]
    assert first["next_cursor"]
    rest = admin.get(f"{INBOXES}/{inbox.pk}/sandbox/outbox?limit=2&cursor={first['next_cursor']}").json()
    assert [item["id"] for item in rest["items"]] == [sent[0]]


def test_the_outbox_of_a_real_provider_inbox_is_404(admin, alpha):
    meta = make_inbox(alpha, provider="whatsapp_cloud", credentials=meta_credentials())
    twilio = make_inbox(alpha, provider="twilio", credentials=twilio_credentials())

    for inbox in (meta, twilio):
        response = admin.get(f"{INBOXES}/{inbox.pk}/sandbox/outbox")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def test_an_unknown_inbox_is_404_in_the_spec_error_body(admin):
    response = admin.get(f"{INBOXES}/987654321")

    assert response.status_code == 404
    assert json.loads(response.content)["error"]["code"] == "not_found"
