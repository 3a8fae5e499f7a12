"""Small presentation helpers of the agents' UI."""

import datetime as dt
import re

from django import template
from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from apps.accounts import permissions
from apps.accounts.models import User
from apps.automation.actions import ACTION_LABELS
from apps.conversations.mentions import MENTION_RE
from apps.conversations.models import Conversation
from apps.notifications.models import Notification
from apps.teamchat.selectors import unread_total
from apps.teams.models import Team

register = template.Library()

# Also handed to the countdown script (context_processors.ui_strings), which rewrites them each minute.
SLA_IN = gettext_noop("in %(n)d min")
SLA_LATE = gettext_noop("%(n)d min late")
TICKS = {"pending": "🕓", "sending": "🕓", "sent": "✓", "delivered": "✓✓", "read": "✓✓", "failed": "!"}
_CHOICE_LABELS: dict[tuple[type, str], dict] = {}


@register.filter
def display(obj, field_name: str) -> str:
    """`obj.get_<field_name>_display()` for the rows of a list: Django's hashes every choice's lazy
    label on each call, so translates all of them (a fifth of a page of inbox rows' CPU); this keeps
    a field's labels by value and translates the one shown."""
    key = (type(obj), field_name)
    labels = _CHOICE_LABELS.get(key)
    if labels is None:
        labels = _CHOICE_LABELS[key] = dict(obj._meta.get_field(field_name).flatchoices)
    value = getattr(obj, field_name)
    return str(labels.get(value, value))


