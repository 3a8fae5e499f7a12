"""Which tasks an actor sees, and the lists the API and the pages filter from it.

A task is seen by its assignee, its creator, the supervisors of the assignee's teams and the admins
(API keys with `tasks:read` too); a task about a conversation only by those among them who may see
that conversation (`conversations_visible_to`, the one rule).
"""

from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts import permissions
from apps.accounts.models import ApiKey, User
from apps.accounts.permissions import Actor
from apps.conversations.selectors import conversations_visible_to
from apps.tasks.models import Task, TaskComment
from apps.teams.models import TeamMember
from apps.teams.selectors import team_ids_of
from conversa.errors import NotFound


def _sees_every_task(actor: Actor) -> bool:
    return isinstance(actor, ApiKey) or actor.role == User.Role.ADMIN


def tasks_visible_to(actor: Actor) -> QuerySet[Task]:
    permissions.check(actor, "tasks.read")
    tasks = Task.objects.select_related("assignee", "created_by", "contact", "conversation")
    if _sees_every_task(actor):
        return tasks
    people = Q(assignee=actor) | Q(created_by=actor)
    if actor.role == User.Role.SUPERVISOR:
        teams = team_ids_of(actor)
        if teams:
            people |= Q(assignee__in=TeamMember.objects.filter(team_id__in=teams).values("user_id"))
    in_sight = Q(conversation__isnull=True) | Q(conversation__in=conversations_visible_to(actor).values("pk"))
    return tasks.filter(people & in_sight)


def task_list(actor: Actor, *, assignee: str | int | None = None, status: str | None = None,
              overdue: bool | None = None, contact: int | None = None, conversation: int | None = None,
              team: int | None = None, now=None) -> QuerySet[Task]:
    """`assignee` is `me` or a user id; `overdue` means pending and past its due time."""
    tasks = tasks_visible_to(actor)
    if assignee == "me":
        tasks = tasks.filter(assignee_id=actor.pk if isinstance(actor, User) else None)
    elif assignee not in (None, ""):
        tasks = tasks.filter(assignee_id=int(assignee))
    if status:
        tasks = tasks.filter(status=status)
    if overdue is not None:
        late = Q(status=Task.Status.PENDING, due_at__lt=now or timezone.now())
        tasks = tasks.filter(late) if overdue else tasks.exclude(late)
    if contact:
        tasks = tasks.filter(contact_id=contact)
    if conversation:
        tasks = tasks.filter(conversation_id=conversation)
    if team:
        tasks = tasks.filter(assignee__in=TeamMember.objects.filter(team_id=team).values("user_id"))
    return tasks


def tasks_of_my_teams(actor: User) -> QuerySet[Task]:
    """The tasks of the members of the actor's teams that the actor sees (the "Team" tab)."""
    members = TeamMember.objects.filter(team_id__in=team_ids_of(actor)).values("user_id")
    return tasks_visible_to(actor).filter(assignee__in=members)


def task_get_for(actor: Actor, task_id: int) -> Task:
    task = tasks_visible_to(actor).filter(pk=task_id).first()
    if task is None:
        raise NotFound()
    return task


def comments_of(task: Task) -> QuerySet[TaskComment]:
    return task.comments.select_related("author")
