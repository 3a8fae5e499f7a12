"""Writes of the media app: accepting a file into quarantine, and settling it after the scan."""

import datetime as dt
import hashlib
import io
import logging

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.audit.services import audit_record
from apps.media import storage
from apps.media.events import MEDIA_SCANNED
from apps.media.models import MediaFile
from apps.notifications.services import notify_admins
from conversa.db import atomic_retrying
from conversa.errors import DomainError
from conversa.events import publish
from conversa.files.images import ImageRejected, check_image_header, process_image
from conversa.files.sniffing import check_size, safe_filename, sniff_file
from tenants.limits import PlanLimitReached, lock_current_company
from tenants.usage import usage_increment

logger = logging.getLogger("conversa.media")

MIB = 1024 * 1024
LIVE_STATUSES = (MediaFile.Status.SCANNING, MediaFile.Status.CLEAN)


def storage_used_bytes() -> int:
    return MediaFile.objects.filter(status__in=LIVE_STATUSES).aggregate(total=Sum("size"))["total"] or 0


def _sha256(fileobj) -> str:
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1024 * 1024), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def _quarantine(*, fileobj, size: int, sniffed, filename: str, source: str, uploaded_by=None,
                check=None) -> MediaFile:
    """Store the bytes under the company's prefix and the file as `scanning` (counted in the month's
    storage), and queue the scan after commit, all in one transaction that first calls `check()`.

    A transaction PostgreSQL aborts to break a deadlock is done again (the bytes are stored once);
    when it fails for good, or `check()` refuses, no bytes are kept.
    """
    media = MediaFile(
        kind=sniffed.kind,
        mime_type=sniffed.mime,
        size=size,
        filename=safe_filename(filename),
        sha256=_sha256(fileobj),
        source=source,
        uploaded_by=uploaded_by,
    )

    def admit() -> MediaFile:
        if check is not None:
            check()
        if not media.storage_name:
            # Stored once: a temporary upload is moved into the storage, not copied.
            media.storage_name = storage.save(storage.storage_name(media.key), fileobj)
        media.pk, media._state.adding = None, True  # an attempt after an aborted one inserts afresh
        media.save()
        usage_increment(schema_name=connection.schema_name, counter="storage_bytes", amount=size)
        schema = connection.schema_name
        transaction.on_commit(lambda: committed.append(True))
        transaction.on_commit(lambda: enqueue_scan(schema, media.pk))
        return media

    committed: list[bool] = []
    try:
        return atomic_retrying(admit)
    except BaseException:
        if not committed:  # an error after the commit (queueing the scan) leaves a kept file alone
            storage.delete(media.storage_name)
        raise


def enqueue_scan(schema_name: str, media_id: int, delay: float | None = None) -> None:
    from apps.media.tasks import media_scan

    if delay:
        media_scan.schedule(args=(schema_name, media_id), delay=delay)
    else:
        media_scan(schema_name, media_id)


def check_media_upload(*, actor: Actor) -> None:
    """Uploading is sending's first step: whoever may write to conversations (403 otherwise)."""
    permissions.check(actor, "media.upload")


def media_upload(
    *, actor: Actor, fileobj, size: int, filename: str, declared_type: str | None
) -> MediaFile:
    """Accept an upload into quarantine: sniffed (415), within its kind's size (413) and the plan's
    storage quota (403). Nothing is stored when any check fails. The file is the uploader's alone
    until a message carries it (API keys' uploads belong to the company's keys)."""
    check_media_upload(actor=actor)
    sniffed = sniff_file(fileobj, filename=filename, declared_type=declared_type)
    check_size(sniffed.kind, size)
    if sniffed.kind == MediaFile.Kind.IMAGE:
        check_image_header(fileobj, mime=sniffed.mime)

    def within_quota() -> None:
        company = lock_current_company()
        limit_mb = company.plan.max_storage_mb
        if limit_mb is not None:
            used = storage_used_bytes()
            if used + size > limit_mb * MIB:
                raise PlanLimitReached(
                    _("This file would exceed your plan's storage (%(limit)s MB).") % {"limit": limit_mb},
                    details={"limit": limit_mb * MIB, "used": used, "resource": "max_storage_mb"},
                )

    return _quarantine(
        fileobj=fileobj,
        size=size,
        sniffed=sniffed,
        filename=filename,
        source=MediaFile.Source.UPLOAD,
        uploaded_by=permissions.acting_user(actor),
        check=within_quota,
    )


def media_receive_inbound(*, data: bytes, declared_type: str, filename: str) -> MediaFile:
    """Quarantine a file a customer sent. Never refused for quota (customers' messages are never lost);
    a type we do not accept is kept as a `rejected` record without bytes."""
    fileobj = io.BytesIO(data)
    try:
        sniffed = sniff_file(fileobj, filename=filename or "file", declared_type=None)
        check_size(sniffed.kind, len(data))
    except DomainError as exc:
        kind = (declared_type or "application/octet-stream").split("/", 1)[0]
        return MediaFile.objects.create(
            kind=kind if kind in MediaFile.Kind.values else MediaFile.Kind.DOCUMENT,
            mime_type=declared_type[:100],
            size=len(data),
            filename=safe_filename(filename or "file"),
            sha256=hashlib.sha256(data).hexdigest(),
            source=MediaFile.Source.INBOUND,
            status=MediaFile.Status.REJECTED,
            reject_reason=exc.message[:300],
        )
    return _quarantine(
        fileobj=fileobj,
        size=len(data),
        sniffed=sniffed,
        filename=filename or "file",
        source=MediaFile.Source.INBOUND,
    )


