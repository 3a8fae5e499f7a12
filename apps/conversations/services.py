"""Agents' actions on conversations: assignment, status, priority, labels, notes, read marks.

Every action takes the acting user or API key (`actor`; None only for the system itself), locks the
conversation row, checks under the lock that the actor may see it (404 otherwise) and may take the
action (403), writes a timeline event and publishes its event after commit. Refused requests raise
before anything is written.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from apps.accounts import permissions
from apps.accounts.models import User
from apps.accounts.permissions import Actor
from apps.audit.changes import changes_between, snapshot
from apps.audit.services import audit_record
from apps.conversations import events
from apps.conversations.labels import labels_changed
from apps.conversations.mentions import mentions_notify
from apps.conversations.models import (
    Conversation,
    Note,
    QuickReply,
    ReadMark,
    ScheduledMessage,
    TimelineEvent,
)
from apps.conversations.selectors import may_see_conversation
from apps.notifications.services import notify
from apps.teams.models import Team
from conversa.errors import Conflict, DomainError, NotFound, ValidationFailed
from conversa.events import publish

MAX_LABELS = 20


class InvalidTransition(DomainError):
    status = 422
    code = "invalid_transition"
    default_message = _("This status change is not allowed.")


def check_conversation_action(*, actor: Actor | None, conversation: Conversation, action: str) -> None:
    """404 unless the actor may see the conversation, then 403 unless it may take `action`.
    The system (actor None: routing, schedules, flows) may do anything."""
    if actor is None:
        return
    if not may_see_conversation(actor, conversation):
        raise NotFound()
    permissions.check(actor, action)


def _holds(actor: Actor, conversation: Conversation) -> bool:
    return isinstance(actor, User) and conversation.assignee_id == actor.pk


def check_conversation_assign(*, actor: Actor | None, conversation: Conversation, assignee: User) -> None:
    """Anyone who may write takes a conversation for themselves or hands over one they hold; giving
    anyone else's (or an unassigned one) to somebody else is routing, for supervisors and admins.
    The same rule for `assign` and `transfer`, on every door."""
    check_conversation_action(actor=actor, conversation=conversation, action="conversations.write")
    if actor is None:
        return
    taking = isinstance(actor, User) and assignee.pk == actor.pk
    if not (taking or _holds(actor, conversation)):
        permissions.check(actor, "conversations.route")


def may_hand_over(*, actor: Actor, conversation: Conversation) -> bool:
    """Whether the actor may give the conversation to someone other than themselves (what the UI
    offers; `check_conversation_assign` is what decides)."""
    action = "conversations.write" if _holds(actor, conversation) else "conversations.route"
    return permissions.may(actor, action)


def _locked(
    conversation: Conversation, actor: Actor | None, action: str = "conversations.write"
) -> Conversation:
    """The conversation's row, locked, after the actor's right to act on it is checked on that row."""
    locked = (
        Conversation.objects.select_for_update(of=("self",)).select_related("contact").get(pk=conversation.pk)
    )
    check_conversation_action(actor=actor, conversation=locked, action=action)
    return locked


def _timeline(conversation: Conversation, actor: Actor | None, kind: str, **data) -> None:
    TimelineEvent.objects.create(
        conversation=conversation, actor=permissions.acting_user(actor), kind=kind, data=data
    )


# What a conversation's audit entries compare (ids for people and teams: names change).
AUDITED_FIELDS = (
    "status", "assignee_id", "team_id", "priority", "labels", "snoozed_until", "close_reason", "outcome",
)


def _audit(conversation: Conversation, actor: Actor | None, action: str, before: dict, **facts) -> None:
    """One audit entry for a person's or key's action, with the fields it changed from → to
    (caller's transaction). What the system does on its own (routing, auto-close, snooze wake-ups,
    flows: actor None) is on the conversation's timeline, not in the audit log: routing assigns
    thousands an hour and each entry would be one more write on its hot path."""
    if actor is None:
        return
    changes = changes_between(before, conversation, AUDITED_FIELDS)
    if changes or facts:
        audit_record(action=action, entity_type="conversation", entity_id=conversation.pk, actor=actor,
                     changes={**changes, **facts})


def _status_name(value: str) -> str:
    """A status as the message's reader calls it ("archived", "archivada"); unknown values as given."""
    labels = dict(Conversation.Status.choices)
    return str(labels[value]).lower() if value in labels else value


