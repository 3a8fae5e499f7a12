"""Task reminders: each due reminder becomes one `task_reminder` notification, once.

The periodic sweep claims due reminders with one conditional UPDATE (`reminded_at IS NULL`, rows
locked with SKIP LOCKED) and notifies in the same transaction: two workers sweeping at once never
both claim a task, a reminder whose notification failed is claimed again next minute, and nothing
lives in a worker's memory, so a restarted worker simply sweeps again.
"""

import datetime as dt
import zoneinfo

from django.db import connection, transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from apps.notifications.services import notify
from apps.tasks.models import Task
from tenants.models import Company

BATCH = 500

_CLAIM = f"""
UPDATE {Task._meta.db_table} SET reminded_at = %(now)s
WHERE id IN (
    SELECT id FROM {Task._meta.db_table}
    WHERE status = 'pending' AND reminded_at IS NULL AND remind_at <= %(now)s
    ORDER BY remind_at, id LIMIT {BATCH}
    FOR UPDATE SKIP LOCKED
) AND reminded_at IS NULL
RETURNING id
"""


def reminders_send(*, now=None) -> int:
    """Send every reminder due by `now` that was not sent; returns how many were sent."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, {"now": now})
            ids = [row[0] for row in cursor.fetchall()]
        zone = _company_zone() if ids else dt.UTC
        for task in Task.objects.filter(pk__in=ids).select_related("assignee"):
            _remind(task, zone)
    return len(ids)


def _company_zone():
    """Due times in the company's time zone (users have none of their own)."""
    company = Company.objects.filter(schema_name=connection.schema_name)
    name = company.values_list("time_zone", flat=True).first()
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _remind(task: Task, zone) -> None:
    user = task.assignee
    if not user.is_active:
        return
    with translation.override(user.language or None):
        title = _("Reminder: %(title)s") % {"title": task.title}
        body = ""
        if task.due_at:
            due = timezone.localtime(task.due_at, zone)
            body = _("Due %(when)s") % {"when": formats.date_format(due, "DATETIME_FORMAT")}
    notify(users=[user], kind="task_reminder", title=str(title), body=str(body),
           data={"task_id": task.pk})
