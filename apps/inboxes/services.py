"""Writes of the inboxes app: inboxes, their credentials and templates (received webhooks: intake)."""

import secrets

from django.db import connection, transaction
from django.utils.translation import gettext_lazy as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.audit.changes import changes_between, created, snapshot
from apps.audit.services import audit_record
from apps.inboxes.models import Inbox, MessageTemplate, WebhookEvent
from conversa.errors import Conflict, ValidationFailed
from conversa.netguard import UnsafeOutboundURL, check_outbound_url
from tenants.limits import ensure_within_limit, lock_current_company

REQUIRED_CREDENTIALS = {
    Inbox.Provider.WHATSAPP_CLOUD: ("phone_number_id", "business_account_id", "access_token", "app_secret"),
    Inbox.Provider.TWILIO: ("account_sid", "auth_token", "from_number"),
    Inbox.Provider.SANDBOX: (),
}
OPTIONAL_CREDENTIALS = {
    Inbox.Provider.WHATSAPP_CLOUD: ("verify_token", "graph_base_url", "api_version"),
    Inbox.Provider.TWILIO: ("api_base_url",),
    Inbox.Provider.SANDBOX: (),
}
BASE_URL_FIELDS = ("graph_base_url", "api_base_url")
# Credentials an audit entry says changed without showing them.
SECRET_CREDENTIALS = frozenset({"access_token", "app_secret", "auth_token", "verify_token"})
AUDITED_FIELDS = (
    "name", "provider", "rate_limit_per_second", "daily_limit", "reopen_window_hours", "greeting_message",
    "away_message", "is_active", "default_team_id", "auto_close_after_hours", "auto_close_message",
)


def _audited(inbox: Inbox) -> dict:
    """The inbox's settings and its credentials (as `credentials.<name>`) for its audit entries."""
    values = snapshot(inbox, AUDITED_FIELDS)
    values.update({f"credentials.{key}": value for key, value in inbox.credentials.items()})
    return values


def _masked(*values: dict) -> set[str]:
    return {name for row in values for name in row if name.removeprefix("credentials.") in SECRET_CREDENTIALS}


def _check_manage(actor: Actor | None) -> None:
    """Connecting numbers and editing their templates is for admins (None: the system itself)."""
    if actor is not None:
        permissions.check(actor, "inboxes.manage")

def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def clean_credentials(provider: str, credentials: dict) -> dict:
    """Keep the fields the provider needs, check them, and give Meta inboxes a verify token."""
    if provider not in REQUIRED_CREDENTIALS:
        raise _invalid("provider", _("Unknown provider."))
    allowed = REQUIRED_CREDENTIALS[provider] + OPTIONAL_CREDENTIALS[provider]
    unknown = sorted(set(credentials) - set(allowed))
    if unknown:
        raise _invalid(f"credentials.{unknown[0]}", _("Unknown field for this provider."))
    for field in REQUIRED_CREDENTIALS[provider]:
        if not str(credentials.get(field) or "").strip():
            raise _invalid(f"credentials.{field}", _("This field is required."))
    cleaned = {key: str(value).strip() for key, value in credentials.items() if value not in (None, "")}
    for field in BASE_URL_FIELDS:
        if field in cleaned:
            try:
                check_outbound_url(cleaned[field])
            except UnsafeOutboundURL as exc:
                raise _invalid(f"credentials.{field}", exc) from exc
    if provider == Inbox.Provider.WHATSAPP_CLOUD:
        cleaned.setdefault("verify_token", secrets.token_urlsafe(18))
    return cleaned


def _check_settings(fields: dict) -> None:
    """The automation settings the API and the settings page share the rules of."""
    if fields.get("default_team_id") is not None:
        # The team model is named through the relation: teams sits above inboxes.
        teams = Inbox._meta.get_field("default_team").related_model.objects
        if not teams.filter(pk=fields["default_team_id"]).exists():
            raise _invalid("default_team_id", _("No such team."))
    if fields.get("csat_mode") is not None and fields["csat_mode"] not in Inbox.CsatMode.values:
        raise _invalid("csat_mode", _("Use reply or link."))
    if len(fields.get("csat_message") or "") > 1000:
        raise _invalid("csat_message", _("At most 1000 characters."))
    hours = fields.get("auto_close_after_hours")
    if hours is not None and not 1 <= hours <= 24 * 90:
        raise _invalid("auto_close_after_hours", _("Between 1 and 2160 hours, or empty for never."))