def _move(conversation: Conversation, status: str, *, actor: Actor | None) -> None:
    """Change the status in place if allowed (caller holds the lock and saves)."""
    if status == conversation.status:
        return
    if not conversation.can_move_to(status):
        allowed = ", ".join(map(_status_name, conversation.TRANSITIONS[conversation.status])) or _("none")
        raise InvalidTransition(
            _("Cannot move from %(from)s to %(to)s. Allowed: %(allowed)s.")
            % {"from": _status_name(conversation.status), "to": _status_name(status), "allowed": allowed},
            details=[{"field": "status", "message": str(_("Allowed: %(allowed)s.") % {"allowed": allowed})}],
        )
    previous = conversation.status
    conversation.status = status
    now = timezone.now()
    if status == Conversation.Status.CLOSED:
        conversation.closed_at = now
    elif previous == Conversation.Status.CLOSED:
        conversation.closed_at = None
        conversation.close_reason = ""
    _timeline(conversation, actor, "status_changed", **{"from": previous, "to": status})
    publish(
        events.CONVERSATION_STATUS_CHANGED,
        {"conversation_id": conversation.pk, "from": previous, "to": status},
    )


def conversation_set_status(*, conversation: Conversation, status: str, actor: Actor | None) -> Conversation:
    if status not in Conversation.Status.values:
        raise ValidationFailed(details=[{"field": "status", "message": str(_("Unknown status."))}])
    with transaction.atomic():
        conversation = _locked(conversation, actor)
        before = snapshot(conversation, AUDITED_FIELDS)
        _move(conversation, status, actor=actor)
        conversation.save()
        _audit(conversation, actor, "conversation.status_changed", before)
    return conversation


def conversation_assign(
    *, conversation: Conversation, assignee: User, actor: Actor | None, reason: str = "", by: str = ""
) -> Conversation:
    """Assign (or transfer) to an active user; a waiting conversation becomes open.
    Who may hand what to whom: `check_conversation_assign`, checked on the locked row. `by` names
    the system part that chose the assignee (e.g. "routing") on the timeline."""
    if not assignee.is_active:
        raise ValidationFailed(details=[{"field": "assignee_id", "message": str(_("Inactive user."))}])
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",)).select_related("contact").get(pk=conversation.pk)
        )
        check_conversation_assign(actor=actor, conversation=conversation, assignee=assignee)
        if conversation.status in (Conversation.Status.CLOSED, Conversation.Status.ARCHIVED):
            raise InvalidTransition(_("Reopen the conversation before assigning it."))
        previous = conversation.assignee_id
        if previous == assignee.pk:
            return conversation
        before = snapshot(conversation, AUDITED_FIELDS)
        conversation.assignee = assignee
        conversation.assigned_at = timezone.now()
        conversation.handed_back_by = None
        if conversation.status != Conversation.Status.OPEN:
            _move(conversation, Conversation.Status.OPEN, actor=actor)
        conversation.save()
        kind = "transferred" if previous else "assigned"
        _audit(conversation, actor, f"conversation.{kind}", before,
               **({"reason": reason} if reason else {}), **({"by": by} if by else {}))
        _timeline(
            conversation, actor, kind, assignee_id=assignee.pk, previous_assignee_id=previous, reason=reason,
            **({"by": by} if by else {}),
        )
        publish(
            events.CONVERSATION_ASSIGNED,
            {
                "conversation_id": conversation.pk,
                "previous_assignee_id": previous,
            },
        )
    return conversation


