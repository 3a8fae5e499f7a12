"""Checks of what a campaign is made of: audience, message, media, schedule, window and rate.

Each function returns the value as stored or raises a 422 naming the field (SPEC §13), before
anything is written.
"""

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from apps.accounts import permissions
from apps.accounts.models import ApiKey
from apps.accounts.permissions import Actor
from apps.campaigns.variables import check_variables
from apps.contacts.audiences import audience_contacts
from apps.contacts.models import ContactList
from apps.conversations.models import Message
from apps.conversations.outbound import MAX_TEXT_LENGTH, template_for
from apps.conversations.selectors import media_visible_to
from apps.inboxes.models import Inbox
from apps.media.models import MediaFile
from conversa.errors import ValidationFailed

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_AHEAD = dt.timedelta(days=365)
MAX_RATE = 1000
AUDIENCE_KEYS = frozenset({"list_ids", "segment_id", "tags"})


def invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def clean_name(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise invalid("name", _("This field is required."))
    if len(name) > 200:
        raise invalid("name", pgettext("campaign", "At most 200 characters."))
    return name


def clean_inbox(inbox_id) -> Inbox:
    inbox = Inbox.objects.filter(pk=inbox_id, is_active=True).first() if isinstance(inbox_id, int) else None
    if inbox is None:
        raise invalid("inbox_id", _("No such inbox."))
    return inbox


def clean_audience(audience, *, require_members: bool = True) -> dict:
    """`{list_ids, segment_id, tags}` as stored; 422 if it names nothing that exists or, with
    `require_members`, selects nobody."""
    if not isinstance(audience, dict):
        raise invalid("audience", _("Must be an object."))
    unknown = sorted(set(audience) - AUDIENCE_KEYS)
    if unknown:
        raise invalid(f"audience.{unknown[0]}", _("Unknown field."))
    list_ids = audience.get("list_ids") or []
    if not isinstance(list_ids, list) or not all(isinstance(pk, int) for pk in list_ids):
        raise invalid("audience.list_ids", pgettext("campaign", "Must be a list of ids."))
    list_ids = sorted(set(list_ids))
    found = set(ContactList.objects.filter(pk__in=list_ids).values_list("pk", flat=True))
    missing = [pk for pk in list_ids if pk not in found]
    if missing:
        ids = ", ".join(map(str, missing))
        raise invalid("audience.list_ids", _("No such list: %(ids)s.") % {"ids": ids})
    segment_id = audience.get("segment_id")
    if segment_id is not None and not isinstance(segment_id, int):
        raise invalid("audience.segment_id", pgettext("campaign", "Must be an id."))
    tags = audience.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise invalid("audience.tags", pgettext("campaign", "Must be a list of tags."))
    tags = sorted({tag.strip() for tag in tags if tag.strip()})
    cleaned = {"list_ids": list_ids, "segment_id": segment_id, "tags": tags}
    # Raises 422 `audience.segment_id` for a segment that does not exist.
    contacts = audience_contacts(list_ids=list_ids, segment_id=segment_id, tags=tags)
    if require_members and not contacts.exists():
        raise invalid("audience", _("The audience is empty: choose lists, a segment or tags with contacts."))
    return cleaned


def clean_message(*, inbox: Inbox, text, template) -> tuple[str, dict | None]:
    """(text, template) with exactly one set; template approved on the inbox with as many variables
    as its body needs; variables known."""
    if template is not None:
        if text:
            raise invalid("message.template", _("A template goes alone."))
        if not isinstance(template, dict):
            raise invalid("message.template", _("Must be an object."))
        try:
            approved, variables = template_for(inbox, template)
        except ValidationFailed as exc:
            detail = (exc.details or [{}])[0]
            raise invalid(f"message.{detail.get('field', 'template')}", detail.get("message", "")) from exc
        for index, value in enumerate(variables):
            check_variables(f"message.template.variables.{index}", value)
        return "", {"name": approved.name, "language": approved.language, "variables": variables}
    text = text if isinstance(text, str) else ""
    if not text.strip():
        raise invalid("message.text", _("Write a text or choose a template."))
    if len(text) > MAX_TEXT_LENGTH:
        raise invalid("message.text", _("Text must be 1 to 4096 characters."))
    check_variables("message.text", text)
    return text, None


def clean_media(*, actor: Actor, media_id) -> MediaFile | None:
    """The clean file the actor may use, or 422 (not found, still scanning, infected)."""
    if media_id is None:
        return None
    files = MediaFile.objects.all()
    if isinstance(actor, ApiKey) and not permissions.may(actor, "conversations.read"):
        carried = Message.objects.filter(media=OuterRef("pk"))
        files = files.filter(Q(uploaded_by__isnull=True) & ~Q(Exists(carried)))
    elif actor is not None:
        files = media_visible_to(actor)
    media = files.filter(pk=media_id).first() if isinstance(media_id, int) else None
    if media is None:
        raise invalid("media_id", _("No such file."))
    if media.status != MediaFile.Status.CLEAN:
        raise invalid("media_id", _("The file is %(status)s: only clean files can be sent.")
                      % {"status": media.get_status_display().lower()})
    return media


def clean_timezone(name) -> str:
    name = name or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise invalid("timezone", _("Unknown time zone.")) from exc
    return name


def clean_scheduled_at(value, *, zone: str, now: dt.datetime | None = None) -> dt.datetime:
    """An aware time (a naive one is read in `zone`), in the future and at most a year ahead."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise invalid("scheduled_at", pgettext("campaign", "Not a date and time.")) from exc
    if not isinstance(value, dt.datetime):
        raise invalid("scheduled_at", pgettext("campaign", "Not a date and time."))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    now = now or timezone.now()
    if value <= now:
        raise invalid("scheduled_at", pgettext("campaign", "The time is in the past."))
    if value > now + MAX_AHEAD:
        raise invalid("scheduled_at", pgettext("campaign", "At most one year ahead."))
    return value.astimezone(dt.UTC)


def clean_send_window(window) -> dict:
    """`{days, start, end}` (days among mon…sun, "HH:MM" start before end), or {} for any time."""
    if not window:
        return {}
    if not isinstance(window, dict):
        raise invalid("send_window", _("Must be an object."))
    unknown = sorted(set(window) - {"days", "start", "end"})
    if unknown:
        raise invalid(f"send_window.{unknown[0]}", _("Unknown field."))
    days = window.get("days") or list(DAYS)
    if not isinstance(days, list) or not days or any(day not in DAYS for day in days):
        raise invalid("send_window.days", _("Use days among: %(days)s.") % {"days": ", ".join(DAYS)})
    start, end = window.get("start") or "00:00", window.get("end") or "23:59"
    for field, value in (("start", start), ("end", end)):
        if not isinstance(value, str) or not HHMM.match(value):
            raise invalid(f"send_window.{field}", pgettext("campaign", "Use HH:MM."))
    if start >= end:
        raise invalid("send_window.end", _("The window must end after it starts."))
    return {"days": [day for day in DAYS if day in days], "start": start, "end": end}


def clean_rate(rate) -> int | None:
    if rate is None:
        return None
    if not isinstance(rate, int) or isinstance(rate, bool) or not 1 <= rate <= MAX_RATE:
        raise invalid("rate_per_second", _("Between 1 and %(max)d messages per second.") % {"max": MAX_RATE})
    return rate
