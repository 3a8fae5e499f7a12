"""Custom domains (acceptance 4): added through the platform API, served only once verified by a
TXT record (the DNS lookup is replaced by a fake answer), removed at once; hosts nobody added are
refused, and no call of one company reaches another's domains."""

import uuid

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from tenants import dns
from tenants.branding import company_set_branding
from tenants.models import Domain
from tenants.services import company_change_plan
from tests.conftest import host_of, provision

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_host_list")]

DOMAIN = "support.acme.test"


class FakeDns:
    """Stands in for `tenants.dns.txt_records`: the records a test "published"."""

    def __init__(self):
        self.records: dict[str, list[str]] = {}
        self.lookups: list[str] = []
        self.failing = False

    def publish(self, name: str, value: str) -> None:
        self.records.setdefault(name, []).append(value)

    def __call__(self, name: str) -> list[str]:
        self.lookups.append(name)
        if self.failing:
            raise dns.DnsLookupFailed("timeout")
        return list(self.records.get(name, []))


@pytest.fixture
def fake_dns(monkeypatch):
    fake = FakeDns()
    monkeypatch.setattr(dns, "txt_records", fake)
    return fake


@pytest.fixture
def acme(db):
    company = provision(f"acme-{uuid.uuid4().hex[:8]}", plan="enterprise")
    return company_set_branding(company=company, brand_name="Acme Support", primary_color="#b4235a",
                                support_email="help@acme.test")


def page(host: str, path: str = "/app/login/"):
    response = Client(HTTP_HOST=host).get(path)
    from django.db import connection

    connection.set_schema_to_public()
    return response


def domains_url(company, suffix: str = "") -> str:
    return f"/platform/api/v1/companies/{company.pk}/domains{suffix}"


def add(platform_api, company, domain: str = DOMAIN):
    return platform_api.post(domains_url(company), {"domain": domain})


def test_a_custom_domain_is_404_until_verified_then_serves_the_brand_and_stops_at_once_when_removed(
    platform_api, acme, fake_dns,
):
    # given a custom domain added by the operator
    added = add(platform_api, acme)
    assert added.status_code == 201, added.content
    body = added.json()
    record = body["txt_record"]
    assert body["domain"] == DOMAIN and body["verified"] is False and body["kind"] == "custom"
    assert record == {"type": "TXT", "name": f"_conversa-challenge.{DOMAIN}",
                      "value": Domain.objects.get(domain=DOMAIN).verification_token}
    # then it is not served while unverified
    assert page(DOMAIN).status_code == 404
    assert page(DOMAIN, "/api/v1/auth/me").status_code == 404

    # when the company publishes the record and the operator verifies
    fake_dns.publish(record["name"], record["value"])
    verified = platform_api.post(domains_url(acme, f"/{body['id']}/verify"))
    assert verified.status_code == 200, verified.content
    assert verified.json()["verified"] is True and fake_dns.lookups == [record["name"]]

    # then the domain serves acme's login page with acme's branding
    login = page(DOMAIN)
    assert login.status_code == 200
    assert b"Acme Support" in login.content and b"#b4235a" in login.content
    assert b"help@acme.test" in login.content
    assert b"Powered by Conversa" not in login.content  # enterprise has white_label

    # when it is removed, the very next request is not served
    removed = platform_api.delete(domains_url(acme, f"/{body['id']}"))
    assert removed.status_code == 204
    gone = page(DOMAIN)
    assert gone.status_code == 400 and b"Acme" not in gone.content
    assert not Domain.objects.filter(domain=DOMAIN).exists()


def test_the_company_list_shows_its_own_subdomain_verified_and_primary(platform_api, acme):
    listed = platform_api.get(domains_url(acme))
    assert listed.status_code == 200
    [own] = listed.json()["items"]
    assert own["domain"] == host_of(acme) and own["kind"] == "subdomain"
    assert own["verified"] is True and own["is_primary"] is True and own["txt_record"] is None


def test_a_missing_or_wrong_txt_record_leaves_the_domain_unverified(platform_api, acme, fake_dns):
    domain_id = add(platform_api, acme).json()["id"]
    fake_dns.publish(f"_conversa-challenge.{DOMAIN}", "conversa-verify-somebody-elses-token")
    token = Domain.objects.get(pk=domain_id).verification_token
    fake_dns.publish(f"_conversa-challenge.other.{DOMAIN}", token)

    refused = platform_api.post(domains_url(acme, f"/{domain_id}/verify"))

    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "domain_not_verified" and error["details"]["reason"] == "record_not_found"
    assert Domain.objects.get(pk=domain_id).verified_at is None
    assert page(DOMAIN).status_code == 404