def conversation_transfer(
    *,
    conversation: Conversation,
    actor: Actor | None,
    agent: User | None = None,
    team: Team | None = None,
    reason: str = "",
) -> Conversation:
    """Hand the conversation to an agent (as `conversation_assign`) or to a team, whose queue it
    joins unassigned, waiting for routing or a member. Moving it to a team is handing it over: its
    holder may, anyone else needs to route."""
    if (agent is None) == (team is None):
        raise ValidationFailed(
            details=[{"field": "agent_id", "message": str(_("Give an agent or a team, not both."))}]
        )
    if agent is not None:
        with transaction.atomic():
            held_by = (
                Conversation.objects.select_for_update(of=("self",))
                .values_list("assignee_id", flat=True).get(pk=conversation.pk)
            )
            conversation = conversation_assign(
                conversation=conversation, assignee=agent, actor=actor, reason=reason
            )
            if held_by != agent.pk:
                _notify_transfer(conversation, actor, users=[agent], reason=reason)
        return conversation
    with transaction.atomic():
        conversation = _locked(conversation, actor)
        if actor is not None and not _holds(actor, conversation):
            permissions.check(actor, "conversations.route")
        if conversation.status in (Conversation.Status.CLOSED, Conversation.Status.ARCHIVED):
            raise InvalidTransition(_("Reopen the conversation before transferring it."))
        previous_assignee, previous_team = conversation.assignee_id, conversation.team_id
        if previous_team == team.pk and previous_assignee is None:
            return conversation
        before = snapshot(conversation, AUDITED_FIELDS)
        conversation.team = team
        conversation.assignee = None
        conversation.assigned_at = None
        conversation.handed_back_by_id = previous_assignee
        if conversation.status != Conversation.Status.QUEUED:
            # Into the team's queue: not a user-chosen transition, so it bypasses the table.
            publish(
                events.CONVERSATION_STATUS_CHANGED,
                {"conversation_id": conversation.pk, "from": conversation.status, "to": "queued"},
            )
            conversation.status = Conversation.Status.QUEUED
        conversation.queued_at = timezone.now()
        conversation.save()
        _audit(conversation, actor, "conversation.transferred", before,
               **({"reason": reason} if reason else {}))
        _timeline(
            conversation, actor, "transferred",
            team_id=team.pk, previous_team_id=previous_team, previous_assignee_id=previous_assignee,
            reason=reason,
        )
        publish(
            events.CONVERSATION_ASSIGNED,
            {
                "conversation_id": conversation.pk,
                "previous_assignee_id": previous_assignee,
                "previous_team_id": previous_team,
            },
        )
        publish(events.CONVERSATION_QUEUED, {"conversation_id": conversation.pk, "team_id": team.pk})
        _notify_transfer(conversation, actor, users=_available_members(team), reason=reason, team=team)
    return conversation


def _available_members(team: Team) -> list[User]:
    """Who of a receiving team can act on it now: its available members; if none is, the team's
    supervisors (someone must know the queue grew)."""
    members = User.objects.filter(team_memberships__team=team, is_active=True)
    available = list(members.filter(status=User.Status.AVAILABLE))
    return available or list(members.filter(role=User.Role.SUPERVISOR))


def _notify_transfer(
    conversation: Conversation, actor: Actor | None, *, users: list[User], reason: str,
    team: Team | None = None,
) -> None:
    """Tell the receivers (never the one who transferred) in the caller's transaction."""
    by = permissions.acting_user(actor)
    receivers = [user for user in users if by is None or user.pk != by.pk]
    if not receivers:
        return
    contact = conversation.contact.name or conversation.contact.phone
    data = {
        "conversation_id": conversation.pk, "team_id": team.pk if team else None,
        "by_user_id": by.pk if by else None, "reason": reason,
    }
    for receiver in receivers:
        # In the receiver's language, not the language of whoever transferred it.
        with translation.override(receiver.language or None):
            if team is not None:
                title = _("Conversation with %(contact)s transferred to %(team)s") % {
                    "contact": contact, "team": team.name,
                }
            else:
                title = _("Conversation with %(contact)s transferred to you") % {"contact": contact}
            notify(users=[receiver], kind="transfer", title=str(title), body=reason, data=data)


def conversation_unassign(*, conversation: Conversation, actor: Actor | None) -> Conversation:
    """Give the conversation back to the queue."""
    with transaction.atomic():
        conversation = _locked(conversation, actor)
        previous = conversation.assignee_id
        if previous is None:
            return conversation
        before = snapshot(conversation, AUDITED_FIELDS)
        conversation.assignee = None
        conversation.assigned_at = None
        conversation.handed_back_by_id = previous
        if conversation.status in (Conversation.Status.OPEN, Conversation.Status.PENDING):
            # Back in the queue: not a user-chosen transition, so it bypasses the table.
            publish(
                events.CONVERSATION_STATUS_CHANGED,
                {"conversation_id": conversation.pk, "from": conversation.status, "to": "queued"},
            )
            conversation.status = Conversation.Status.QUEUED
        conversation.save()
        _audit(conversation, actor, "conversation.unassigned", before)
        _timeline(conversation, actor, "unassigned", previous_assignee_id=previous)
        publish(
            events.CONVERSATION_ASSIGNED,
            {
                "conversation_id": conversation.pk,
                "previous_assignee_id": previous,
            },
        )
    return conversation


