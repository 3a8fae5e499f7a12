"""Presentation helpers of the inbox list."""

import functools

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from apps.conversations.preview import preview_parts as _preview_parts
from apps.web.templatetags.web_tags import display, initials, short_time, sla_badge

register = template.Library()


@register.filter
def preview_parts(preview: str) -> tuple[str, str]:
    """A stored last-message preview as (its kind's label in the reader's language or "", its text)."""
    return _preview_parts(preview or "")


@register.simple_tag(takes_context=True)
def conversation_row(context, c) -> str:
    """A conversation's row of the inbox list (`c` from `inbox_conversations`: its contact, team,
    assignee and `activity` at hand).

    Written in Python: the list renders 25 of these per page, and as an included template each row
    cost some 750 variable lookups (a page of rows: 20–22 ms of CPU then, 17–19 ms so). The markup
    is the template's, byte for byte but for whitespace. `context` gives the open conversation
    (`conversation`, marked selected) and the filters' query string (`query`)."""
    open_conversation = context.get("conversation")
    classes = "conversation-row"
    if c.unread_count:
        classes += " unread"
    if open_conversation and open_conversation.pk == c.pk:
        classes += " selected"
    href = f"{_conversation_path(get_script_prefix(), get_urlconf())}{c.pk}/"
    query = context.get("query", "")
    activity = timezone.localtime(c.activity) if c.activity else None
    name = c.contact.name or c.contact.phone
    return format_html(
        '<li id="row-{pk}" class="{classes}" data-id="{pk}" data-assignee="{assignee_id}" '
        'data-activity="{epoch}">\n'
        '  <a href="{href}?{query}" hx-get="{href}" hx-target="#conversation-pane" '
        'hx-sync="#conversation-pane:replace" hx-push-url="{href}?{query}">\n'
        '    <span class="avatar" aria-hidden="true">{initials}</span>\n'
        '    <span class="row-main">\n'
        '      <span class="row-top"><strong class="name">{name}</strong>\n'
        '        <time datetime="{iso}">{short}</time></span>\n'
        "      {preview}\n"
        '      <span class="row-bottom">\n{bottom}\n      </span>\n'
        "    </span>\n"
        "  </a>\n"
        "</li>\n",
        pk=c.pk, classes=classes, assignee_id=c.assignee_id or "",
        # dateformat's "U.u" and "c", without its formatter per value
        epoch=f"{int(activity.timestamp())}.{activity.microsecond:06d}" if activity else "",
        href=href, query=query, initials=initials(name), name=name,
        iso=activity.isoformat() if activity else "", short=short_time(c.activity),
        preview=_preview(c.last_message_preview), bottom=_row_bottom(c),
    )


@functools.cache
def _conversation_path(script_prefix: str, urlconf: str | None) -> str:
    """The path of a conversation up to its id ("/app/c/"): reversed once, not once per row (a
    tenth of a page of rows' CPU)."""
    path = reverse("web:conversation", args=[0], urlconf=urlconf)
    assert path.endswith("/0/"), path
    return path[:-len("0/")]


def _preview(stored: str) -> str:
    if not stored:
        return ""
    kind, text = _preview_parts(stored)
    if not kind:
        return format_html('<span class="preview">{}</span>', text)
    return format_html('<span class="preview"><span class="preview-kind">{}</span>{}{}</span>',
                       kind, " " if text else "", text)


def _row_bottom(c) -> str:
    parts = [format_html('<span class="pill status-{}">{}</span>', c.status, display(c, "status")),
             sla_badge(c)]
    if c.priority != "normal":
        parts.append(format_html('<span class="pill priority-{}">{}</span>', c.priority,
                                 display(c, "priority")))
    if c.team_id:
        parts.append(format_html('<span class="team-chip" title="{}">{}</span>', _("Team"), c.team.name))
    assignee = (c.assignee.name or c.assignee.email) if c.assignee else _("Unassigned")
    parts.append(format_html('<span class="assignee muted">{}</span>', assignee))
    parts.append(format_html_join("", '<span class="label-chip">{}</span>', ((label,) for label in c.labels)))
    if c.unread_count:
        parts.append(format_html('<span class="badge unread" title="{}">{}</span>', _("Unread messages"),
                                 c.unread_count))
    return mark_safe("\n".join(f"        {part}" for part in parts if part))  # each part is escaped
