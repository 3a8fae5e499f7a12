"""A company's branding: brand name, primary colour, support email and logo (white label, SPEC §2).

The logo is sniffed from its content (PNG, JPEG or WebP only), re-encoded without metadata and
bounded to `LOGO_MAX_SIDE`, stored under the company's prefix of the default storage and served by
`/brand/logo` on the company's hosts (tenants.views).
"""

import hashlib
import io
import logging
import posixpath
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from PIL import Image

from conversa.errors import full_clean
from conversa.files import images
from conversa.files.sniffing import FileTooLarge, UnsupportedMediaType, sniff_file
from conversa.request_meta import RequestMeta
from tenants.audit import platform_audit_record
from tenants.models import Company

logger = logging.getLogger("conversa.branding")

LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_SIDE = 512
# A logo has no business with photo-sized pixel counts; refused before anything is decoded.
LOGO_MAX_PIXELS = 16_000_000
LOGO_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
LOGO_MIME_BY_EXTENSION = {ext: mime for mime, ext in LOGO_TYPES.items()}


def process_logo(fileobj, *, filename: str, declared_type: str | None = None) -> tuple[bytes, str]:
    """The logo's bytes as stored, and its MIME type. 413 over LOGO_MAX_BYTES, 415 for anything
    but a decodable PNG, JPEG or WebP (whatever its name says), 422 for too many pixels."""
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    if size > LOGO_MAX_BYTES:
        raise FileTooLarge(
            _("A logo can be at most %(size)s MB.") % {"size": LOGO_MAX_BYTES // (1024 * 1024)},
            details={"limit": LOGO_MAX_BYTES, "size": size},
        )
    sniffed = sniff_file(fileobj, filename=filename or "logo", declared_type=declared_type)
    if sniffed.mime not in LOGO_TYPES:
        raise UnsupportedMediaType(
            _("A logo must be a PNG, JPEG or WebP image."), details={"detected": sniffed.mime},
        )
    width, height = images.check_image_header(fileobj, mime=sniffed.mime)
    if width * height > LOGO_MAX_PIXELS:
        raise images.ImageTooLarge(details={"max_pixels": LOGO_MAX_PIXELS})
    # Orientation applied, EXIF/XMP/comments dropped, CMYK to RGB, bombs refused.
    processed = images.process_image(fileobj, mime=sniffed.mime)
    return _bounded(processed.data, sniffed.mime), sniffed.mime


def _bounded(data: bytes, mime: str) -> bytes:
    """The first frame only, at most LOGO_MAX_SIDE on each side, saved again without metadata."""
    fmt = images.FORMATS[mime]
    with Image.open(io.BytesIO(data), formats=[fmt]) as source:
        source.seek(0)
        alpha = fmt != "JPEG" and (source.mode in ("RGBA", "LA", "PA") or "transparency" in source.info)
        image = source.convert("RGBA" if alpha else "RGB")
    image.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE), Image.Resampling.LANCZOS)
    image.info = {}
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=90, optimize=True)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=90, method=4)
    else:
        image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def logo_storage_name(company: Company, mime: str) -> str:
    return f"tenants/{company.schema_name}/branding/logo-{uuid.uuid4().hex}{LOGO_TYPES[mime]}"


def logo_mime(storage_name: str) -> str:
    return LOGO_MIME_BY_EXTENSION.get(posixpath.splitext(storage_name)[1], "application/octet-stream")


def logo_version(company: Company) -> str:
    """Changes with every new logo (the name is random): a cache-busting query parameter."""
    return hashlib.sha256(company.logo.encode()).hexdigest()[:12] if company.logo else ""


def logo_path(company: Company) -> str:
    """The logo's path on any of the company's hosts, or "" without a logo."""
    return f"/brand/logo?v={logo_version(company)}" if company.logo else ""


def company_set_branding(
    *, company: Company, brand_name: str, primary_color: str, support_email: str,
    logo_file=None, logo_filename: str = "", logo_content_type: str | None = None,
    remove_logo: bool = False, actor=None, meta: RequestMeta | None = None,
) -> Company:
    """Set the branding; with `logo_file` a new logo replaces the old one, `remove_logo` drops it.

    The logo is checked and stored before the transaction; the old file is deleted after commit,
    the new one at once if the transaction fails. Audited as `company.branding_changed`.
    """
    new_logo = ""
    if logo_file is not None:
        data, mime = process_logo(
            logo_file, filename=logo_filename or getattr(logo_file, "name", "") or "logo",
            declared_type=logo_content_type or getattr(logo_file, "content_type", None),
        )
        new_logo = default_storage.save(logo_storage_name(company, mime), ContentFile(data))
    try:
        with transaction.atomic():
            company = Company.objects.select_for_update().select_related("plan").get(pk=company.pk)
            old_logo = company.logo
            before = (company.brand_name, company.primary_color, company.support_email)
            company.brand_name = (brand_name or "").strip()
            company.primary_color = (primary_color or "").strip()
            company.support_email = (support_email or "").strip()
            if new_logo:
                company.logo = new_logo
            elif remove_logo:
                company.logo = ""
            full_clean(company)
            company.save()
            after = (company.brand_name, company.primary_color, company.support_email)
            platform_audit_record(
                action="company.branding_changed", actor=actor, meta=meta, company=company,
                details={
                    "changes": [name for name, old, new in zip(
                        ("brand_name", "primary_color", "support_email"), before, after, strict=True,
                    ) if old != new],
                    "logo": "replaced" if new_logo else "removed" if old_logo and not company.logo
                    else "kept",
                },
            )
            if old_logo and old_logo != company.logo:
                transaction.on_commit(lambda: _delete(old_logo))
    except BaseException:
        if new_logo:
            _delete(new_logo)
        raise
    return company


def _delete(name: str) -> None:
    try:
        if default_storage.exists(name):
            default_storage.delete(name)
    except OSError:
        logger.exception("could not delete the old logo %s", name)