def conversation_start_bot(*, conversation: Conversation) -> Conversation:
    """A flow starts talking: the conversation (in progress) moves to `bot`, out of the team's queue
    (routing serves only `queued` ones), keeping its assignee if an agent started the flow. The
    system's move, not one an agent picks, so it bypasses the table; the caller holds the lock."""
    conversation = Conversation.objects.select_for_update(of=("self",)).get(pk=conversation.pk)
    if conversation.status not in Conversation.ACTIVE_STATUSES:
        raise InvalidTransition(_("A flow can only start in a conversation in progress."))
    if conversation.status != Conversation.Status.BOT:
        previous = conversation.status
        conversation.status = Conversation.Status.BOT
        conversation.save(update_fields=["status", "updated_at"])
        _timeline(conversation, None, "status_changed", **{"from": previous, "to": conversation.status})
        publish(
            events.CONVERSATION_STATUS_CHANGED,
            {"conversation_id": conversation.pk, "from": previous, "to": conversation.status},
        )
    return conversation


def conversation_set_bot_context(*, conversation_id: int, context: dict) -> None:
    """What the running flow knows (its variables), shown with the conversation."""
    Conversation.objects.filter(pk=conversation_id).update(bot_context=context)


def conversation_set_priority(
    *, conversation: Conversation, priority: str, actor: Actor | None
) -> Conversation:
    if priority not in Conversation.Priority.values:
        raise ValidationFailed(details=[{"field": "priority", "message": str(_("Unknown priority."))}])
    with transaction.atomic():
        conversation = _locked(conversation, actor)
        if conversation.priority != priority:
            before = snapshot(conversation, AUDITED_FIELDS)
            _timeline(
                conversation, actor, "priority_changed", **{"from": conversation.priority, "to": priority}
            )
            conversation.priority = priority
            conversation.save()
            _audit(conversation, actor, "conversation.priority_changed", before)
            publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
    return conversation


def conversation_set_labels(
    *, conversation: Conversation, add: list[str] = (), remove: list[str] = (), actor: Actor | None
) -> Conversation:
    with transaction.atomic():
        conversation = _locked(conversation, actor)
        labels = [label for label in conversation.labels if label not in set(remove)]
        labels += [label for label in dict.fromkeys(add) if label not in labels]
        if len(labels) > MAX_LABELS:
            raise ValidationFailed(
                details=[{"field": "labels",
                          "message": str(_("At most %(max)d labels.") % {"max": MAX_LABELS})}],
            )
        if labels != conversation.labels:
            before = snapshot(conversation, AUDITED_FIELDS)
            _timeline(conversation, actor, "labels_changed", added=list(add), removed=list(remove))
            conversation.labels = labels
            conversation.save()
            _audit(conversation, actor, "conversation.labels_changed", before)
            labels_changed()
            publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
    return conversation


def conversation_close(
    *, conversation: Conversation, actor: Actor | None, reason: str = "", outcome: str = "",
    outcome_value=None,
) -> Conversation:
    with transaction.atomic():
        conversation = _locked(conversation, actor)
        before = snapshot(conversation, AUDITED_FIELDS)
        _move(conversation, Conversation.Status.CLOSED, actor=actor)
        conversation.close_reason, conversation.outcome = reason, outcome
        conversation.outcome_value = outcome_value
        conversation.snoozed_until = None
        conversation.save()
        _audit(conversation, actor, "conversation.closed", before)
    return conversation


def conversation_reopen(*, conversation: Conversation, actor: Actor | None) -> Conversation:
    """Reopen a closed conversation; refused if the contact already has another one in progress."""
    with transaction.atomic():
        conversation = _locked(conversation, actor)
        if conversation.status != Conversation.Status.CLOSED:
            raise InvalidTransition(_("Only closed conversations can be reopened."))
        active = Conversation.objects.filter(
            contact_id=conversation.contact_id,
            inbox_id=conversation.inbox_id,
            status__in=Conversation.ACTIVE_STATUSES,
        ).exclude(pk=conversation.pk)
        if active.exists():
            raise Conflict(_("The contact already has a conversation in progress in this inbox."))
        before = snapshot(conversation, AUDITED_FIELDS)
        _move(conversation, Conversation.Status.OPEN, actor=actor)
        conversation.save()
        _audit(conversation, actor, "conversation.reopened", before)
    return conversation


