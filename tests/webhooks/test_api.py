"""`/api/v1/webhooks` (SPEC §15.1): admins manage endpoints (secret shown once, audited), test them,
read the delivery log and redeliver; everyone else, other companies and keys without the scope are
refused; bad input is a 422 naming the field and changes nothing."""

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditLog
from apps.webhooks.models import Delivery, Endpoint
from tests.fixtures.factories import make_api_key, make_user
from tests.webhooks.conftest import make_endpoint

pytestmark = pytest.mark.django_db


def signed_in(api, company, role="admin"):
    user = make_user(company, role=role)
    return api(company, token=api(company).login(user.email)["access"])


def details(response) -> list[str]:
    return [detail["field"] for detail in response.json()["error"]["details"]]


def test_an_admin_creates_an_endpoint_and_sees_its_secret_only_once(alpha, api, receiver):
    client = signed_in(api, alpha)

    created = client.post("/api/v1/webhooks", {"url": receiver.url,
                                               "events": ["message.created", "contact.created"]})

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["active"] and body["health"] == "healthy"
    assert body["events"] == ["message.created", "contact.created"]
    fetched = client.get(f"/api/v1/webhooks/{body['id']}").json()
    assert "secret" not in fetched
    assert "secret" not in client.get("/api/v1/webhooks").json()["items"][0]
    with schema_context(alpha.schema_name):
        stored = Endpoint.objects.get(pk=body["id"])
        assert body["secret"] not in stored.secret_encrypted
        audit = AuditLog.objects.get(action="webhook.created", entity_id=str(body["id"]))
    assert audit.changes["url"] == [None, receiver.url]


def test_an_admin_changes_events_rotates_the_secret_disables_and_deletes(alpha, api, receiver):
    client = signed_in(api, alpha)
    created = client.post("/api/v1/webhooks", {"url": receiver.url, "events": ["contact.created"],
                                               "secret": "my-own-secret-0123456789"}).json()
    path = f"/api/v1/webhooks/{created['id']}"
    assert created["secret"] == "my-own-secret-0123456789"

    changed = client.patch(path, {"events": ["campaign.finished"], "active": False})
    rotated = client.patch(path, {"rotate_secret": True})
    deleted = client.delete(path)

    assert changed.status_code == 200 and "secret" not in changed.json()
    assert (changed.json()["events"], changed.json()["health"]) == (["campaign.finished"], "disabled")
    assert rotated.json()["secret"].startswith("whsec_")
    assert deleted.status_code == 204 and client.get(path).status_code == 404
    with schema_context(alpha.schema_name):
        actions = list(AuditLog.objects.filter(entity_type="webhook", entity_id=str(created["id"]))
                       .order_by("id").values_list("action", flat=True))
        update = AuditLog.objects.get(action="webhook.updated", entity_id=str(created["id"]))
    assert actions == ["webhook.created", "webhook.updated", "webhook.secret_rotated", "webhook.deleted"]
    assert update.changes == {"events": [["contact.created"], ["campaign.finished"]], "active": [True, False]}


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://example.com/hook", "events": ["contact.created"]}, "url"),
    ({"url": "", "events": ["contact.created"]}, "url"),
    ({"url": "https://example.com/hook", "events": ["contact.exploded"]}, "events"),
    ({"url": "https://example.com/hook", "events": []}, "events"),
    ({"url": "https://example.com/hook", "events": ["contact.created"], "secret": "short"}, "secret"),
    ({"events": ["contact.created"]}, "url"),
    ({"url": "https://example.com/hook", "events": "contact.created"}, "events"),
])
def test_bad_input_is_a_422_naming_the_field_and_creates_nothing(alpha, api, body, field):
    client = signed_in(api, alpha)

    response = client.post("/api/v1/webhooks", body)

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert details(response) == [field]
    with schema_context(alpha.schema_name):
        assert not Endpoint.objects.exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data",
                                 "http://10.0.0.7/hook", "http://[::1]/hook"])
def test_private_and_metadata_addresses_are_refused_when_the_operator_does_not_allow_them(
    alpha, api, settings, url,
):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    client = signed_in(api, alpha)

    response = client.post("/api/v1/webhooks", {"url": url, "events": ["contact.created"]})

    assert response.status_code == 422 and details(response) == ["url"]


def test_test_sends_a_signed_test_event_now_and_the_log_shows_it(alpha, api, receiver):
    client = signed_in(api, alpha)
    created = client.post("/api/v1/webhooks", {"url": receiver.url, "events": ["contact.created"]}).json()

    sent = client.post(f"/api/v1/webhooks/{created['id']}/test")

    assert sent.status_code == 200, sent.content
    delivery = sent.json()
    assert (delivery["event"], delivery["status"], delivery["response_code"]) == (
        "webhook.test", "succeeded", 200)
    [request] = receiver.received
    assert request.headers["x-conversa-delivery"] == delivery["delivery_id"]
    assert request.json["data"]["webhook_id"] == created["id"]
    log = client.get(f"/api/v1/webhooks/{created['id']}/deliveries?status=succeeded").json()
    assert [item["id"] for item in log["items"]] == [delivery["id"]]
    assert client.get(f"/api/v1/webhooks/{created['id']}/deliveries?status=failed").json()["items"] == []
    assert details(client.get(f"/api/v1/webhooks/{created['id']}/deliveries?status=lost")) == ["status"]


