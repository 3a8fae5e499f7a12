"""Writes of flows: create, change the draft, publish a version, delete; start one by hand.

Managers (supervisors, admins) write flows; the draft is validated on every save (`graph.validate_graph`,
a 422 naming the node) and again when published. Publishing freezes the draft as a new version;
sessions already running keep the version they started on.
"""

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor, acting_user
from apps.audit.services import audit_record
from apps.conversations.models import Conversation
from apps.conversations.selectors import conversation_get_for
from apps.flows.graph import validate_graph
from apps.flows.in_use import mark_in_use_after_commit
from apps.flows.models import Flow, FlowSession, FlowVersion
from apps.flows.runner import session_end, session_start
from apps.inboxes.models import Inbox
from apps.teams.models import Team
from conversa.errors import Conflict, ValidationFailed
from tenants.limits import ensure_feature
from tenants.models import Company

MAX_KEYWORDS = 20
MAX_TIMEOUT_MINUTES = 7 * 24 * 60


def check_flow_manage(*, actor: Actor | None) -> None:
    if actor is not None:
        permissions.check(actor, "flows.manage")
    ensure_feature(Company.objects.select_related("plan").get(schema_name=connection.schema_name), "flows")


def check_graph(graph) -> None:
    details = validate_graph(graph, team_ids=set(Team.objects.values_list("pk", flat=True)))
    if details:
        raise ValidationFailed(_("The flow has problems; each one names its node."), details=details)


def _clean_trigger(trigger) -> dict:
    if not isinstance(trigger, dict) or trigger.get("type") not in Flow.Trigger.values:
        raise ValidationFailed(
            details=[
                {
                    "field": "trigger.type",
                    "message": _("Use one of %(types)s.") % {"types": ", ".join(Flow.Trigger.values)},
                }
            ]
        )
    inbox_id = trigger.get("inbox_id")
    if inbox_id is not None and not Inbox.objects.filter(pk=inbox_id).exists():
        raise ValidationFailed(details=[{"field": "trigger.inbox_id", "message": _("No such inbox.")}])
    keywords = [str(word).strip() for word in trigger.get("keywords") or [] if str(word).strip()]
    if trigger["type"] == Flow.Trigger.KEYWORD and not keywords:
        raise ValidationFailed(
            details=[{"field": "trigger.keywords", "message": _("Give at least one keyword.")}]
        )
    if len(keywords) > MAX_KEYWORDS or any(len(word) > 100 for word in keywords):
        raise ValidationFailed(
            details=[{"field": "trigger.keywords", "message": _("At most 20 keywords of 100 characters.")}]
        )
    return {"trigger_type": trigger["type"], "trigger_inbox_id": inbox_id, "trigger_keywords": keywords}


def _clean_fields(fields: dict) -> dict:
    cleaned = {}
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not 1 <= len(name) <= 200:
            raise ValidationFailed(details=[{"field": "name", "message": _("1 to 200 characters.")}])
        cleaned["name"] = name
    if "description" in fields:
        cleaned["description"] = (fields["description"] or "")[:2000]
    if "timeout_minutes" in fields:
        minutes = fields["timeout_minutes"]
        if not isinstance(minutes, int) or not 1 <= minutes <= MAX_TIMEOUT_MINUTES:
            raise ValidationFailed(
                details=[{"field": "timeout_minutes", "message": _("1 minute to 7 days.")}]
            )
        cleaned["timeout_minutes"] = minutes
    if "is_active" in fields:
        cleaned["is_active"] = bool(fields["is_active"])
    if "trigger" in fields:
        cleaned.update(_clean_trigger(fields["trigger"]))
    if "graph" in fields:
        check_graph(fields["graph"])
        cleaned["graph"] = fields["graph"]
    return cleaned


def flow_create(
    *,
    actor: Actor | None,
    name: str,
    trigger: dict,
    graph: dict,
    description: str = "",
    timeout_minutes: int = 60,
    is_active: bool = True,
    request=None,
) -> Flow:
    check_flow_manage(actor=actor)
    cleaned = _clean_fields(
        {
            "name": name,
            "trigger": trigger,
            "graph": graph,
            "description": description,
            "timeout_minutes": timeout_minutes,
            "is_active": is_active,
        }
    )
    with transaction.atomic():
        flow = Flow.objects.create(created_by=acting_user(actor), **cleaned)
        audit_record(
            action="flow.create",
            entity_type="flow",
            entity_id=flow.pk,
            actor=actor,
            changes={"name": [None, flow.name]},
            request=request,
        )
    return flow