def conversation_snooze(
    *, conversation: Conversation, until: dt.datetime | None, actor: Actor | None
) -> Conversation:
    if until is not None and until <= timezone.now():
        raise ValidationFailed(details=[{"field": "until", "message": str(_("Must be in the future."))}])
    with transaction.atomic():
        conversation = _locked(conversation, actor)
        before = snapshot(conversation, AUDITED_FIELDS)
        conversation.snoozed_until = until
        if until is not None and conversation.status == Conversation.Status.OPEN:
            _move(conversation, Conversation.Status.PENDING, actor=actor)
        conversation.save()
        _audit(conversation, actor, "conversation.snoozed", before)
        _timeline(conversation, actor, "snoozed", until=until.isoformat() if until else None)
        publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
        if until is not None:
            publish(
                events.CONVERSATION_SNOOZED, {"conversation_id": conversation.pk, "until": until.isoformat()}
            )
    return conversation


def conversation_mark_read(*, conversation: Conversation, user: User) -> Conversation:
    now = timezone.now()
    with transaction.atomic():
        conversation = _locked(conversation, user, "conversations.read")
        ReadMark.objects.update_or_create(conversation=conversation, user=user, defaults={"read_at": now})
        if conversation.unread_count and (conversation.assignee_id in (None, user.pk)):
            conversation.unread_count = 0
            conversation.save(update_fields=["unread_count", "updated_at"])
            publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
    return conversation


def note_add(*, conversation: Conversation, author: User, text: str) -> Note:
    """Add an internal note; colleagues it @mentions (`mentions`) who may see the conversation are
    notified."""
    text = text.strip()
    if not 1 <= len(text) <= 4096:
        raise ValidationFailed(details=[{"field": "text", "message": str(_("1 to 4096 characters."))}])
    with transaction.atomic():
        locked = _locked(conversation, author)
        note = Note.objects.create(conversation=conversation, author=author, text=text)
        _timeline(conversation, author, "note_added", note_id=note.pk)
        mentions_notify(note=note, conversation=locked)
        publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})
    return note


def quick_reply_create(
    *, actor: User | None, shortcut: str, content: str, personal: bool = False
) -> QuickReply:
    """A personal reply (the actor's own) or one shared with the whole company (managers only;
    actor None is the system, e.g. the demo seed)."""
    if actor is not None:
        permissions.check(actor, "quick_replies.use" if personal else "quick_replies.share")
    owner = actor if personal else None
    if QuickReply.objects.filter(shortcut=shortcut, owner=owner).exists():
        raise Conflict(details=[{"field": "shortcut", "message": str(_("Already in use."))}])
    return QuickReply.objects.create(shortcut=shortcut, content=content, owner=owner)


def quick_reply_delete(*, actor: User, quick_reply: QuickReply) -> None:
    """Delete one's own reply, or a shared one (managers only); others' personal replies are 404."""
    if quick_reply.owner_id is not None and quick_reply.owner_id != actor.pk:
        raise NotFound()
    permissions.check(actor, "quick_replies.use" if quick_reply.owner_id else "quick_replies.share")
    quick_reply.delete()


def scheduled_message_create(
    *, conversation: Conversation, author: User, text: str, send_at: dt.datetime
) -> ScheduledMessage:
    text = text.strip()
    if not 1 <= len(text) <= 4096:
        raise ValidationFailed(details=[{"field": "text", "message": str(_("1 to 4096 characters."))}])
    if send_at <= timezone.now():
        raise ValidationFailed(details=[{"field": "send_at", "message": str(_("Must be in the future."))}])
    if send_at > timezone.now() + dt.timedelta(days=366):
        raise ValidationFailed(details=[{"field": "send_at", "message": str(_("At most a year ahead."))}])
    with transaction.atomic():
        _locked(conversation, author)
        scheduled = ScheduledMessage.objects.create(
            conversation=conversation,
            author=author,
            text=text,
            send_at=send_at,
        )
        _timeline(
            conversation, author, "message_scheduled", scheduled_id=scheduled.pk, send_at=send_at.isoformat()
        )
    return scheduled


def scheduled_message_cancel(*, scheduled: ScheduledMessage, actor: Actor) -> ScheduledMessage:
    with transaction.atomic():
        _locked(scheduled.conversation, actor)
        scheduled = ScheduledMessage.objects.select_for_update().get(pk=scheduled.pk)
        if scheduled.status != ScheduledMessage.Status.SCHEDULED:
            raise Conflict(_("Only scheduled messages can be cancelled."))
        scheduled.status = ScheduledMessage.Status.CANCELLED
        scheduled.save(update_fields=["status"])
        _timeline(scheduled.conversation, actor, "schedule_cancelled", scheduled_id=scheduled.pk)
    return scheduled
