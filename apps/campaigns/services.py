"""Writes of campaigns: build, schedule, start, pause, resume, cancel, duplicate (SPEC §9).

Every write takes the `actor` and checks `campaigns.write` first (None: the system, e.g. the
scheduler starting a campaign on time), locks the campaign row, moves its status only along
`Campaign.TRANSITIONS` (else 409 `invalid_transition`), leaves an audit entry and publishes
`campaign.progress` after commit. Sending itself is the sender's (`apps.campaigns.sender`), which
these services wake (start, resume) or stop (pause, cancel) after commit.
"""

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor, acting_user
from apps.audit.services import audit_record
from apps.campaigns import control
from apps.campaigns.errors import InvalidTransition
from apps.campaigns.events import CAMPAIGN_FINISHED, CAMPAIGN_PROGRESS
from apps.campaigns.models import Campaign
from apps.campaigns.selectors import campaign_stats
from apps.campaigns.validation import (
    clean_audience,
    clean_inbox,
    clean_media,
    clean_message,
    clean_name,
    clean_rate,
    clean_scheduled_at,
    clean_send_window,
    clean_timezone,
    invalid,
)
from apps.notifications.services import notify
from conversa import ratelimit
from conversa.errors import Conflict, ValidationFailed
from conversa.events import publish

UNSET = object()
STATUS_STAMPS = {
    Campaign.Status.RUNNING: "started_at",
    Campaign.Status.PAUSED: "paused_at",
    Campaign.Status.COMPLETED: "completed_at",
    Campaign.Status.CANCELLED: "cancelled_at",
    Campaign.Status.FAILED: "failed_at",
}


def check_campaign_write(*, actor: Actor | None) -> None:
    """Campaigns are written by managers or keys with `campaigns:write` (None: the system)."""
    if actor is not None:
        permissions.check(actor, "campaigns.write")


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update(of=("self",)).select_related("inbox").get(pk=campaign.pk)


def _move(campaign: Campaign, to: str, *, now: dt.datetime) -> str:
    """Set the (locked) campaign's status to `to` or raise 409; returns the status it left."""
    if not campaign.may_become(to):
        raise InvalidTransition(
            _("A %(status)s campaign cannot become %(to)s.") % {"status": campaign.status, "to": to},
            details=[{"field": "status", "message": f"{campaign.status} -> {to}"}],
        )
    previous, campaign.status = campaign.status, to
    stamp = STATUS_STAMPS.get(to)
    if stamp and (to != Campaign.Status.RUNNING or campaign.started_at is None):
        setattr(campaign, stamp, now)
    if to != Campaign.Status.PAUSED:
        campaign.pause_reason = ""
    return previous


def _require(campaign: Campaign, *statuses: str) -> None:
    """409 unless the (locked) campaign is in one of `statuses` (resume is for paused ones only,
    though draft → running is a move too)."""
    if campaign.status not in statuses:
        raise InvalidTransition(
            _("This is for %(statuses)s campaigns; this one is %(status)s.")
            % {"statuses": " / ".join(statuses), "status": campaign.status},
            details=[{"field": "status", "message": campaign.status}],
        )


def _announce(campaign: Campaign, previous: str, action: str, actor: Actor | None) -> None:
    audit_record(action=f"campaign.{action}", entity_type="campaign", entity_id=campaign.pk, actor=actor,
                 changes={"status": [previous, campaign.status]})
    publish(CAMPAIGN_PROGRESS, {"campaign_id": campaign.pk})
    if campaign.status in Campaign.FINAL:
        publish(CAMPAIGN_FINISHED, {"campaign_id": campaign.pk, "status": campaign.status})


def _wake_sender(campaign_id: int, *, delay: float | None = None) -> None:
    from apps.campaigns.tasks import campaign_send

    schema = connection.schema_name
    if delay:
        transaction.on_commit(lambda: campaign_send.schedule(args=(schema, campaign_id), delay=delay))
    else:
        transaction.on_commit(lambda: campaign_send(schema, campaign_id))


def _stop_sender(campaign_id: int) -> None:
    schema = connection.schema_name
    transaction.on_commit(lambda: control.raise_stop(schema, campaign_id))


