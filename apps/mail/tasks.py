"""Sending the outbox: one task per email, idempotent, retried with backoff while SMTP fails."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from apps.mail.models import EmailOutbox
from conversa.tasks import tenant_task

logger = logging.getLogger("conversa.mail")


@tenant_task(retries=settings.EMAIL_SEND_RETRIES, retry_delay=settings.EMAIL_RETRY_DELAY_SECONDS,
             retry_backoff=2)
def email_send(schema_name: str, outbox_id: int) -> None:
    """Send one queued email. The row stays locked while the SMTP server answers, so two runs of
    the task (a retry and a late duplicate) never both send it; a sent row is left alone."""
    failure = None
    with transaction.atomic():
        outbox = EmailOutbox.objects.select_for_update().filter(pk=outbox_id).first()
        if outbox is None or outbox.status != EmailOutbox.Status.QUEUED:
            return
        message = EmailMultiAlternatives(
            subject=outbox.subject, body=outbox.body_text, from_email=outbox.from_email,
            to=[outbox.to], reply_to=[outbox.reply_to] if outbox.reply_to else None,
        )
        message.attach_alternative(outbox.body_html, "text/html")
        outbox.attempts += 1
        try:
            message.send()
        except Exception as exc:
            failure = exc
            outbox.last_error = f"{exc.__class__.__name__}: {exc}"[:500]
            if outbox.attempts > settings.EMAIL_SEND_RETRIES:
                outbox.status = EmailOutbox.Status.FAILED
            logger.warning("email %s (outbox %s) failed, attempt %s: %s", outbox.kind, outbox_id,
                           outbox.attempts, outbox.last_error)
        else:
            outbox.status, outbox.sent_at, outbox.last_error = EmailOutbox.Status.SENT, timezone.now(), ""
            if outbox.sensitive:
                outbox.body_text = outbox.body_html = ""
        outbox.save()
    # Raised after the commit, so the attempt is counted; Huey retries until the last one.
    if failure is not None and outbox.status == EmailOutbox.Status.QUEUED:
        raise failure