def flow_update(*, actor: Actor | None, flow: Flow, request=None, **fields) -> Flow:
    """Change the draft (and name, trigger, timeout, active); the published version stays as it was."""
    check_flow_manage(actor=actor)
    cleaned = _clean_fields(fields)
    with transaction.atomic():
        locked = Flow.objects.select_for_update().get(pk=flow.pk, deleted_at__isnull=True)
        changes = {}
        for name, value in cleaned.items():
            if getattr(locked, name) != value:
                changes[name.removeprefix("trigger_")] = (
                    ["…", "…"] if name == "graph" else [getattr(locked, name), value]
                )
                setattr(locked, name, value)
        if changes:
            locked.save()
            audit_record(
                action="flow.update",
                entity_type="flow",
                entity_id=locked.pk,
                actor=actor,
                changes=changes,
                request=request,
            )
    return locked


def flow_publish(*, actor: Actor | None, flow: Flow, request=None) -> FlowVersion:
    """Freeze the draft as the next version (the same draft published again is the same version).
    Running sessions finish on the version they started on; new ones start on this one."""
    check_flow_manage(actor=actor)
    with transaction.atomic():
        locked = Flow.objects.select_for_update().get(pk=flow.pk, deleted_at__isnull=True)
        check_graph(locked.graph)
        latest = locked.versions.order_by("-number").first()
        if latest is not None and latest.graph == locked.graph:
            version = latest
        else:
            number = (locked.versions.aggregate(top=Max("number"))["top"] or 0) + 1
            version = FlowVersion.objects.create(
                flow=locked, number=number, graph=locked.graph, published_by=acting_user(actor)
            )
        previous = locked.published_version.number if locked.published_version_id else None
        mark_in_use_after_commit()
        if locked.published_version_id != version.pk:
            locked.published_version = version
            locked.save(update_fields=["published_version", "updated_at"])
            audit_record(
                action="flow.publish",
                entity_type="flow",
                entity_id=locked.pk,
                actor=actor,
                changes={"version": [previous, version.number]},
                request=request,
            )
    return version


def flow_delete(*, actor: Actor | None, flow: Flow, request=None) -> None:
    """Soft delete: nothing triggers it any more, its running sessions stop (their conversations go
    to the queue); versions and sessions stay for the reports."""
    check_flow_manage(actor=actor)
    with transaction.atomic():
        locked = Flow.objects.select_for_update().get(pk=flow.pk, deleted_at__isnull=True)
        locked.deleted_at = timezone.now()
        locked.save(update_fields=["deleted_at", "updated_at"])
        audit_record(
            action="flow.delete",
            entity_type="flow",
            entity_id=locked.pk,
            actor=actor,
            changes={"name": [locked.name, None]},
            request=request,
        )
        running = FlowSession.objects.filter(flow=locked, status=FlowSession.Status.RUNNING)
        for conversation_id in running.values_list("conversation_id", flat=True):
            session_end(conversation_id=conversation_id, reason="flow_deleted")


def flow_start(*, actor: Actor, flow: Flow, conversation_id: int) -> FlowSession:
    """An agent starts a published flow in a conversation they may write to (404 if they cannot see
    it); 409 if a flow already talks there or the flow is not published or active."""
    permissions.check(actor, "flows.start")
    ensure_feature(Company.objects.select_related("plan").get(schema_name=connection.schema_name), "flows")
    conversation = conversation_get_for(actor, conversation_id)
    permissions.check(actor, "conversations.write")
    if flow.published_version_id is None or not flow.is_active or flow.deleted_at is not None:
        raise Conflict(_("Publish and activate the flow before starting it."))
    if conversation.status not in Conversation.ACTIVE_STATUSES:
        raise Conflict(_("A flow can only start in a conversation in progress."))
    session = session_start(
        flow=flow, conversation=conversation, trigger=Flow.Trigger.MANUAL, started_by=acting_user(actor)
    )
    if session is None:
        raise Conflict(_("A flow is already running in this conversation."))
    return session
