"""Writes of tasks: create, change (reassign, reschedule, complete with notes, cancel) and comment.

Every write takes the acting user or API key and checks it first: anyone may keep tasks for
themselves; giving one to someone else takes `tasks.assign` (supervisors, admins); a task may only
be about a conversation the actor can see. Someone given a task by another is notified.
"""

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.models import User
from apps.contacts.models import Contact
from apps.conversations.selectors import conversations_visible_to
from apps.notifications.services import notify
from apps.tasks.models import Task, TaskComment
from conversa.errors import ValidationFailed

TASK_FIELDS = ("title", "description", "assignee_id", "contact_id", "conversation_id", "due_at",
               "remind_at", "priority", "status", "completion_notes")


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _assignee(actor, assignee_id) -> User:
    me = permissions.acting_user(actor)
    if assignee_id is None:
        if me is None:
            raise _invalid("assignee_id", _("Choose who the task is for."))
        return me
    user = User.objects.filter(pk=assignee_id, is_active=True).first()
    if user is None:
        raise _invalid("assignee_id", _("Choose an active user of this company."))
    if me is None or user.pk != me.pk:
        permissions.check(actor, "tasks.assign")
    return user


def _conversation(actor, conversation_id):
    conversation = conversations_visible_to(actor).filter(pk=conversation_id).first()
    if conversation is None:
        raise _invalid("conversation_id", _("No conversation you can see has this number."))
    return conversation


def _contact(actor, contact_id) -> Contact:
    permissions.check(actor, "contacts.read")
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise _invalid("contact_id", _("No contact has this number."))
    return contact


def _check(task: Task) -> None:
    if not task.title.strip():
        raise _invalid("title", _("Give the task a title."))
    if len(task.title) > 200:
        raise _invalid("title", _("At most 200 characters."))
    if task.priority not in Task.Priority.values:
        raise _invalid("priority", _("Use low, normal, high or urgent."))
    if task.status not in Task.Status.values:
        raise _invalid("status", _("Use pending, done or cancelled."))


def _notify_assigned(task: Task, actor) -> None:
    """Tell the assignee someone else gave them a task (in the assignee's language)."""
    me = permissions.acting_user(actor)
    if me is not None and me.pk == task.assignee_id:
        return
    with translation.override(task.assignee.language or None):
        title = _("New task: %(title)s") % {"title": task.title}
        body = (_("From %(name)s") % {"name": me.name or me.email}) if me else ""
    notify(users=[task.assignee], kind="task_assigned", title=str(title), body=str(body),
           data={"task_id": task.pk})


def task_create(*, actor, title: str, assignee_id: int | None = None, description: str = "",
                contact_id: int | None = None, conversation_id: int | None = None, due_at=None,
                remind_at=None, priority: str = Task.Priority.NORMAL) -> Task:
    """A pending task (for the actor unless `assignee_id` says otherwise). About a conversation,
    it is about that conversation's contact too unless `contact_id` is given."""
    permissions.check(actor, "tasks.write")
    with transaction.atomic():
        task = Task(title=(title or "").strip(), description=description or "", priority=priority,
                    due_at=due_at, remind_at=remind_at, created_by=permissions.acting_user(actor))
        task.assignee = _assignee(actor, assignee_id)
        if conversation_id is not None:
            task.conversation = _conversation(actor, conversation_id)
            task.contact_id = task.conversation.contact_id
        if contact_id is not None:
            task.contact = _contact(actor, contact_id)
        _check(task)
        task.save()
        _notify_assigned(task, actor)
    return task


def task_update(*, actor, task: Task, **changes) -> Task:
    """Change any of TASK_FIELDS of a task the actor sees (fetch it with `task_get_for`). A new
    reminder time is reminded again; done stamps `completed_at`, back to pending clears it."""
    permissions.check(actor, "tasks.write")
    unknown = set(changes) - set(TASK_FIELDS)
    if unknown:
        raise TypeError(f"unknown task fields {sorted(unknown)}")
    with transaction.atomic():
        task = Task.objects.select_for_update().select_related("assignee").get(pk=task.pk)
        reassigned = False
        if "assignee_id" in changes and changes["assignee_id"] != task.assignee_id:
            task.assignee = _assignee(actor, changes["assignee_id"])
            reassigned = True
        if "conversation_id" in changes:
            cid = changes["conversation_id"]
            task.conversation = _conversation(actor, cid) if cid is not None else None
        if "contact_id" in changes:
            cid = changes["contact_id"]
            task.contact = _contact(actor, cid) if cid is not None else None
        for field in ("title", "description", "priority", "completion_notes", "due_at"):
            if field in changes:
                value = changes[field]
                setattr(task, field, value.strip() if field == "title" and value else
                        (value if value is not None or field == "due_at" else ""))
        if "remind_at" in changes and changes["remind_at"] != task.remind_at:
            task.remind_at, task.reminded_at = changes["remind_at"], None
        if "status" in changes and changes["status"] != task.status:
            task.status = changes["status"]
            task.completed_at = timezone.now() if task.status == Task.Status.DONE else None
        _check(task)
        task.save()
        if reassigned:
            _notify_assigned(task, actor)
    return task


def task_comment_add(*, actor, task: Task, text: str) -> TaskComment:
    """A comment on a task the actor sees; the assignee and the creator hear of it (not the author)."""
    permissions.check(actor, "tasks.write")
    text = (text or "").strip()
    if not text:
        raise _invalid("text", _("Write a comment."))
    if len(text) > 4000:
        raise _invalid("text", _("At most 4000 characters."))
    me = permissions.acting_user(actor)
    with transaction.atomic():
        comment = TaskComment.objects.create(task=task, author=me, text=text)
        others = [user for user in (task.assignee, task.created_by)
                  if user is not None and user.is_active and (me is None or user.pk != me.pk)]
        for user in {user.pk: user for user in others}.values():
            with translation.override(user.language or None):
                title = _("New comment on task: %(title)s") % {"title": task.title}
            notify(users=[user], kind="task_comment", title=str(title), body=text[:200],
                   data={"task_id": task.pk, "comment_id": comment.pk})
    return comment
