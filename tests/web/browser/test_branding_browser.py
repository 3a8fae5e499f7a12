"""A verified custom domain in a real browser (issue 6, acceptance 4): Chromium, mapped to 127.0.0.1
for `*.test` by a resolver rule, opens acme's login page at its own domain with acme's logo and
colour, signs in there, and the domain stops answering as soon as it is removed."""

import io
import uuid

import pytest
from PIL import Image
from playwright.sync_api import expect

from tenants import dns
from tenants.branding import company_set_branding
from tenants.domains import domain_add, domain_remove, domain_verify, txt_record_for
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, off_loop, screenshot
from tests.fixtures.factories import PASSWORD

pytestmark = [pytest.mark.live, pytest.mark.browser]


def logo_png() -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 60), "#b4235a").save(buffer, "PNG")
    buffer.seek(0)
    return buffer


@pytest.fixture
def mapped_chromium(chromium):
    """`launch(origin)`: a Chromium of its own that resolves every `*.test` host to the live server's
    127.0.0.1 and treats `origin` as secure, as HTTPS would be in production (the session and CSRF
    cookies are `Secure`; Chromium grants that to http://*.localhost only). Closed after the test."""
    launched = []

    def launch(origin: str):
        launched.append(chromium.browser_type.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP *.test 127.0.0.1",
                  f"--unsafely-treat-insecure-origin-as-secure={origin}"],
        ))
        return launched[-1]

    yield launch
    for browser in launched:
        browser.close()


def test_a_verified_custom_domain_shows_the_company_s_logo_and_colour(
    mapped_chromium, asgi_server, make_live_company, monkeypatch,
):
    company = off_loop(make_live_company, plan="enterprise")
    company = off_loop(company_set_branding, company=company, brand_name=f"Acme {uuid.uuid4().hex[:4]}",
                       primary_color="#b4235a", support_email="", logo_file=logo_png(),
                       logo_filename="logo.png")
    custom = f"support.{company.slug}.test"
    domain = off_loop(domain_add, company=company, domain=custom)
    record = txt_record_for(domain)
    monkeypatch.setattr(dns, "txt_records", lambda name: [record["value"]] if name == record["name"] else [])
    domain = off_loop(domain_verify, domain=domain)

    origin = f"http://{custom}:{asgi_server.port}"
    browser = mapped_chromium(origin)
    context = browser.new_context(base_url=origin, viewport=DESKTOP)
    context.set_default_timeout(5000)
    context.set_default_navigation_timeout(15000)  # a cold live server's first page, busy machine
    page = context.new_page()
    response = page.goto("/app/login/")
    assert response.status == 200

    logo = page.locator("img.brand-logo")
    expect(logo).to_be_visible()
    assert page.evaluate("() => document.querySelector('img.brand-logo').naturalWidth") == 120
    expect(page.locator("h1.brand-name")).to_have_text(company.brand_name)
    brand = page.evaluate("() => getComputedStyle(document.documentElement).getPropertyValue('--brand')")
    assert brand.strip() == "#b4235a"
    screenshot(page, "custom-domain-login")

    page.fill("#id_email", f"admin@{company.slug}.example.com")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{origin}/app/")
    expect(page.locator(".topbar img.brand-logo")).to_be_visible()

    off_loop(domain_remove, domain=domain)
    gone = page.goto("/app/login/")
    assert gone.status in (400, 404)
