"""Per-user and per-key rate limits of SPEC §13: 429 with Retry-After exactly past each threshold,
one audit entry per actor and window, budgets of one company meaning nothing on another."""

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditLog
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def limits(settings):
    """Small budgets, so each threshold is reached in a few requests."""
    settings.RATE_LIMITS_PER_MINUTE = {"general": 6, "sends": 3, "uploads": 2, "exports": 2}
    return settings.RATE_LIMITS_PER_MINUTE


def assert_refused(response, retry_after: int):
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) == retry_after


def test_the_general_budget_of_a_user_ends_exactly_at_its_limit(api, alpha, limits):
    user = make_user(alpha)
    client = api(alpha, token=api(alpha).login(user.email)["access"])

    statuses = [client.get("/api/v1/auth/me").status_code for _ in range(6)]
    assert statuses == [200] * 6
    # 6 a minute refill one every 10 s
    assert_refused(client.get("/api/v1/auth/me"), retry_after=10)


def test_sends_have_their_own_budget_on_the_api_and_the_ui_together(api, alpha, limits):
    user = make_user(alpha, role="admin")
    inbox = make_inbox(alpha)
    conversation = receive(alpha, inbox).conversation_id
    client = api(alpha, token=api(alpha).login(user.email)["access"])

    first = [client.post(f"/api/v1/conversations/{conversation}/messages", {"text": f"hi {n}"}).status_code
             for n in range(2)]
    assert first == [201, 201]
    browser = signed_in(alpha, user)
    assert browser.post(f"/app/c/{conversation}/send/", {"text": "from the inbox page"}).status_code == 200

    # the fourth send in a minute, whichever the door: 3 a minute refill one every 20 s
    assert_refused(client.post(f"/api/v1/conversations/{conversation}/messages", {"text": "one more"}),
                   retry_after=20)
    page = browser.post(f"/app/c/{conversation}/send/", {"text": "and another"})
    assert page.status_code == 429 and int(page["Retry-After"]) >= 19
    # other calls still have their general budget
    assert client.get(f"/api/v1/conversations/{conversation}").status_code == 200


def test_exports_of_an_api_key_are_limited_per_key(api, alpha, limits):
    _key, secret = make_api_key(alpha, scopes=["contacts:read"])
    client = api(alpha, headers={"X-Api-Key": secret})

    started = [client.post("/api/v1/exports", {"entity": "contacts"}).status_code for _ in range(2)]
    assert started == [202, 202]
    assert_refused(client.post("/api/v1/exports", {"entity": "contacts"}), retry_after=30)
    _other, other_secret = make_api_key(alpha, scopes=["contacts:read"])
    assert api(alpha, headers={"X-Api-Key": other_secret}).post(
        "/api/v1/exports", {"entity": "contacts"}).status_code == 202


def test_uploads_are_limited_per_user(api, alpha, limits):
    user = make_user(alpha)
    client = api(alpha, token=api(alpha).login(user.email)["access"])
    # Bad uploads spend the budget too: the limit protects the server, not only the storage.
    assert [client.post("/api/v1/media").status_code for _ in range(2)] == [422, 422]
    assert_refused(client.post("/api/v1/media"), retry_after=30)


def test_an_actor_hitting_a_limit_again_and_again_is_audited_once_per_window(api, alpha, limits):
    user = make_user(alpha)
    client = api(alpha, token=api(alpha).login(user.email)["access"])
    for _ in range(6):
        client.get("/api/v1/auth/me")

    for _ in range(4):
        assert client.get("/api/v1/auth/me").status_code == 429

    with schema_context(alpha.schema_name):
        entries = list(AuditLog.objects.filter(action="rate_limit.exceeded", entity_id=str(user.pk)))
    assert len(entries) == 1
    assert entries[0].changes["limit"] == "general" and entries[0].success is False


def test_a_spent_budget_in_company_a_leaves_the_same_user_id_on_b_alone(api, alpha, bravo, limits):
    from tests.fixtures.factories import unique_email

    email = unique_email("twin")
    for company in (alpha, bravo):
        make_user(company, email=email)
    on_a = api(alpha, token=api(alpha).login(email)["access"])
    on_b = api(bravo, token=api(bravo).login(email)["access"])
    for _ in range(6):
        on_a.get("/api/v1/auth/me")
    assert on_a.get("/api/v1/auth/me").status_code == 429

    assert on_b.get("/api/v1/auth/me").status_code == 200
    with schema_context(bravo.schema_name):
        assert not AuditLog.objects.filter(action="rate_limit.exceeded").exists()