def test_a_failed_delivery_is_redelivered_on_request(alpha, api, receiver, settings,
                                                    django_capture_on_commit_callbacks):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    client = signed_in(api, alpha)
    endpoint, _secret = make_endpoint(alpha, receiver.url)
    receiver.fail_next(1)
    with django_capture_on_commit_callbacks(execute=True):
        from tests.fixtures.contacts import make_contact

        make_contact(alpha, name="Fay Failed")
    [failed] = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["items"]
    assert (failed["status"], failed["response_code"], failed["error"]) == ("failed", 500, "HTTP 500")
    assert '"ok": false' in failed["response_excerpt"]

    with django_capture_on_commit_callbacks(execute=True):
        redelivered = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{failed['id']}/redeliver")

    assert redelivered.status_code == 200
    again = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{failed['id']}").json()
    assert (again["status"], again["attempts"]) == ("succeeded", 1)
    assert [r.headers["x-conversa-delivery"] for r in receiver.received] == [failed["delivery_id"]] * 2
    conflict = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{failed['id']}/redeliver")
    assert conflict.status_code == 200  # a delivered one may be sent again on purpose
    with schema_context(alpha.schema_name):
        Delivery.objects.filter(pk=failed["id"]).update(status="sending")
    busy = client.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{failed['id']}/redeliver")
    assert busy.status_code == 409


def test_another_company_endpoints_and_deliveries_are_not_found(alpha, bravo, api, receiver):
    bravo_endpoint, _ = make_endpoint(bravo, receiver.url)
    bravo_client = signed_in(api, bravo)
    delivery_id = bravo_client.post(f"/api/v1/webhooks/{bravo_endpoint.pk}/test").json()["id"]
    with schema_context(alpha.schema_name):
        assert not Endpoint.objects.filter(pk=bravo_endpoint.pk).exists()
    alpha_admin = signed_in(api, alpha)
    alpha_key = api(alpha, headers={"X-Api-Key": make_api_key(alpha, scopes=["webhooks:write"])[1]})

    for client in (alpha_admin, alpha_key):
        base = f"/api/v1/webhooks/{bravo_endpoint.pk}"
        assert client.get("/api/v1/webhooks").json()["items"] == []
        assert client.get(base).status_code == 404
        assert client.patch(base, {"active": False}).status_code == 404
        assert client.post(f"{base}/test").status_code == 404
        assert client.get(f"{base}/deliveries").status_code == 404
        assert client.post(f"{base}/deliveries/{delivery_id}/redeliver").status_code == 404
        assert client.delete(base).status_code == 404
    # Alpha's token on Bravo's host is no one there.
    assert api(bravo, token=alpha_admin.headers["Authorization"].split()[1]).get(
        "/api/v1/webhooks").status_code == 401
    assert len(receiver.received) == 1
    with schema_context(bravo.schema_name):
        assert Endpoint.objects.get(pk=bravo_endpoint.pk).active


def test_agents_supervisors_and_keys_without_the_scope_are_refused(alpha, api, receiver):
    endpoint, _ = make_endpoint(alpha, receiver.url)
    refused = [signed_in(api, alpha, role="agent"), signed_in(api, alpha, role="supervisor"),
               api(alpha, headers={"X-Api-Key": make_api_key(alpha, scopes=["contacts:write"])[1]})]
    for client in refused:
        assert client.get("/api/v1/webhooks").status_code == 403
        assert client.post("/api/v1/webhooks", {"url": receiver.url,
                                                "events": ["contact.created"]}).status_code == 403
        assert client.post(f"/api/v1/webhooks/{endpoint.pk}/test").status_code == 403
        assert client.delete(f"/api/v1/webhooks/{endpoint.pk}").status_code == 403
    assert receiver.received == []

    key = api(alpha, headers={"X-Api-Key": make_api_key(alpha, scopes=["webhooks:write"])[1]})
    # The events carry data out: a key must also be allowed to read what it subscribes to.
    refused = key.post("/api/v1/webhooks", {"url": receiver.url, "events": ["message.created"]})
    assert refused.status_code == 403 and "conversations:read" in refused.json()["error"]["message"]
    reader = api(alpha, headers={"X-Api-Key": make_api_key(
        alpha, scopes=["webhooks:write", "contacts:read"])[1]})
    created = reader.post("/api/v1/webhooks", {"url": receiver.url, "events": ["contact.created"]})
    assert created.status_code == 201
    assert reader.patch(f"/api/v1/webhooks/{created.json()['id']}",
                        {"events": ["conversation.created"]}).status_code == 403


def test_a_plan_without_webhooks_refuses_them(make_company, api, receiver):
    company = make_company(plan="free")
    client = api(company, token=api(company).login(f"admin@{company.slug}.example.com")["access"])

    response = client.post("/api/v1/webhooks", {"url": receiver.url, "events": ["contact.created"]})

    assert response.status_code == 403
    with schema_context(company.schema_name):
        assert not Endpoint.objects.exists()
