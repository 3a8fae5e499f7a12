"""Writes of outbound webhooks: endpoints (audited, secrets shown once), test sends, redelivery."""

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.audit.services import audit_record
from apps.webhooks.delivery import delivery_attempt_now, endpoint_wake_on_commit
from apps.webhooks.in_use import forget_after_commit, mark_in_use
from apps.webhooks.listeners import delivery_for
from apps.webhooks.models import Delivery, Endpoint
from apps.webhooks.payloads import EVENTS, READ_RULES, WEBHOOK_TEST
from apps.webhooks.selectors import check_manage
from apps.webhooks.signing import secret_generate
from conversa.crypto import encrypt_text
from conversa.errors import Conflict, ValidationFailed
from conversa.netguard import UnresolvableHost, UnsafeOutboundURL, check_outbound_url

SECRET_MIN, SECRET_MAX = 16, 200


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def clean_url(url) -> str:
    if not isinstance(url, str) or not url.strip():
        raise _invalid("url", _("Enter the URL that receives the events."))
    url = url.strip()
    if len(url) > 500:
        raise _invalid("url", _("At most 500 characters."))
    try:
        check_outbound_url(url)
    except UnresolvableHost:
        raise _invalid("url", _("This host name does not resolve.")) from None
    except UnsafeOutboundURL:
        raise _invalid("url", _("Use a public http(s) address: private, loopback and link-local "
                                "addresses are refused.")) from None
    return url


def clean_events(events, *, actor) -> list[str]:
    """The events in their usual order; 422 for unknown ones, 403 for those carrying data the actor
    may not read itself (a key needs the matching read scope)."""
    if not isinstance(events, list | tuple) or not events:
        raise _invalid("events", _("Choose at least one event."))
    unknown = [str(name) for name in events if name not in EVENTS]
    if unknown:
        raise _invalid("events", _("Unknown events: %(names)s.") % {"names": ", ".join(unknown)})
    for name in events:
        permissions.check(actor, READ_RULES[name])
    return [name for name in EVENTS if name in events]


def clean_secret(secret) -> str:
    if secret is None or secret == "":
        return secret_generate()
    if not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise _invalid("secret", _("Between %(min)d and %(max)d characters.")
                       % {"min": SECRET_MIN, "max": SECRET_MAX})
    return secret


def endpoint_create(*, actor, url, events, secret: str | None = None, description: str = "",
                    request=None) -> tuple[Endpoint, str]:
    """A new active endpoint and its secret (shown once: only its encrypted form is kept). Audited."""
    check_manage(actor)
    url, events, secret = clean_url(url), clean_events(events, actor=actor), clean_secret(secret)
    with transaction.atomic():
        mark_in_use()
        endpoint = Endpoint.objects.create(
            url=url, events=events, secret_encrypted=encrypt_text(secret),
            description=(description or "")[:200], created_by=permissions.acting_user(actor),
        )
        audit_record(action="webhook.created", entity_type="webhook", entity_id=endpoint.pk,
                     actor=actor, request=request,
                     changes={"url": [None, url], "events": [None, events]})
    return endpoint, secret


def endpoint_update(*, actor, endpoint: Endpoint, url=None, events=None, active=None,
                    description=None, rotate_secret: bool = False, secret: str | None = None,
                    request=None) -> tuple[Endpoint, str | None]:
    """Change what was given; the new secret when it was rotated (else None). Enabling an endpoint
    starts its failure count afresh and sends what waited for it. Audited."""
    check_manage(actor)
    cleaned = {}
    if url is not None:
        cleaned["url"] = clean_url(url)
    if events is not None:
        cleaned["events"] = clean_events(events, actor=actor)
    if description is not None:
        cleaned["description"] = str(description)[:200]
    new_secret = clean_secret(secret) if (rotate_secret or secret) else None
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        changes = {field: [getattr(locked, field), value] for field, value in cleaned.items()
                   if getattr(locked, field) != value}
        for field, value in cleaned.items():
            setattr(locked, field, value)
        if active is not None and bool(active) != locked.active:
            changes["active"] = [locked.active, bool(active)]
            locked.active = bool(active)
            if locked.active:
                locked.consecutive_failures, locked.retry_at = 0, None
                locked.disabled_at, locked.disabled_reason = None, ""
                endpoint_wake_on_commit(locked.pk)
            else:
                locked.disabled_at, locked.disabled_reason = timezone.now(), "disabled by hand"
        if new_secret:
            locked.secret_encrypted = encrypt_text(new_secret)
            audit_record(action="webhook.secret_rotated", entity_type="webhook", entity_id=locked.pk,
                         actor=actor, request=request)
        locked.save()
        if changes:
            audit_record(action="webhook.updated", entity_type="webhook", entity_id=locked.pk,
                         actor=actor, request=request, changes=changes)
    return locked, new_secret


def endpoint_delete(*, actor, endpoint: Endpoint, request=None) -> None:
    """Delete the endpoint and its delivery log. Audited."""
    check_manage(actor)
    with transaction.atomic():
        audit_record(action="webhook.deleted", entity_type="webhook", entity_id=endpoint.pk,
                     actor=actor, request=request, changes={"url": [endpoint.url, None]})
        endpoint.delete()
        forget_after_commit()


def endpoint_test(*, actor, endpoint: Endpoint) -> Delivery:
    """Send a `webhook.test` event to the endpoint now (even a disabled one: checking a fix comes
    before enabling it) and return the delivery with the receiver's answer."""
    check_manage(actor)
    now = timezone.now()
    delivery = delivery_for(endpoint, WEBHOOK_TEST, {
        "webhook_id": endpoint.pk, "company": connection.schema_name,
        "message": "This is a test event from Conversa.",
    }, now)
    delivery.next_attempt_at = None  # never in the queue: the drains must not take it
    delivery.save()
    return delivery_attempt_now(delivery=delivery)


def delivery_redeliver(*, actor, delivery: Delivery) -> Delivery:
    """Queue a finished delivery again, at once, with a fresh round of attempts (the same body and
    id, so a receiver that saw it already can tell)."""
    check_manage(actor)
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status not in (Delivery.Status.FAILED, Delivery.Status.SUCCEEDED):
            raise Conflict(_("This delivery is still being attempted."))
        locked.status, locked.attempts = Delivery.Status.PENDING, 0
        locked.next_attempt_at, locked.error = timezone.now(), ""
        locked.save(update_fields=["status", "attempts", "next_attempt_at", "error"])
        # Asked by a person: now, not when the endpoint's pause after a failure would end.
        Endpoint.objects.filter(pk=locked.endpoint_id).update(retry_at=None)
        endpoint_wake_on_commit(locked.endpoint_id)
    return locked