@register.simple_tag
def unread_notifications(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


@register.simple_tag
def unread_team_chat(user) -> int:
    return unread_total(user)


@register.filter
def may(user, action: str) -> bool:
    """`{% if user|may:"inboxes.manage" %}`: the rules of apps.accounts.permissions, in templates."""
    return permissions.may(user, action)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def initials(name: str) -> str:
    words = [word for word in re.split(r"\s+", str(name or "").strip()) if word]
    return "".join(word[0] for word in words[:2]).upper() or "?"


@register.filter
def local_day(value: dt.datetime) -> str:
    return timezone.localtime(value).date().isoformat() if value else ""


@register.filter
def local_time(value: dt.datetime) -> str:
    return formats.time_format(timezone.localtime(value), "H:i") if value else ""


@register.filter
def day_label(value: dt.datetime) -> str:
    day = timezone.localtime(value).date()
    today = timezone.localdate()
    if day == today:
        return _("Today")
    if day == today - dt.timedelta(days=1):
        return _("Yesterday")
    return formats.date_format(day, "DATE_FORMAT")


@register.filter
def short_time(value: dt.datetime) -> str:
    """Today's time, or the date for older activity."""
    if not value:
        return ""
    local = timezone.localtime(value)
    if local.date() == timezone.localdate():
        return formats.time_format(local, "H:i")
    return formats.date_format(local, "SHORT_DATE_FORMAT")


@register.filter
def sla_deadline(conversation) -> dict | None:
    """The SLA promise an agent works against now: the first response until someone answers, then
    the resolution; None when the conversation's team promises nothing or it is over."""
    if conversation.sla_breached:
        return {"state": "breached", "title": _("A service-level deadline of this conversation passed.")}
    if conversation.status not in ("queued", "open", "pending", "bot"):
        return None
    if conversation.first_response_at is None and conversation.first_response_due_at:
        label, due = _("First response"), conversation.first_response_due_at
    elif conversation.resolution_due_at:
        label, due = _("Resolution"), conversation.resolution_due_at
    else:
        return None
    now = timezone.now()
    late = due <= now
    # Rounded to the minute, as the countdown script writes it.
    minutes = max(1, round(abs((due - now).total_seconds()) / 60))
    relative = (_(SLA_LATE) if late else _(SLA_IN)) % {"n": minutes}
    return {
        "state": "late" if late else ("soon" if (due - now).total_seconds() < 15 * 60 else "ok"),
        "label": label, "due": due, "relative": relative,
        "title": _("Due at %(time)s") % {"time": local_time(due)},
    }


@register.simple_tag
def sla_badge(conversation) -> str:
    """The SLA pill of a conversation (its header and its inbox row), "" without a deadline; the
    countdown script keeps its <time> current."""
    sla = sla_deadline(conversation)
    if sla is None:
        return ""
    if sla["state"] == "breached":
        return format_html(
            '<span class="pill sla sla-breached" data-sla="breached" title="{}">{}</span>',
            sla["title"], _("SLA breached"),
        )
    return format_html(
        '<span class="pill sla sla-{}" data-sla="{}" title="{}">{} '
        '<time datetime="{}" data-countdown>{}</time></span>',
        sla["state"], sla["state"], sla["title"], sla["label"], sla["due"].isoformat(), sla["relative"],
    )


@register.filter
def ticks(status: str) -> str:
    return TICKS.get(status, "")


@register.filter
def fill_variables(content: str, contact) -> str:
    """Quick-reply variables the agent would otherwise type by hand."""
    values = {
        "contact.name": contact.name or "",
        "contact.first_name": (contact.name or "").split(" ")[0],
        "contact.phone": contact.phone,
        "contact.email": contact.email or "",
    }
    return re.sub(r"\{\{\s*([\w.]+)\s*\}\}", lambda m: values.get(m.group(1), m.group(0)), content)


def _user_name(event) -> str:
    if hasattr(event, "assignee_user"):  # fetched with the rest of the page by timeline_page
        user = event.assignee_user
    else:
        user_id = (event.data or {}).get("assignee_id")
        user = User.objects.filter(pk=user_id).only("name", "email").first() if user_id else None
    return (user.name or user.email) if user else _("someone")


@register.filter
def event_text(event) -> str:
    actor = (event.actor.name or event.actor.email) if event.actor else _("System")
    data = event.data or {}
    texts = {
        "status_changed": lambda: _("%(actor)s changed the status to %(to)s")
        % {"actor": actor, "to": _status_label(data.get("to"))},
        "assigned": lambda: (
            _("Auto-assigned to %(user)s by the team's routing") % {"user": _user_name(event)}
            if data.get("by") == "routing"
            else _("Assigned to %(user)s by an automation") % {"user": _user_name(event)}
            if data.get("by") == "automation"
            else _("%(actor)s assigned it to %(user)s") % {"actor": actor, "user": _user_name(event)}
        ),
        "transferred": lambda: _transferred_text(event, actor, data),
        "unassigned": lambda: _("%(actor)s unassigned it") % {"actor": actor},
        "priority_changed": lambda: _("%(actor)s set the priority to %(to)s")
        % {"actor": actor, "to": _priority_label(data.get("to"))},
        "labels_changed": lambda: _("%(actor)s changed the labels") % {"actor": actor},
        "snoozed": lambda: _("%(actor)s snoozed it") % {"actor": actor},
        "reopened_by_contact": lambda: _("The customer wrote again: the conversation reopened"),
        "message_scheduled": lambda: _("%(actor)s scheduled a message") % {"actor": actor},
        "schedule_cancelled": lambda: _("%(actor)s cancelled a scheduled message") % {"actor": actor},
        "greeted": lambda: _("The inbox's greeting was sent"),
        "sla_breached": lambda: (
            _("SLA breached: the first response deadline passed") if data.get("deadline") == "first_response"
            else _("SLA breached: the resolution deadline passed")
        ),
        "snooze_ended": lambda: _("The snooze ended: the conversation is back"),
        "contact_merged": lambda: _("%(actor)s merged the contact into another one") % {"actor": actor},
        "contact_erased": lambda: _("%(actor)s erased the contact's personal data") % {"actor": actor},
        "csat_requested": lambda: _("The customer was asked to rate the service"),
        "csat_skipped": lambda: _("No rating request was sent: %(why)s") % {"why": _csat_skip_reason(data)},
        "csat_answered": lambda: (
            _("The customer rated the service %(rating)s/5: “%(comment)s”")
            % {"rating": data.get("rating"), "comment": data.get("comment")}
            if data.get("comment") else
            _("The customer rated the service %(rating)s/5") % {"rating": data.get("rating")}
        ),
        "campaign_reply": lambda: _("Reply to the campaign “%(name)s”, which said: %(text)s")
        % {"name": data.get("campaign_name", ""), "text": data.get("text", "")},
        "automation_rule": lambda: _rule_text(data),
        "macro_run": lambda: _("%(actor)s ran the macro “%(name)s”")
        % {"actor": actor, "name": data.get("macro_name", "")},
    }
    make = texts.get(event.kind)
    return make() if make else _("%(actor)s: %(what)s") % {"actor": actor, "what": event.kind}


def _rule_text(data: dict) -> str:
    """"Rule “VIP” acted: add a label, send a message (refused: outside_service_window)"."""
    results = data.get("results", [])
    done = [str(ACTION_LABELS.get(r.get("type"), r.get("type"))) for r in results if r.get("ok")]
    refused = [f"{ACTION_LABELS.get(r.get('type'), r.get('type'))} ({r.get('error')})"
               for r in results if not r.get("ok")]
    text = _("Automation rule “%(name)s” acted: %(actions)s") % {
        "name": data.get("rule_name", ""), "actions": ", ".join(done) or _("nothing")}
    return f"{text}; " + _("refused: %(actions)s") % {"actions": ", ".join(refused)} if refused else text


@register.filter
def with_mentions(text: str) -> str:
    """A note's text, escaped, each @mention shown as a highlighted `@Name` (`conversations.mentions`)."""
    parts, last = [], 0
    for match in MENTION_RE.finditer(text or ""):
        parts.append(escape(text[last:match.start()]))
        parts.append(format_html('<span class="mention" data-user-id="{}">@{}</span>',
                                 match.group(2), match.group(1)))
        last = match.end()
    parts.append(escape((text or "")[last:]))
    joined = "".join(parts).replace("\r\n", "\n")
    return mark_safe(joined.replace("\n", "<br>"))  # every part is escaped above
def _csat_skip_reason(data: dict) -> str:
    reasons = {
        "outside_service_window": _("more than 24 hours since the customer's last message"),
        "no_inbound": _("the customer never wrote"),
        "spam": _("closed as spam"),
    }
    reason = data.get("reason", "")
    return str(reasons.get(reason, reason))


def _transferred_text(event, actor: str, data: dict) -> str:
    if data.get("team_id"):
        team = Team.objects.filter(pk=data["team_id"]).values_list("name", flat=True).first()
        text = _("%(actor)s transferred it to team %(team)s") % {
            "actor": actor, "team": team or _("(deleted team)"),
        }
    else:
        text = _("%(actor)s transferred it to %(user)s") % {"actor": actor, "user": _user_name(event)}
    reason = str(data.get("reason") or "").strip()
    return f"{text}: {reason}" if reason else text


def _status_label(value) -> str:
    return str(dict(Conversation.Status.choices).get(value, value))


def _priority_label(value) -> str:
    return str(dict(Conversation.Priority.choices).get(value, value))