def test_a_failed_dns_lookup_says_so_and_verifies_nothing(platform_api, acme, fake_dns):
    domain_id = add(platform_api, acme).json()["id"]
    fake_dns.failing = True

    refused = platform_api.post(domains_url(acme, f"/{domain_id}/verify"))

    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["reason"] == "lookup_failed"
    assert Domain.objects.get(pk=domain_id).verified_at is None


def test_a_quoted_record_value_is_accepted_and_verifying_again_is_harmless(platform_api, acme, fake_dns):
    body = add(platform_api, acme).json()
    fake_dns.publish(body["txt_record"]["name"], f'"{body["txt_record"]["value"]}"')

    first = platform_api.post(domains_url(acme, f"/{body['id']}/verify"))
    again = platform_api.post(domains_url(acme, f"/{body['id']}/verify"))

    assert first.status_code == again.status_code == 200
    assert first.json()["verified_at"] == again.json()["verified_at"]
    assert len(fake_dns.lookups) == 1


def test_a_company_without_white_label_cannot_add_a_domain(platform_api, make_company):
    company = make_company(plan="pro")

    refused = add(platform_api, company)

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "feature_not_in_plan"
    assert not Domain.objects.filter(domain=DOMAIN).exists()


def test_a_verified_domain_stops_serving_when_the_plan_loses_white_label_except_webhooks(
    platform_api, acme, fake_dns,
):
    from tests.fixtures.messaging import make_inbox

    inbox = make_inbox(acme)
    body = add(platform_api, acme).json()
    fake_dns.publish(body["txt_record"]["name"], body["txt_record"]["value"])
    platform_api.post(domains_url(acme, f"/{body['id']}/verify"))
    assert page(DOMAIN).status_code == 200

    company_change_plan(company=acme, plan_code="pro")

    assert page(DOMAIN).status_code == 404
    assert page(host_of(acme)).status_code == 200
    # a provider given a webhook URL on the custom domain still delivers customers' messages
    hook = Client(HTTP_HOST=DOMAIN).post(
        f"/hooks/sandbox/{inbox.pk}", {"from": "+5511999990000", "text": "olá"},
        content_type="application/json", headers={"X-Sandbox-Token": inbox.sandbox_token},
    )
    assert hook.status_code == 202, hook.content


@pytest.mark.parametrize("name", [
    "localhost", "x.localhost", "alpha.localhost", "LOCALHOST.", "127.0.0.1", "support", "exa mple.com",
    "-bad.example.com", "bad-.example.com", "a..b.com", "support.acme.test/path", "*.acme.test",
    "user@acme.test", ("a" * 64) + ".com", "",
])
def test_names_that_are_not_a_claimable_host_are_refused(platform_api, acme, name):
    refused = add(platform_api, acme, name)

    assert refused.status_code == 422, (name, refused.content)
    assert refused.json()["error"]["code"] == "validation_error"
    assert not Domain.objects.filter(tenant=acme, kind=Domain.Kind.CUSTOM).exists()


def test_names_are_stored_lower_case_and_as_idna(platform_api, acme):
    assert add(platform_api, acme, "Support.ACME.test.").json()["domain"] == DOMAIN
    assert add(platform_api, acme, "atención.acme.test").json()["domain"] == "xn--atencin-q0a.acme.test"


def test_a_domain_is_one_company_s_only(platform_api, acme, companies):
    assert add(platform_api, acme).status_code == 201

    taken = add(platform_api, companies["alpha"])

    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "conflict"
    assert Domain.objects.get(domain=DOMAIN).tenant_id == acme.pk


def test_another_company_s_calls_never_reach_a_domain(platform_api, acme, bravo, fake_dns):
    body = add(platform_api, acme).json()
    fake_dns.publish(body["txt_record"]["name"], body["txt_record"]["value"])

    for method, suffix in (("get", ""), ("post", "/verify"), ("post", "/make-primary"), ("delete", "")):
        response = getattr(platform_api, method)(domains_url(bravo, f"/{body['id']}{suffix}"))
        assert response.status_code == 404, (method, suffix, response.content)
        assert response.json()["error"]["code"] == "not_found"

    domain = Domain.objects.get(pk=body["id"])
    assert domain.tenant_id == acme.pk and domain.verified_at is None and not domain.is_primary
    assert fake_dns.lookups == []