# --- after the scan -----------------------------------------------------------------------------------

SCAN_LEASE = dt.timedelta(minutes=2)


def scan_backoff(attempt: int) -> float:
    """While clamd is unreachable: 2, 4, 8 … seconds, at most a minute apart."""
    return min(2.0**attempt, 60.0)


def claim_for_scan(media_id: int) -> MediaFile | None:
    """Take the file for one scan; None if it is settled or another worker holds it."""
    now = timezone.now()
    claimed = (
        MediaFile.objects.filter(pk=media_id, status=MediaFile.Status.SCANNING)
        .exclude(next_scan_at__gt=now)
        .update(next_scan_at=now + SCAN_LEASE)
    )
    return MediaFile.objects.get(pk=media_id) if claimed else None


def scan_postponed(*, media: MediaFile, reason: str) -> float:
    """clamd could not be asked: the file stays in quarantine and is tried again later."""
    media.scan_attempts += 1
    delay = scan_backoff(media.scan_attempts)
    media.next_scan_at = timezone.now() + dt.timedelta(seconds=delay)
    media.save(update_fields=["scan_attempts", "next_scan_at"])
    logger.warning("media %s not scanned (%s); retry in %.0f s", media.pk, reason, delay)
    return delay


def _settle(media: MediaFile, **fields) -> MediaFile:
    for field, value in fields.items():
        setattr(media, field, value)
    media.scanned_at = timezone.now()
    media.next_scan_at = None
    media.save()
    publish(MEDIA_SCANNED, {"media_id": media.pk})
    return media


def media_mark_infected(*, media: MediaFile, signature: str) -> MediaFile:
    """Delete the bytes, keep the record and the signature name; audit and notify."""
    storage.delete(media.storage_name)
    with transaction.atomic():
        media = _settle(media, status=MediaFile.Status.INFECTED, signature=signature[:200], storage_name="")
        audit_record(
            action="media.infected",
            entity_type="media",
            entity_id=media.pk,
            actor=media.uploaded_by,
            changes={"signature": media.signature, "sha256": media.sha256},
        )
        notify_admins(
            kind="file_infected",
            title=str(_("An infected file was removed")),
            body=f"{media.filename}: {media.signature}",
            data={"media_id": media.pk},
            also=[media.uploaded_by],
        )
    return media


def media_mark_rejected(*, media: MediaFile, reason: str) -> MediaFile:
    storage.delete(media.storage_name)
    storage.delete(media.thumbnail_name)
    with transaction.atomic():
        media = _settle(
            media,
            status=MediaFile.Status.REJECTED,
            reject_reason=reason[:300],
            storage_name="",
            thumbnail_name="",
        )
    return media


def media_mark_clean(*, media: MediaFile) -> MediaFile:
    """Clean: images are re-encoded (EXIF gone, orientation applied, big ones compressed) and get a
    thumbnail. `media.scanned` then tells whoever waits for the file (conversations sends its messages)."""
    if media.kind == MediaFile.Kind.IMAGE:
        try:
            with storage.open_file(media.storage_name) as original:
                image = process_image(original, mime=media.mime_type)
        except ImageRejected as exc:
            return media_mark_rejected(media=media, reason=exc.message)
        old_name = media.storage_name
        media.storage_name = storage.save(storage.storage_name(media.key, "image"), image.data)
        media.thumbnail_name = storage.save(storage.storage_name(media.key, "thumbnail"), image.thumbnail)
        storage.delete(old_name)
        media.mime_type, media.size = image.mime, len(image.data)
        media.width, media.height = image.width, image.height
        media.thumbnail_mime = image.thumbnail_mime
    with transaction.atomic():
        media = _settle(media, status=MediaFile.Status.CLEAN)
    return media


# Why an erased file is refused: a reason, not a status, so every door that refuses rejected files
# (sending, downloading, previews) refuses it too.
ERASED_REASON = "Removed with the personal data of its contact (erasure)."


def media_erase(*, media_ids) -> int:
    """GDPR erasure of files: their bytes and thumbnails are deleted from storage once the caller's
    transaction commits, their rows stay (messages point at them) as `rejected` with
    ERASED_REASON, without the filename or checksum. Idempotent. Returns how many rows changed."""
    files = list(MediaFile.objects.select_for_update().filter(pk__in=list(media_ids)).exclude(
        status=MediaFile.Status.REJECTED, reject_reason=ERASED_REASON,
    ).only("pk", "storage_name", "thumbnail_name"))
    names = [name for media in files for name in (media.storage_name, media.thumbnail_name) if name]
    MediaFile.objects.filter(pk__in=[media.pk for media in files]).update(
        status=MediaFile.Status.REJECTED, reject_reason=ERASED_REASON, storage_name="", thumbnail_name="",
        filename="", sha256="", signature="", next_scan_at=None,
    )

    def delete_bytes():
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_bytes)
    return len(files)