def _schedule_start(campaign: Campaign) -> None:
    """An eta task at the campaign's time; the minute sweep (`campaigns_sweep`) catches a lost one."""
    from apps.campaigns.tasks import campaign_start_due

    schema, pk, eta = connection.schema_name, campaign.pk, campaign.scheduled_at
    transaction.on_commit(lambda: campaign_start_due.schedule(args=(schema, pk), eta=eta))


def _apply_fields(campaign: Campaign, *, actor, fields: dict) -> None:
    """Validate and set the given fields (creation passes them all)."""
    if "name" in fields:
        campaign.name = clean_name(fields["name"])
    if "inbox_id" in fields:
        campaign.inbox = clean_inbox(fields["inbox_id"])
    if "audience" in fields:
        campaign.audience = clean_audience(fields["audience"])
    if "message" in fields or "inbox_id" in fields:
        message = fields.get("message")
        if message is None:
            message = {"text": campaign.text or None, "template": campaign.template}
        if not isinstance(message, dict):
            raise invalid("message", _("Must be an object."))
        unknown = sorted(set(message) - {"text", "template"})
        if unknown:
            raise invalid(f"message.{unknown[0]}", _("Unknown field."))
        campaign.text, campaign.template = clean_message(
            inbox=campaign.inbox, text=message.get("text"), template=message.get("template"),
        )
    if "media_id" in fields:
        campaign.media = clean_media(actor=actor, media_id=fields["media_id"])
    if campaign.template and campaign.media_id:
        raise invalid("media_id", _("A template goes alone."))
    if "timezone" in fields:
        campaign.timezone = clean_timezone(fields["timezone"])
    if "scheduled_at" in fields:
        value = fields["scheduled_at"]
        campaign.scheduled_at = None if value is None else clean_scheduled_at(value, zone=campaign.timezone)
    if "send_window" in fields:
        campaign.send_window = clean_send_window(fields["send_window"])
    if "rate_per_second" in fields:
        campaign.rate_per_second = clean_rate(fields["rate_per_second"])


def campaign_create(
    *, actor: Actor | None, name: str, inbox_id: int, audience: dict, message: dict,
    media_id: int | None = None, scheduled_at=None, timezone: str | None = None,
    send_window: dict | None = None, rate_per_second: int | None = None,
) -> Campaign:
    """A new draft; 422 naming the first bad field, and nothing stored."""
    check_campaign_write(actor=actor)
    campaign = Campaign(created_by=acting_user(actor))
    fields = {
        "name": name, "inbox_id": inbox_id, "audience": audience, "message": message,
        "media_id": media_id, "timezone": timezone, "scheduled_at": scheduled_at,
        "send_window": send_window, "rate_per_second": rate_per_second,
    }
    # The time zone first: a naive scheduled_at is read in it.
    _apply_fields(campaign, actor=actor, fields={"timezone": timezone})
    fields.pop("timezone")
    _apply_fields(campaign, actor=actor, fields=fields)
    with transaction.atomic():
        campaign.save()
        _announce(campaign, "", "create", actor)
    return campaign


def campaign_update(*, actor: Actor | None, campaign: Campaign, **fields) -> Campaign:
    """Change a draft or scheduled campaign (fields left out stay); 409 once it has started.

    A scheduled campaign whose time moves is scheduled again at the new time."""
    check_campaign_write(actor=actor)
    allowed = {"name", "inbox_id", "audience", "message", "media_id", "scheduled_at", "timezone",
               "send_window", "rate_per_second"}
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise invalid(unknown[0], _("Unknown field."))
    with transaction.atomic():
        locked = _locked(campaign)
        if locked.status not in Campaign.EDITABLE:
            raise InvalidTransition(_("Only draft or scheduled campaigns can be changed."))
        before_at = locked.scheduled_at
        if "timezone" in fields:
            _apply_fields(locked, actor=actor, fields={"timezone": fields.pop("timezone")})
        _apply_fields(locked, actor=actor, fields=fields)
        if locked.status == Campaign.Status.SCHEDULED:
            if locked.scheduled_at is None:
                raise invalid("scheduled_at", _("A scheduled campaign needs a time."))
            if locked.scheduled_at != before_at:
                _schedule_start(locked)
        locked.save()
        audit_record(action="campaign.update", entity_type="campaign", entity_id=locked.pk, actor=actor,
                     changes={"fields": sorted(fields)})
        publish(CAMPAIGN_PROGRESS, {"campaign_id": locked.pk})
    return locked


