"""The console's domains and branding sections of a company page: add, see the TXT record, verify
(fake DNS), make primary, remove; branding with a logo and its preview; every action audited."""

import io
import uuid

import pytest
from django.test import Client
from PIL import Image

from tenants import dns
from tenants.models import Company, Domain, PlatformAuditEntry
from tests.conftest import host_of, provision

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_host_list")]

DOMAIN = "support.acme.test"


@pytest.fixture
def acme(db):
    return provision(f"acme-{uuid.uuid4().hex[:8]}", plan="enterprise")


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), "#b4235a").save(buffer, "PNG")
    return buffer.getvalue()


def test_the_domain_life_cycle_in_the_console(console, acme, monkeypatch):
    page = f"/console/companies/{acme.pk}/"
    assert console.post(f"{page}domains/add/", {"domain": DOMAIN}).status_code == 302
    domain = Domain.objects.get(domain=DOMAIN)

    html = console.get(page).content.decode()
    assert f"_conversa-challenge.{DOMAIN}" in html and domain.verification_token in html
    assert "Not verified" in html

    refused = console.client.post(f"{page}domains/{domain.pk}/verify/", HTTP_HOST="localhost", follow=True)
    assert "TXT record was not found" in refused.content.decode()

    monkeypatch.setattr(dns, "txt_records", lambda name: [domain.verification_token])
    console.post(f"{page}domains/{domain.pk}/verify/")
    assert Domain.objects.get(pk=domain.pk).verified_at is not None
    assert Client(HTTP_HOST=DOMAIN).get("/app/login/").status_code == 200

    console.post(f"{page}domains/{domain.pk}/make-primary/")
    assert Company.objects.get(pk=acme.pk).get_primary_domain().domain == DOMAIN

    console.post(f"{page}domains/{domain.pk}/remove/")
    assert not Domain.objects.filter(domain=DOMAIN).exists()
    assert Client(HTTP_HOST=DOMAIN).get("/app/login/").status_code == 400
    assert host_of(Company.objects.get(pk=acme.pk)) == f"{acme.slug}.localhost"

    actions = list(PlatformAuditEntry.objects.filter(company=acme).values_list("action", flat=True))
    assert {"domain.added", "domain.verified", "domain.made_primary", "domain.removed"} <= set(actions)


def test_a_company_without_white_label_gets_no_add_form_and_is_refused(console, make_company):
    company = make_company(plan="pro")
    html = console.get(f"/console/companies/{company.pk}/").content.decode()
    assert "Custom domains need a plan with white label." in html
    response = console.client.post(f"/console/companies/{company.pk}/domains/add/", {"domain": DOMAIN},
                                   HTTP_HOST="localhost", follow=True)
    assert "does not include this feature" in response.content.decode()
    assert not Domain.objects.filter(domain=DOMAIN).exists()


def test_another_company_s_domain_is_out_of_reach_of_its_page(console, acme, bravo):
    console.post(f"/console/companies/{acme.pk}/domains/add/", {"domain": DOMAIN})
    domain = Domain.objects.get(domain=DOMAIN)
    console.post(f"/console/companies/{bravo.pk}/domains/{domain.pk}/remove/")
    assert Domain.objects.filter(pk=domain.pk, tenant=acme).exists()


def test_branding_with_a_logo_and_its_preview(console, acme):
    upload = io.BytesIO(png())
    upload.name = "logo.png"
    response = console.post(f"/console/companies/{acme.pk}/branding/", {
        "brand_name": "Acme Support", "primary_color": "#b4235a", "support_email": "help@acme.test",
        "logo": upload,
    })
    assert response.status_code == 302

    company = Company.objects.get(pk=acme.pk)
    assert company.brand_name == "Acme Support" and company.logo
    html = console.get(f"/console/companies/{acme.pk}/").content.decode()
    assert f"/console/companies/{acme.pk}/logo" in html and "Acme Support" in html
    logo = console.get(f"/console/companies/{acme.pk}/logo")
    assert logo.status_code == 200 and logo["X-Content-Type-Options"] == "nosniff"
    assert PlatformAuditEntry.objects.filter(company=acme, action="company.branding_changed").exists()

    html_as_png = io.BytesIO(b"<html><script>alert(1)</script></html>")
    html_as_png.name = "logo.png"
    refused = console.client.post(f"/console/companies/{acme.pk}/branding/", {
        "brand_name": "Acme", "primary_color": "#b4235a", "logo": html_as_png,
    }, HTTP_HOST="localhost", follow=True)
    assert "not supported" in refused.content.decode() or "does not match" in refused.content.decode()
    assert Company.objects.get(pk=acme.pk).logo == company.logo


def test_the_sections_and_the_logo_need_a_superadmin(console_client, acme):
    assert console_client.get(f"/console/companies/{acme.pk}/logo").status_code == 302
    assert console_client.post(f"/console/companies/{acme.pk}/domains/add/",
                               {"domain": DOMAIN}).status_code == 302
    assert not Domain.objects.filter(domain=DOMAIN).exists()
