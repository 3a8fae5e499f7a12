"""`/api/v1/tasks`: follow-ups with a due time, a reminder and comments (SPEC §11, §15.1). Each
actor sees the tasks `apps.tasks.selectors.tasks_visible_to` allows (keys: `tasks:read` /
`tasks:write`)."""

import datetime as dt
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.tasks import selectors, services
from conversa.errors import ValidationFailed
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["tasks"])

TaskStatus = Literal["pending", "done", "cancelled"]
Priority = Literal["low", "normal", "high", "urgent"]


class TaskOut(Schema):
    id: int
    title: str
    description: str
    contact_id: int | None
    conversation_id: int | None
    assignee_id: int
    assignee_name: str
    created_by_id: int | None
    due_at: dt.datetime | None
    remind_at: dt.datetime | None
    reminded_at: dt.datetime | None
    priority: str
    status: str
    overdue: bool
    completion_notes: str
    completed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_assignee_name(task):
        return task.assignee.name or task.assignee.email

    @staticmethod
    def resolve_overdue(task):
        return task.status == "pending" and task.due_at is not None and task.due_at < dt.datetime.now(dt.UTC)


class TaskPage(Schema):
    items: list[TaskOut]
    next_cursor: str | None


class TaskIn(Schema):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    assignee_id: int | None = Field(None, description="Defaults to the signed-in user.")
    contact_id: int | None = None
    conversation_id: int | None = None
    due_at: dt.datetime | None = None
    remind_at: dt.datetime | None = None
    priority: Priority = "normal"


class TaskPatch(Schema):
    title: str = Field(None, min_length=1, max_length=200)
    description: str = Field(None, max_length=10_000)
    assignee_id: int = None
    contact_id: int | None = None
    conversation_id: int | None = None
    due_at: dt.datetime | None = None
    remind_at: dt.datetime | None = None
    priority: Priority = None
    status: TaskStatus = None
    completion_notes: str = Field(None, max_length=10_000)


class TaskFilters(PageParams):
    assignee: str | None = Field(None, description="`me` or a user id.")
    status: TaskStatus | None = None
    overdue: bool | None = None
    contact: int | None = None
    conversation: int | None = None
    team: int | None = Field(None, description="Tasks of this team's members.")


class CommentIn(Schema):
    text: str = Field(min_length=1, max_length=4000)


class CommentOut(Schema):
    id: int
    task_id: int
    author_id: int | None
    author_name: str
    text: str
    created_at: dt.datetime

    @staticmethod
    def resolve_author_name(comment):
        return (comment.author.name or comment.author.email) if comment.author else ""


class CommentPage(Schema):
    items: list[CommentOut]
    next_cursor: str | None


def _aware(payload: dict) -> dict:
    for field in ("due_at", "remind_at"):
        value = payload.get(field)
        if value is not None and value.tzinfo is None:
            raise ValidationFailed(details=[{"field": field, "message": _("Give a time zone (e.g. Z).")}])
    return payload


@router.get("", response=TaskPage)
def list_tasks(request, filters: Query[TaskFilters]):
    if filters.assignee not in (None, "", "me") and not filters.assignee.isdigit():
        raise ValidationFailed(details=[{"field": "assignee", "message": _("Use me or a user id.")}])
    tasks = selectors.task_list(
        request.auth, assignee=filters.assignee, status=filters.status, overdue=filters.overdue,
        contact=filters.contact, conversation=filters.conversation, team=filters.team,
    )
    return page_of(tasks, filters, ordering=("-id",))


@router.post("", response={201: TaskOut})
def create_task(request, payload: TaskIn):
    task = services.task_create(actor=request.auth, **_aware(payload.dict()))
    return Status(201, selectors.task_get_for(request.auth, task.pk))


@router.get("/{int:task_id}", response=TaskOut)
def get_task(request, task_id: int):
    return selectors.task_get_for(request.auth, task_id)


@router.patch("/{int:task_id}", response=TaskOut)
def update_task(request, task_id: int, payload: TaskPatch):
    task = selectors.task_get_for(request.auth, task_id)
    services.task_update(actor=request.auth, task=task, **_aware(payload.dict(exclude_unset=True)))
    return selectors.task_get_for(request.auth, task_id)


@router.get("/{int:task_id}/comments", response=CommentPage)
def list_comments(request, task_id: int, page: Query[PageParams]):
    task = selectors.task_get_for(request.auth, task_id)
    return page_of(selectors.comments_of(task), page, ordering=("id",))


@router.post("/{int:task_id}/comments", response={201: CommentOut})
def add_comment(request, task_id: int, payload: CommentIn):
    task = selectors.task_get_for(request.auth, task_id)
    return Status(201, services.task_comment_add(actor=request.auth, task=task, text=payload.text))