def campaign_delete(*, actor: Actor | None, campaign: Campaign) -> None:
    """Delete a draft (anything else is kept for its report: cancel it instead, 409)."""
    check_campaign_write(actor=actor)
    with transaction.atomic():
        locked = _locked(campaign)
        if locked.status != Campaign.Status.DRAFT:
            raise InvalidTransition(_("Only drafts can be deleted; cancel the campaign instead."))
        audit_record(action="campaign.delete", entity_type="campaign", entity_id=locked.pk, actor=actor,
                     changes={"name": [locked.name, None]})
        locked.delete()


def _check_ready(campaign: Campaign, actor: Actor | None) -> None:
    """What may have changed since the draft was saved: the audience still has members, the
    template is still approved, the file still clean, the inbox still active."""
    clean_inbox(campaign.inbox_id)
    clean_audience(campaign.audience)
    clean_message(inbox=campaign.inbox, text=campaign.text or None, template=campaign.template)
    if campaign.media_id:
        clean_media(actor=None, media_id=campaign.media_id)


def campaign_schedule(
    *, actor: Actor | None, campaign: Campaign, scheduled_at=UNSET, timezone_name: str | None = None,
) -> Campaign:
    """draft → scheduled at `scheduled_at` (or the time already set), read in the time zone given
    or the campaign's; 422 if past or more than a year ahead. It starts by itself then."""
    check_campaign_write(actor=actor)
    with transaction.atomic():
        locked = _locked(campaign)
        if timezone_name is not None:
            locked.timezone = clean_timezone(timezone_name)
        value = locked.scheduled_at if scheduled_at is UNSET else scheduled_at
        if value is None:
            raise invalid("scheduled_at", _("This field is required."))
        locked.scheduled_at = clean_scheduled_at(value, zone=locked.timezone)
        previous = _move(locked, Campaign.Status.SCHEDULED, now=timezone.now())
        _check_ready(locked, actor)
        locked.save()
        _schedule_start(locked)
        _announce(locked, previous, "schedule", actor)
    return locked


def campaign_start(*, actor: Actor | None, campaign: Campaign) -> Campaign:
    """draft or scheduled → running, now. The sender materialises the recipients (once) and sends."""
    check_campaign_write(actor=actor)
    with transaction.atomic():
        locked = _locked(campaign)
        _require(locked, Campaign.Status.DRAFT, Campaign.Status.SCHEDULED)
        previous = _move(locked, Campaign.Status.RUNNING, now=timezone.now())
        _check_ready(locked, actor)
        locked.save()
        control.clear_stop(connection.schema_name, locked.pk)
        _wake_sender(locked.pk)
        _announce(locked, previous, "start", actor)
    return locked


def campaign_pause(*, actor: Actor | None, campaign: Campaign,
                   reason: str = Campaign.PauseReason.MANUAL) -> Campaign:
    """running → paused; the sender stops within a second (before its next send)."""
    check_campaign_write(actor=actor)
    with transaction.atomic():
        locked = _locked(campaign)
        previous = _move(locked, Campaign.Status.PAUSED, now=timezone.now())
        locked.pause_reason = reason
        locked.save()
        _stop_sender(locked.pk)
        _announce(locked, previous, "pause", actor)
    return locked


def campaign_resume(*, actor: Actor | None, campaign: Campaign) -> Campaign:
    """paused → running; sending continues with the recipients not sent yet."""
    check_campaign_write(actor=actor)
    with transaction.atomic():
        locked = _locked(campaign)
        _require(locked, Campaign.Status.PAUSED)
        previous = _move(locked, Campaign.Status.RUNNING, now=timezone.now())
        locked.paused_at = None
        locked.save()
        control.clear_stop(connection.schema_name, locked.pk)
        _wake_sender(locked.pk)
        _announce(locked, previous, "resume", actor)
    return locked


def campaign_cancel(*, actor: Actor | None, campaign: Campaign) -> Campaign:
    """draft, scheduled, running or paused → cancelled, for good: nothing more is sent."""
    check_campaign_write(actor=actor)
    with transaction.atomic():
        locked = _locked(campaign)
        previous = _move(locked, Campaign.Status.CANCELLED, now=timezone.now())
        locked.save()
        _stop_sender(locked.pk)
        _announce(locked, previous, "cancel", actor)
    return locked


