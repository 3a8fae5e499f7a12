"""Writes of the teams app: teams, their inboxes and members (supervisors and admins, never keys).

Every write checks `teams.manage`, runs in one transaction with the team's row locked, leaves an
audit entry and publishes after commit: `team.updated` / `team.deleted` (frames to `staff`) and,
when the team may take more work, `team.members_changed` for routing. A user whose memberships
change has their sockets closed with 1012: they reconnect and join their new teams' groups.
"""

from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.audit.services import audit_record
from apps.inboxes.models import Inbox
from apps.teams.events import TEAM_DELETED, TEAM_MEMBERS_CHANGED, TEAM_UPDATED
from apps.teams.models import DEFAULT_CAPACITY, Team, TeamMember
from apps.teams.validation import clean_business_hours, validate_capacity, validate_sla_seconds
from conversa.errors import Conflict, ValidationFailed
from conversa.events import publish
from conversa.realtime.close_codes import CLOSE_RESYNC
from conversa.realtime.fanout import close_user_sockets

MAX_SKILLS = 20
UNSET = object()


def check_team_manage(*, actor: Actor | None) -> None:
    """Teams are managed by supervisors and admins (None: the system, e.g. the demo seed)."""
    if actor is not None:
        permissions.check(actor, "teams.manage")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _clean_name(name, *, team: Team | None = None) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise _invalid("name", _("This field is required."))
    if len(name) > Team._meta.get_field("name").max_length:
        raise _invalid("name", _("At most 100 characters."))
    taken = Team.objects.annotate(lower=Lower("name")).filter(lower=name.lower())
    if team is not None:
        taken = taken.exclude(pk=team.pk)
    if taken.exists():
        raise Conflict(_("A team with this name already exists."),
                       details=[{"field": "name", "message": str(_("Already in use."))}])
    return name


def _clean_routing(routing) -> str:
    if routing not in Team.Routing.values:
        raise _invalid("routing", _("Use one of: %(values)s.") % {"values": ", ".join(Team.Routing.values)})
    return routing


def _clean_offline_message(message) -> str:
    message = message or ""
    if not isinstance(message, str) or len(message) > 4096:
        raise _invalid("offline_message", _("At most 4096 characters."))
    return message


