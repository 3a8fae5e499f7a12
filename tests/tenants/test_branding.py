"""Branding (white label): brand name, colour, support email and a logo that is sniffed, re-encoded
without metadata, bounded and served with nosniff on the company's host; shown on the login page,
the agents' UI and the suspended page."""

import io
import uuid

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from PIL import Image

from tenants.branding import LOGO_MAX_SIDE, company_set_branding
from tenants.models import Company
from tenants.services import company_suspend
from tests.conftest import host_of, provision

pytestmark = pytest.mark.django_db


def jpeg_with_exif(size=(64, 48)) -> bytes:
    image = Image.new("RGB", size, "#b4235a")
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "Leaky Editor 1.0"  # Software
    exif[0x0112] = 1  # orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), comment=b"private comment")
    return buffer.getvalue()


def png(size=(64, 64), color=(0, 128, 255, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, color).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def acme(db):
    return provision(f"acme-{uuid.uuid4().hex[:8]}", plan="enterprise")


def get(host: str, path: str):
    response = Client(HTTP_HOST=host).get(path)
    connection.set_schema_to_public()
    return response


def patch_branding(platform_api, company, data: dict, files: dict | None = None):
    url = f"/platform/api/v1/companies/{company.pk}/branding"
    if files is None:
        return platform_api.patch(url, data)
    body = dict(data)
    for field, (name, content, content_type) in files.items():
        upload = io.BytesIO(content)
        upload.name = name
        upload.content_type = content_type
        body[field] = upload
    response = platform_api.client.generic(
        "PATCH", url, encode_multipart(BOUNDARY, body), content_type=MULTIPART_CONTENT,
        headers=platform_api.headers,
    )
    connection.set_schema_to_public()
    return response


def test_json_branding_changes_name_colour_and_email(platform_api, acme):
    response = patch_branding(platform_api, acme, {
        "brand_name": "Acme Help", "primary_color": "#123abc", "support_email": "help@acme.example.com",
    })

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["brand_name"], body["primary_color"], body["support_email"]) == (
        "Acme Help", "#123abc", "help@acme.example.com")
    assert body["logo_url"] == ""
    from tenants.models import PlatformAuditEntry

    entry = PlatformAuditEntry.objects.get(company=acme, action="company.branding_changed")
    assert entry.source == "api" and entry.details["changes"] == ["brand_name", "primary_color",
                                                                   "support_email"]
    login = get(host_of(acme), "/app/login/")
    assert b"Acme Help" in login.content and b"#123abc" in login.content


@pytest.mark.parametrize("data", [{"primary_color": "red"}, {"primary_color": "#12345g"},
                                  {"support_email": "not-an-email"}, {"brand_name": "x" * 101}])
def test_bad_branding_is_422_and_changes_nothing(platform_api, acme, data):
    response = patch_branding(platform_api, acme, data)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"
    assert Company.objects.get(pk=acme.pk).primary_color == acme.primary_color


def test_a_logo_is_re_encoded_without_exif_and_served_with_nosniff(platform_api, acme):
    original = jpeg_with_exif()
    assert b"SecretCam" in original

    response = patch_branding(platform_api, acme, {"brand_name": "Acme"},
                              {"logo": ("logo.jpg", original, "image/jpeg")})

    assert response.status_code == 200, response.content
    logo_url = response.json()["logo_url"]
    assert logo_url.startswith(f"https://{host_of(acme)}/brand/logo?v=")
    served = get(host_of(acme), logo_url.split(host_of(acme), 1)[1])
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in served["Cache-Control"]
    data = served.content
    assert b"SecretCam" not in data and b"Leaky Editor" not in data and b"private comment" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG" and image.size == (64, 48)
        assert dict(image.getexif()) == {}
    assert Company.objects.get(pk=acme.pk).logo.startswith(f"tenants/{acme.schema_name}/branding/")