def campaign_duplicate(*, actor: Actor | None, campaign: Campaign) -> Campaign:
    """A new draft with the same audience, message, media, window and rate (no schedule)."""
    check_campaign_write(actor=actor)
    copy = Campaign(
        name=(_("%(name)s (copy)") % {"name": campaign.name})[:200],
        inbox_id=campaign.inbox_id, audience=dict(campaign.audience), text=campaign.text,
        template=dict(campaign.template) if campaign.template else None, media_id=campaign.media_id,
        timezone=campaign.timezone, send_window=dict(campaign.send_window),
        rate_per_second=campaign.rate_per_second, created_by=acting_user(actor),
    )
    with transaction.atomic():
        copy.save()
        audit_record(action="campaign.duplicate", entity_type="campaign", entity_id=copy.pk, actor=actor,
                     changes={"from": [campaign.pk, copy.pk]})
        publish(CAMPAIGN_PROGRESS, {"campaign_id": copy.pk})
    return copy


# --- the system's moves (the sender and the scheduler) ------------------------------------------

def campaign_finish(*, campaign_id: int, status: str = Campaign.Status.COMPLETED, reason: str = "") -> bool:
    """running → completed (every recipient final) or → failed with `reason`, and its creator is
    told; False if it had already moved (paused, cancelled meanwhile)."""
    with transaction.atomic():
        locked = Campaign.objects.select_for_update(of=("self",)).select_related("created_by").filter(
            pk=campaign_id).first()
        if locked is None or locked.status != Campaign.Status.RUNNING or not locked.may_become(status):
            return False
        previous = _move(locked, status, now=timezone.now())
        locked.failure_reason = reason[:500]
        locked.save()
        _announce(locked, previous, "fail" if status == Campaign.Status.FAILED else "complete", None)
        if locked.created_by is not None and locked.created_by.is_active:
            stats = campaign_stats(locked.pk)
            # In the creator's language, not the worker's.
            with translation.override(locked.created_by.language or None):
                title = (_("Campaign “%(name)s” finished") if status == Campaign.Status.COMPLETED
                         else _("Campaign “%(name)s” failed")) % {"name": locked.name}
                body = _("%(sent)d sent, %(failed)d failed, %(skipped)d skipped.") % stats
            notify(users=[locked.created_by], kind="campaign_finished", title=title, body=body,
                   data={"campaign_id": locked.pk, "status": status})
    return True


def campaign_start_if_due(*, campaign_id: int, now: dt.datetime | None = None) -> bool:
    """Start a scheduled campaign whose time has come; one that can no longer start (its
    audience emptied, its template withdrawn) fails with the reason."""
    now = now or timezone.now()
    campaign = Campaign.objects.filter(
        pk=campaign_id, status=Campaign.Status.SCHEDULED, scheduled_at__lte=now,
    ).first()
    if campaign is None:
        return False
    try:
        campaign_start(actor=None, campaign=campaign)
    except Conflict:
        return False  # moved meanwhile (cancelled, started by hand)
    except ValidationFailed as exc:  # it cannot be sent as it is
        detail = (exc.details or [{}])[0]
        reason = f"{detail.get('field', '')}: {detail.get('message', exc.message)}"
        campaign_fail_scheduled(campaign_id=campaign_id, reason=reason[:500])
        return False
    return True


def campaign_fail_scheduled(*, campaign_id: int, reason: str) -> None:
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().filter(
            pk=campaign_id, status=Campaign.Status.SCHEDULED).first()
        if locked is None:
            return
        previous = _move(locked, Campaign.Status.FAILED, now=timezone.now())
        locked.failure_reason = reason
        locked.save()
        _announce(locked, previous, "fail", None)


REPORT_EXPORTS_PER_MINUTE = 5


def campaign_report_export(*, actor: Actor, campaign: Campaign, request=None) -> None:
    """Allow and record one download of a campaign's report, which carries its recipients' names
    and phones: 5 a minute per user or key (SPEC §13 exports, else 429), audited as
    `campaign.report_exported`."""
    permissions.check(actor, "campaigns.read")
    ratelimit.hit(
        f"{connection.schema_name}:campaign-report:{actor.__class__.__name__}:{actor.pk}",
        limit=REPORT_EXPORTS_PER_MINUTE, window=60,
    )
    audit_record(action="campaign.report_exported", entity_type="campaign", entity_id=campaign.pk,
                 actor=actor, request=request)