def _clean_inbox_ids(inbox_ids) -> list[int]:
    ids = sorted(set(inbox_ids or []))
    found = set(Inbox.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise _invalid("inbox_ids", _("No such inbox: %(ids)s.") % {"ids": ", ".join(map(str, missing))})
    return ids


def _clean_skills(skills) -> list[str]:
    if not isinstance(skills, list) or len(skills) > MAX_SKILLS:
        raise _invalid("skills", _("At most %(max)d skills.") % {"max": MAX_SKILLS})
    cleaned = []
    for skill in skills:
        skill = skill.strip().lower() if isinstance(skill, str) else ""
        if not skill or len(skill) > 50:
            raise _invalid("skills", _("Skills are words of 1 to 50 characters."))
        if skill not in cleaned:
            cleaned.append(skill)
    return cleaned


def _apply_sla(team: Team, sla: dict | None, changes: dict) -> None:
    """`sla` None clears both targets; a key left out keeps its target."""
    sla = {"first_response_seconds": None, "resolution_seconds": None} if sla is None else sla
    unknown = sorted(set(sla) - {"first_response_seconds", "resolution_seconds"})
    if unknown:
        raise _invalid(f"sla.{unknown[0]}", _("Unknown field."))
    for key in ("first_response_seconds", "resolution_seconds"):
        if key in sla:
            value = validate_sla_seconds(f"sla.{key}", sla[key])
            _set(team, f"sla_{key}", value, changes)


def _set(team: Team, field: str, value, changes: dict) -> None:
    old = getattr(team, field)
    if old != value:
        changes[field] = [old, value]
        setattr(team, field, value)


def _save_named(team: Team) -> None:
    """Save; a concurrent writer that took the name first makes this a 409, not a 500."""
    try:
        with transaction.atomic():
            team.save()
    except IntegrityError as exc:
        raise Conflict(_("A team with this name already exists."),
                       details=[{"field": "name", "message": str(_("Already in use."))}]) from exc


def _set_inboxes(team: Team, inbox_ids: list[int]) -> set[int]:
    """Make exactly these inboxes default to `team`; returns the other teams that lost one."""
    taken = Inbox.objects.select_for_update().filter(pk__in=inbox_ids).exclude(default_team=team)
    robbed = set(taken.exclude(default_team__isnull=True).values_list("default_team_id", flat=True))
    taken.update(default_team=team)
    Inbox.objects.filter(default_team=team).exclude(pk__in=inbox_ids).update(default_team=None)
    return robbed


def _published(team_id: int, also: set[int] = frozenset()) -> None:
    for pk in sorted({team_id, *also}):
        publish(TEAM_UPDATED, {"team_id": pk})


def _resync_after_commit(user_ids) -> None:
    """Their sockets joined groups of the old memberships: they reconnect and join the new ones."""
    schema_name = connection.schema_name
    for user_id in sorted(set(user_ids)):
        transaction.on_commit(
            lambda user_id=user_id: close_user_sockets(schema_name, user_id, code=CLOSE_RESYNC)
        )


def team_create(
    *, actor: Actor | None, name: str, routing: str = Team.Routing.MANUAL, inbox_ids: list[int] | None = None,
    business_hours: dict | None = None, sla: dict | None = None, offline_message: str = "",
) -> Team:
    check_team_manage(actor=actor)
    team = Team(
        routing=_clean_routing(routing),
        business_hours=clean_business_hours(business_hours),
        offline_message=_clean_offline_message(offline_message),
    )
    _apply_sla(team, sla or {}, {})
    ids = _clean_inbox_ids(inbox_ids)
    with transaction.atomic():
        team.name = _clean_name(name)
        _save_named(team)
        robbed = _set_inboxes(team, ids)
        audit_record(action="team.created", entity_type="team", entity_id=team.pk, actor=actor,
                     changes={"name": [None, team.name], "routing": [None, team.routing],
                              "inbox_ids": [None, ids]})
        _published(team.pk, robbed)
    return team


def team_update(
    *, actor: Actor | None, team: Team, name=UNSET, routing=UNSET, inbox_ids=UNSET, business_hours=UNSET,
    sla=UNSET, offline_message=UNSET,
) -> Team:
    """Change what is given (UNSET: keep). Moving to automatic routing publishes
    `team.members_changed`, so the waiting queue is served."""
    check_team_manage(actor=actor)
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        changes: dict = {}
        was_manual = not team.routes_automatically
        if name is not UNSET:
            _set(team, "name", _clean_name(name, team=team), changes)
        if routing is not UNSET:
            _set(team, "routing", _clean_routing(routing), changes)
        if business_hours is not UNSET:
            _set(team, "business_hours", clean_business_hours(business_hours), changes)
        if offline_message is not UNSET:
            _set(team, "offline_message", _clean_offline_message(offline_message), changes)
        if sla is not UNSET:
            _apply_sla(team, sla, changes)
        robbed: set[int] = set()
        if inbox_ids is not UNSET:
            ids = _clean_inbox_ids(inbox_ids)
            before = sorted(Inbox.objects.filter(default_team=team).values_list("pk", flat=True))
            if before != ids:
                robbed = _set_inboxes(team, ids)
                changes["inbox_ids"] = [before, ids]
        if not changes:
            return team
        _save_named(team)
        audit_record(action="team.updated", entity_type="team", entity_id=team.pk, actor=actor,
                     changes=changes)
        _published(team.pk, robbed)
        if was_manual and team.routes_automatically:
            publish(TEAM_MEMBERS_CHANGED, {"team_id": team.pk})
    return team


def team_delete(*, actor: Actor | None, team: Team) -> None:
    """Delete the team: its conversations and inboxes keep going without a team (SET_NULL), its
    members' sockets rejoin without its groups."""
    check_team_manage(actor=actor)
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        member_ids = list(team.members.values_list("user_id", flat=True))
        name, team_id = team.name, team.pk
        team.delete()
        audit_record(action="team.deleted", entity_type="team", entity_id=team_id, actor=actor,
                     changes={"name": name, "member_ids": member_ids})
        publish(TEAM_DELETED, {"team_id": team_id, "name": name})
        _resync_after_commit(member_ids)


def team_member_set(
    *, actor: Actor | None, team: Team, user: User, capacity: int | None = None, priority: int | None = None,
    skills: list[str] | None = None,
) -> TeamMember:
    """Add `user` to the team, or update their membership (what is None stays as it is).
    Joining or getting more capacity publishes `team.members_changed`: routing may give them work."""
    check_team_manage(actor=actor)
    if not user.is_active:
        raise _invalid("user_id", _("Inactive user."))
    if capacity is not None:
        capacity = validate_capacity(capacity)
    if priority is not None and (isinstance(priority, bool) or not -100 <= priority <= 100):
        raise _invalid("priority", _("Between -100 and 100."))
    if skills is not None:
        skills = _clean_skills(skills)
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        member = TeamMember.objects.filter(team=team, user=user).first()
        added = member is None
        if added:
            member = TeamMember(team=team, user=user, capacity=DEFAULT_CAPACITY)
        changes: dict = {}
        for field, value in (("capacity", capacity), ("priority", priority), ("skills", skills)):
            if value is not None and (added or getattr(member, field) != value):
                changes[field] = value if added else [getattr(member, field), value]
                setattr(member, field, value)
        if not (added or changes):
            return member
        raised = not added and "capacity" in changes and changes["capacity"][1] > changes["capacity"][0]
        member.save()
        audit_record(
            action="team.member_added" if added else "team.member_updated", entity_type="team",
            entity_id=team.pk, actor=actor, changes={"user_id": user.pk, **changes},
        )
        _published(team.pk)
        if added or raised:
            publish(TEAM_MEMBERS_CHANGED, {"team_id": team.pk, "user_id": user.pk})
        if added:
            _resync_after_commit([user.pk])
    return member


def team_member_remove(*, actor: Actor | None, team: Team, user_id: int) -> bool:
    """Remove the member (False: they were not one). Conversations they hold stay theirs."""
    check_team_manage(actor=actor)
    with transaction.atomic():
        team = Team.objects.select_for_update().get(pk=team.pk)
        deleted, _rows = TeamMember.objects.filter(team=team, user_id=user_id).delete()
        if not deleted:
            return False
        audit_record(action="team.member_removed", entity_type="team", entity_id=team.pk, actor=actor,
                     changes={"user_id": user_id})
        _published(team.pk)
        _resync_after_commit([user_id])
    return True