def test_a_big_logo_is_bounded_and_keeps_its_transparency(acme):
    company = company_set_branding(company=acme, brand_name="Acme", primary_color="#000000",
                                   support_email="", logo_file=io.BytesIO(png((1600, 800))),
                                   logo_filename="logo.png")

    with default_storage.open(company.logo) as stored, Image.open(stored) as image:
        assert image.format == "PNG" and image.size == (LOGO_MAX_SIDE, LOGO_MAX_SIDE // 2)
        assert image.mode == "RGBA"


@pytest.mark.parametrize(("name", "content", "content_type"), [
    ("logo.png", b"<!doctype html><html><script>alert(document.cookie)</script></html>", "image/png"),
    ("logo.png", b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", "image/svg+xml"),
    ("logo.png", jpeg_with_exif(), "image/png"),  # a JPEG named .png: the name lies
    ("logo.gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
     b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;", "image/gif"),
    ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),  # truncated
])
def test_anything_but_a_real_png_jpeg_or_webp_is_refused(platform_api, acme, name, content, content_type):
    response = patch_branding(platform_api, acme, {}, {"logo": (name, content, content_type)})

    assert response.status_code == 415, response.content
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert Company.objects.get(pk=acme.pk).logo == ""


def test_a_logo_over_the_size_limit_is_413(platform_api, acme):
    response = patch_branding(platform_api, acme, {},
                              {"logo": ("logo.png", png() + b"\x00" * (2 * 1024 * 1024), "image/png")})
    assert response.status_code == 413


def test_the_login_page_and_the_ui_show_the_logo_and_fall_back_to_the_letter(acme):
    company = company_set_branding(company=acme, brand_name="Zeta Care", primary_color="#7c2d12",
                                   support_email="", logo_file=io.BytesIO(png()), logo_filename="z.png")
    login = get(host_of(acme), "/app/login/").content.decode()
    assert 'class="brand-logo"' in login and "/brand/logo?v=" in login and "#7c2d12" in login
    assert 'class="brand-mark"' not in login

    with_logo = company
    company = company_set_branding(company=with_logo, brand_name="Zeta Care", primary_color="#7c2d12",
                                   support_email="", remove_logo=True)
    login = get(host_of(acme), "/app/login/").content.decode()
    assert "brand-logo" not in login and '<div class="brand-mark" aria-hidden="true">Z</div>' in login
    assert get(host_of(acme), "/brand/logo").status_code == 404


def test_a_replaced_logo_s_old_file_is_deleted_after_commit(acme, django_capture_on_commit_callbacks):
    first = company_set_branding(company=acme, brand_name="A", primary_color="#000000", support_email="",
                                 logo_file=io.BytesIO(png()), logo_filename="a.png")
    with django_capture_on_commit_callbacks(execute=True):
        second = company_set_branding(company=first, brand_name="A", primary_color="#000000",
                                      support_email="", logo_file=io.BytesIO(png(color=(1, 2, 3, 255))),
                                      logo_filename="b.png")
    assert second.logo != first.logo
    assert default_storage.exists(second.logo) and not default_storage.exists(first.logo)


def test_a_refused_branding_leaves_no_new_file_behind(acme):
    from conversa.errors import ValidationFailed

    before = set(default_storage.listdir(f"tenants/{acme.schema_name}/branding")[1]) \
        if default_storage.exists(f"tenants/{acme.schema_name}/branding") else set()
    with pytest.raises(ValidationFailed):
        company_set_branding(company=acme, brand_name="A", primary_color="not a colour", support_email="",
                             logo_file=io.BytesIO(png()), logo_filename="a.png")
    after = set(default_storage.listdir(f"tenants/{acme.schema_name}/branding")[1])
    assert after == before


def test_one_company_s_logo_is_never_served_on_another_s_host(acme, bravo):
    company_set_branding(company=acme, brand_name="A", primary_color="#000000", support_email="",
                         logo_file=io.BytesIO(png()), logo_filename="a.png")
    assert get(host_of(acme), "/brand/logo").status_code == 200
    assert get(host_of(bravo), "/brand/logo").status_code == 404
    assert get("localhost", "/brand/logo").status_code == 404


def test_the_suspended_page_shows_the_brand_and_its_logo(acme):
    company = company_set_branding(company=acme, brand_name="Acme Support", primary_color="#b4235a",
                                   support_email="help@acme.test", logo_file=io.BytesIO(png()),
                                   logo_filename="a.png")
    company_suspend(company=company, reason="unpaid")

    page = get(host_of(acme), "/app/login/")

    assert page.status_code == 402
    html = page.content.decode()
    assert "Acme Support" in html and "#b4235a" in html and "help@acme.test" in html
    assert 'class="brand-logo"' in html and "Powered by Conversa" not in html
    # the logo itself stays reachable for that page
    assert get(host_of(acme), "/brand/logo").status_code == 200


def test_without_white_label_the_pages_say_powered_by_conversa(make_company):
    company = make_company(plan="pro")
    company_set_branding(company=company, brand_name="Small Shop", primary_color="#000000",
                         support_email="")
    assert b"Powered by Conversa" in get(host_of(company), "/app/login/").content
    company_suspend(company=company, reason="unpaid")
    suspended = get(host_of(company), "/app/login/")
    assert suspended.status_code == 402 and b"Powered by Conversa" in suspended.content


def test_a_malformed_branding_body_gets_the_error_body(platform_api, acme):
    url = f"/platform/api/v1/companies/{acme.pk}/branding"
    broken = platform_api.client.generic("PATCH", url, b"{not json", content_type="application/json",
                                         headers=platform_api.headers)
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "bad_request"
    listed = platform_api.client.generic("PATCH", url, b"[1, 2]", content_type="application/json",
                                         headers=platform_api.headers)
    assert listed.status_code == 422 and listed.json()["error"]["code"] == "validation_error"


def test_multipart_remove_logo_drops_it(platform_api, acme):
    patch_branding(platform_api, acme, {}, {"logo": ("logo.png", png(), "image/png")})
    assert Company.objects.get(pk=acme.pk).logo

    response = patch_branding(platform_api, acme, {"remove_logo": "true"}, {})

    assert response.status_code == 200 and response.json()["logo_url"] == ""
    assert Company.objects.get(pk=acme.pk).logo == ""