def inbox_create(
    *, actor: Actor | None, name: str, provider: str, credentials: dict,
    rate_limit_per_second: int | None = None, **settings,
) -> Inbox:
    """Connect a number within the plan's `max_inboxes` (admins; actor None is the system);
    credentials are stored encrypted."""
    _check_manage(actor)
    _check_settings(settings)
    cleaned = clean_credentials(provider, credentials or {})
    with transaction.atomic():
        company = lock_current_company()
        ensure_within_limit(company, "max_inboxes", used=Inbox.objects.filter(is_active=True).count())
        inbox = Inbox(name=name, provider=provider, **settings)
        if rate_limit_per_second:
            inbox.rate_limit_per_second = rate_limit_per_second
        inbox.set_credentials(cleaned)
        inbox.save()
        after = _audited(inbox)
        audit_record(action="inbox.created", entity_type="inbox", entity_id=inbox.pk, actor=actor,
                     changes=created(after, sorted(after), masked=_masked(after)))
    return inbox


def inbox_update(*, actor: Actor | None, inbox: Inbox, credentials: dict | None = None, **fields) -> Inbox:
    _check_manage(actor)
    allowed = {
        "name",
        "rate_limit_per_second",
        "daily_limit",
        "reopen_window_hours",
        "greeting_message",
        "away_message",
        "is_active",
        "default_team_id",
        "auto_close_after_hours",
        "auto_close_message",
        "csat_enabled",
        "csat_mode",
        "csat_message",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable here: {sorted(unknown)}")
    _check_settings(fields)
    with transaction.atomic():
        inbox = Inbox.objects.select_for_update().get(pk=inbox.pk)
        before = _audited(inbox)
        if fields.get("is_active") and not inbox.is_active:
            company = lock_current_company()
            ensure_within_limit(company, "max_inboxes", used=Inbox.objects.filter(is_active=True).count())
        for field, value in fields.items():
            setattr(inbox, field, value)
        if credentials is not None:
            inbox.set_credentials(clean_credentials(inbox.provider, {**inbox.credentials, **credentials}))
        inbox.save()
        after = _audited(inbox)
        changes = changes_between(before, after, sorted({*before, *after}), masked=_masked(before, after))
        if changes:
            audit_record(action="inbox.updated", entity_type="inbox", entity_id=inbox.pk, actor=actor,
                         changes=changes)
    return inbox


def template_create(
    *,
    actor: Actor | None,
    inbox: Inbox,
    name: str,
    language: str,
    body: str,
    category: str,
    status: str = MessageTemplate.Status.APPROVED,
) -> MessageTemplate:
    _check_manage(actor)
    if MessageTemplate.objects.filter(inbox=inbox, name=name, language=language).exists():
        raise Conflict(details=[{"field": "name", "message": str(_("This template already exists."))}])
    return MessageTemplate.objects.create(
        inbox=inbox, name=name, language=language, body=body, category=category, status=status
    )


def template_delete(*, actor: Actor | None, template: MessageTemplate) -> None:
    _check_manage(actor)
    template.delete()


def webhook_events_forget_phone(*, phone: str) -> int:
    """Erasure: delete the stored provider webhooks (processed or failed) that carry this phone
    number; every provider writes its digits unbroken. Pending ones are left to be applied (a
    customer writing after the erasure is a new contact). Returns how many were deleted."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < 8:  # too short to name one person: it would match unrelated payloads
        return 0
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE status <> %s AND position(%s::bytea IN body) > 0",
            [WebhookEvent.Status.PENDING, digits.encode()],
        )
        return cursor.rowcount
