"""Scanning quarantined files with clamd, and sweeping up scans that never ran."""

import logging

from django.db import connection
from django.utils import timezone

from apps.media import services, storage
from apps.media.models import MediaFile
from apps.media.scanner import ScannerUnavailable, ScanRefused, scan_stream
from conversa.periodic import every_minute
from conversa.tasks import tenant_task

logger = logging.getLogger("conversa.media")


def scan(media_id: int) -> str:
    media = services.claim_for_scan(media_id)
    if media is None:
        return "skipped"
    try:
        with storage.open_file(media.storage_name) as stream:
            result = scan_stream(stream)
    except ScannerUnavailable as exc:
        delay = services.scan_postponed(media=media, reason=str(exc) or exc.__class__.__name__)
        services.enqueue_scan(connection.schema_name, media.pk, delay=delay)
        return "postponed"
    except ScanRefused as exc:
        services.media_mark_rejected(media=media, reason=f"not scannable: {exc}")
        return "rejected"
    if result.infected:
        services.media_mark_infected(media=media, signature=result.signature)
        return "infected"
    media = services.media_mark_clean(media=media)
    return media.status


@tenant_task()
def media_scan(schema_name: str, media_id: int) -> str:
    # No Huey retries: an unreachable clamd reschedules the scan itself, for as long as it takes.
    return scan(media_id)


@every_minute
@tenant_task()
def media_scans_sweep(schema_name: str) -> int:
    """Queue again the files still in quarantine whose scan is due (a lost task, a restart)."""
    due = list(
        MediaFile.objects.filter(status=MediaFile.Status.SCANNING)
        .exclude(next_scan_at__gt=timezone.now())
        .values_list("pk", flat=True)[:500]
    )
    for media_id in due:
        media_scan(schema_name, media_id)
    return len(due)
