"""Settings → Webhooks through Django's test client: admins only, the secret shown once, edits,
enable/disable, test sends, the delivery log and redelivery; another company's endpoints are 404."""

import pytest
from django_tenants.utils import schema_context

from apps.webhooks.models import Endpoint
from tests.fixtures.factories import make_user
from tests.web.test_pages import signed_in
from tests.webhooks.conftest import make_endpoint

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_webhook_sees_the_secret_once_and_tests_it(alpha, receiver):
    browser = signed_in(alpha, make_user(alpha, role="admin"))

    created = browser.post("/app/settings/webhooks/", {"url": receiver.url,
                                                       "events": ["contact.created", "message.created"]})

    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    with schema_context(alpha.schema_name):
        endpoint = Endpoint.objects.get(url=receiver.url)
    secret = created.content.decode().split('id="webhook-secret"')[1].split('value="')[1].split('"')[0]
    assert secret.startswith("whsec_")
    listed = browser.get("/app/settings/webhooks/").content.decode()
    assert receiver.url in listed and secret not in listed and "Healthy" in listed
    detail = f"/app/settings/webhooks/{endpoint.pk}/"
    assert secret not in browser.get(detail).content.decode()

    tested = browser.post(f"{detail}test/")
    assert tested.status_code == 302
    page = browser.get(detail).content.decode()
    assert "Test event delivered (HTTP 200)." in page
    assert "webhook.test" in page and "X-Conversa-Signature: t=" in page
    assert len(receiver.received) == 1

    browser.post(detail, {"url": receiver.url, "events": ["contact.updated"]})
    browser.post(f"{detail}disable/")
    with schema_context(alpha.schema_name):
        endpoint.refresh_from_db()
    assert (endpoint.events, endpoint.active) == (["contact.updated"], False)
    assert "Disabled" in browser.get(detail).content.decode()


def test_a_bad_url_is_shown_next_to_its_field_and_nothing_is_created(alpha, settings):
    settings.OUTBOUND_ALLOW_PRIVATE = False
    browser = signed_in(alpha, make_user(alpha, role="admin"))

    refused = browser.post("/app/settings/webhooks/", {"url": "http://127.0.0.1/hook",
                                                       "events": ["contact.created"]})

    assert refused.status_code == 422
    assert 'id="id_url_error"' in refused.content.decode()
    with schema_context(alpha.schema_name):
        assert not Endpoint.objects.exists()


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_webhook_pages_are_404_for_non_admins(alpha, receiver, role):
    endpoint, _ = make_endpoint(alpha, receiver.url)
    browser = signed_in(alpha, make_user(alpha, role=role))

    assert browser.get("/app/settings/webhooks/").status_code == 404
    assert browser.get(f"/app/settings/webhooks/{endpoint.pk}/").status_code == 404
    assert browser.post(f"/app/settings/webhooks/{endpoint.pk}/test/").status_code == 404
    assert receiver.received == []


def test_another_company_webhook_pages_are_404(alpha, bravo, receiver):
    endpoint, _ = make_endpoint(bravo, receiver.url)
    with schema_context(alpha.schema_name):
        assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    browser = signed_in(alpha, make_user(alpha, role="admin"))

    assert browser.get(f"/app/settings/webhooks/{endpoint.pk}/").status_code == 404
    assert browser.post(f"/app/settings/webhooks/{endpoint.pk}/delete/").status_code == 404
    assert receiver.url not in browser.get("/app/settings/webhooks/").content.decode()
    with schema_context(bravo.schema_name):
        assert Endpoint.objects.filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize("language", ["es", "pt-BR"])
def test_the_webhook_pages_speak_the_admin_language(alpha, receiver, language):
    from tests.web.test_i18n import LANGUAGES, EnglishFinder, english_on, english_strings, require_compiled

    directory = LANGUAGES[language]
    require_compiled(directory)
    finder = EnglishFinder(english_strings(directory))
    browser = signed_in(alpha, make_user(alpha, role="admin", name="Alice Admin"))
    assert browser.post("/app/profile/", {"name": "Alice Admin", "language": language}).status_code == 200
    receiver.fail_next(1)

    pages = {"created": browser.post("/app/settings/webhooks/", {"url": receiver.url,
                                                                 "events": ["contact.created"]})}
    with schema_context(alpha.schema_name):
        endpoint = Endpoint.objects.get(url=receiver.url)
    detail = f"/app/settings/webhooks/{endpoint.pk}/"
    browser.post(f"{detail}test/")  # fails: the log shows an error and a redeliver button
    pages["detail"] = browser.get(detail)
    pages["list"] = browser.get("/app/settings/webhooks/")
    pages["errors"] = browser.post("/app/settings/webhooks/", {"url": "", "events": []})

    english = {name: sorted(english_on(page.content.decode(), finder)) for name, page in pages.items()}
    assert not {name: found for name, found in english.items() if found}, english