def test_the_platform_api_needs_a_superadmin(api, acme):
    anonymous = api("localhost").post(domains_url(acme), {"domain": DOMAIN})
    assert anonymous.status_code == 401
    tenant_host = api(acme).post(domains_url(acme), {"domain": DOMAIN})
    assert tenant_host.status_code == 404
    assert not Domain.objects.filter(domain=DOMAIN).exists()


def test_only_a_verified_domain_becomes_primary_and_removing_it_restores_the_subdomain(
    platform_api, acme, fake_dns,
):
    body = add(platform_api, acme).json()
    refused = platform_api.post(domains_url(acme, f"/{body['id']}/make-primary"))
    assert refused.status_code == 409

    fake_dns.publish(body["txt_record"]["name"], body["txt_record"]["value"])
    platform_api.post(domains_url(acme, f"/{body['id']}/verify"))
    made = platform_api.post(domains_url(acme, f"/{body['id']}/make-primary"))
    assert made.status_code == 200 and made.json()["is_primary"] is True
    assert acme.get_primary_domain().domain == DOMAIN
    assert Domain.objects.filter(tenant=acme, is_primary=True).count() == 1

    platform_api.delete(domains_url(acme, f"/{body['id']}"))
    assert acme.get_primary_domain().domain == f"{acme.slug}.localhost"


def test_the_company_s_own_subdomain_cannot_be_removed(platform_api, acme):
    own = Domain.objects.get(tenant=acme)

    refused = platform_api.delete(domains_url(acme, f"/{own.pk}"))

    assert refused.status_code == 409
    assert page(host_of(acme)).status_code == 200


# --- Host header attacks -------------------------------------------------------------------------

@pytest.mark.parametrize("host", [
    "evil.example", "alpha.localhost.evil.example", "localhost.evil.example", "evil.example:80",
    "alpha.localhost@evil.example", "[::1]", "127.0.0.1",
])
def test_hosts_nobody_added_are_refused_before_anything_reads_them(host, alpha):
    response = page(host)
    assert response.status_code == 400
    api_response = page(host, "/api/v1/auth/me")
    assert api_response.status_code == 400 and api_response.json()["error"]["code"] == "bad_request"


def test_an_unknown_subdomain_is_404_and_a_forwarded_host_is_ignored(alpha):
    assert page("nobody.localhost").status_code == 404
    response = Client(HTTP_HOST="evil.example", HTTP_X_FORWARDED_HOST=host_of(alpha)).get("/app/login/")
    assert response.status_code == 400


def test_an_unverified_domain_of_one_company_never_shows_another(platform_api, acme, alpha, fake_dns):
    add(platform_api, acme)
    for path in ("/app/login/", "/api/v1/auth/me", "/brand/logo", "/"):
        response = page(DOMAIN, path)
        assert response.status_code == 404, path
        assert b"Alpha" not in response.content and b"Acme" not in response.content


def test_a_host_in_another_case_or_with_a_trailing_dot_is_the_same_company(alpha):
    for host in (host_of(alpha).upper(), host_of(alpha) + "."):
        response = page(host)
        assert response.status_code == 200, host
        with schema_context("public"):
            assert alpha.name.encode() in response.content


def test_every_domain_action_of_the_platform_api_is_in_the_platform_audit_log(
    platform_api, acme, fake_dns, superadmin,
):
    from tenants.models import PlatformAuditEntry

    body = add(platform_api, acme).json()
    fake_dns.publish(body["txt_record"]["name"], body["txt_record"]["value"])
    platform_api.post(domains_url(acme, f"/{body['id']}/verify"))
    platform_api.post(domains_url(acme, f"/{body['id']}/make-primary"))
    platform_api.delete(domains_url(acme, f"/{body['id']}"))

    entries = PlatformAuditEntry.objects.filter(company=acme, source="api").order_by("created_at", "id")
    assert [entry.action for entry in entries] == [
        "domain.added", "domain.verified", "domain.made_primary", "domain.removed"]
    assert {(entry.source, entry.actor_email, entry.details["domain"]) for entry in entries} == {
        ("api", superadmin.email, DOMAIN)}
