"""Writes of the mail app: an email is stored in the outbox, then sent after commit by a task."""

from email.utils import formataddr, parseaddr

from django.conf import settings
from django.db import connection, transaction

from apps.mail.branding import company_base_url, current_company
from apps.mail.models import EmailOutbox
from apps.mail.rendering import email_language, render_email
from apps.mail.tasks import email_send


def email_queue(
    *, kind: str, to: str, context: dict, language: str | None = None, base_url: str | None = None,
    sensitive: bool = False, link_path: str = "",
) -> EmailOutbox:
    """Render `kind` for `to` in `language` (else the company's) and queue its sending.

    The row is the durable record: the task is queued after commit and retried with backoff, so
    an email of a rolled-back write is never sent and a failing SMTP server only delays it.
    `sensitive` bodies (links with tokens) are erased once sent. `link_path` becomes the
    template's `url` on `base_url` (the host the request came to), else the primary domain.
    """
    company = current_company()
    language = email_language(language, company)
    base_url = (base_url or company_base_url(company)).rstrip("/")
    if link_path:
        context = {**context, "url": f"{base_url}{link_path}"}
    rendered = render_email(kind, context, company=company, base_url=base_url, language=language)
    sender = formataddr((company.brand_name or company.name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))
    with transaction.atomic():
        outbox = EmailOutbox.objects.create(
            kind=kind, to=to, from_email=sender, reply_to=company.support_email, language=language,
            subject=rendered.subject, body_text=rendered.text, body_html=rendered.html,
            sensitive=sensitive,
        )
        schema_name, outbox_id = connection.schema_name, outbox.pk
        transaction.on_commit(lambda: email_send(schema_name, outbox_id))
    return outbox
