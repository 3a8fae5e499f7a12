"""Invitations: an admin invites by email with a role (and teams); the emailed link is single-use,
expires after INVITATION_TTL_DAYS and lands on a branded page where the person sets name and password.

Only a SHA-256 of the link's token is stored; the token itself exists in the email alone (the
outbox erases the body once sent).
"""

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts import permissions
from apps.accounts.events import INVITATION_ACCEPTED
from apps.accounts.models import Invitation, User
from apps.accounts.permissions import Actor, acting_user
from apps.accounts.services import user_create
from apps.audit.changes import created
from apps.audit.services import audit_record
from apps.mail.services import email_queue
from conversa.errors import Conflict, NotFound, TokenInvalid, ValidationFailed
from conversa.events import publish
from tenants.limits import ensure_within_limit, lock_current_company

INVITE_PATH = "/app/invite/{token}/"


class InvitationInvalid(TokenInvalid):
    code = "invitation_invalid"
    default_message = _("This invitation link is invalid, expired or already used.")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _pending() -> Q:
    return Q(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


# --- reads ----------------------------------------------------------------------------------------

def invitations_visible_to(actor: Actor) -> QuerySet[Invitation]:
    """Whoever manages users sees the company's invitations (admins; keys with `users:write`)."""
    permissions.check(actor, "users.manage")
    return Invitation.objects.select_related("invited_by")


def pending_invitations_visible_to(actor: Actor) -> QuerySet[Invitation]:
    return invitations_visible_to(actor).filter(_pending())


def invitation_get_for(actor: Actor, invitation_id: int) -> Invitation:
    invitation = invitations_visible_to(actor).filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound()
    return invitation


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation of this link (in the current schema only), else InvitationInvalid."""
    invitation = Invitation.objects.filter(_pending(), token_hash=token_hash(token or "")).first()
    if invitation is None:
        raise InvitationInvalid()
    return invitation


# --- writes ---------------------------------------------------------------------------------------

def _send(invitation: Invitation, token: str, *, base_url: str | None) -> None:
    inviter = invitation.invited_by
    email_queue(
        kind="invitation", to=invitation.email, language=invitation.language or None, base_url=base_url,
        sensitive=True, link_path=INVITE_PATH.format(token=token), context={
            "inviter": (inviter.name or inviter.email) if inviter else "",
            "expires_at": invitation.expires_at,
        },
    )


def _new_token(invitation: Invitation) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = token_hash(token)
    invitation.expires_at = timezone.now() + dt.timedelta(days=settings.INVITATION_TTL_DAYS)
    invitation.sent_at = timezone.now()
    return token


def invitation_create(
    *, actor: Actor, email: str, role: str = User.Role.AGENT, team_ids: list[int] | None = None,
    language: str = "", base_url: str | None = None,
) -> Invitation:
    """Invite `email` (for whoever manages users). 409 if a user or a pending invitation has that
    email; the plan's `max_agents` counts pending invitations as seats.

    `team_ids` must already be checked by the caller against the teams it may see (teams sit
    above accounts). Locks the company row, so concurrent invitations cannot overshoot the plan.
    """
    permissions.check(actor, "users.manage")
    email = User.objects.normalize_email(email or "").strip().lower()
    if role not in User.Role.values:
        raise ValidationFailed(details=[{"field": "role", "message": str(_("Unknown role."))}])
    with transaction.atomic():
        company = lock_current_company()
        if User.objects.filter(email__iexact=email).exists():
            raise Conflict(_("A user with this email already exists."),
                           details=[{"field": "email", "message": str(_("Already in use."))}])
        if Invitation.objects.filter(_pending(), email__iexact=email).exists():
            raise Conflict(_("This email already has a pending invitation."),
                           details=[{"field": "email", "message": str(_("Already invited."))}])
        ensure_within_limit(company, "max_agents", used=(
            User.objects.filter(is_active=True).count() + Invitation.objects.filter(_pending()).count()
        ))
        invitation = Invitation(
            email=email, role=role, team_ids=sorted(set(team_ids or [])), language=language or "",
            invited_by=acting_user(actor),
        )
        token = _new_token(invitation)
        invitation.save()
        audit_record(action="invitation.created", entity_type="invitation", entity_id=invitation.pk,
                     actor=actor, changes=created(invitation, ["email", "role", "team_ids", "expires_at"]))
        _send(invitation, token, base_url=base_url)
    return invitation


def invitation_resend(*, actor: Actor, invitation: Invitation, base_url: str | None = None) -> Invitation:
    """Email a new link (the previous one stops working) valid for another INVITATION_TTL_DAYS;
    an expired invitation comes back to life. 409 once accepted or revoked."""
    permissions.check(actor, "users.manage")
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at or invitation.revoked_at:
            raise Conflict(_("This invitation was already accepted or revoked."))
        token = _new_token(invitation)
        invitation.save(update_fields=["token_hash", "expires_at", "sent_at"])
        audit_record(action="invitation.resent", entity_type="invitation", entity_id=invitation.pk,
                     actor=actor, changes={"email": invitation.email})
        _send(invitation, token, base_url=base_url)
    return invitation


def invitation_revoke(*, actor: Actor, invitation: Invitation) -> Invitation:
    """Its link stops working at once (idempotent); 409 once accepted."""
    permissions.check(actor, "users.manage")
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at:
            raise Conflict(_("This invitation was already accepted."))
        if invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            audit_record(action="invitation.revoked", entity_type="invitation", entity_id=invitation.pk,
                         actor=actor,
                         changes={**created(invitation, ["revoked_at"]), "email": invitation.email})
    return invitation


def invitation_accept(*, token: str, name: str, password: str) -> User:
    """Create the invited user (role, language) and use up the invitation, in one transaction.

    The row is locked, so a link clicked twice at once makes one user; the teams are joined
    after commit (`invitation.accepted`).
    """
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(details=[{"field": "name", "message": str(_("Enter your name."))}])
    if len(name) > User._meta.get_field("name").max_length:
        raise ValidationFailed(details=[{"field": "name", "message": str(_("At most 150 characters."))}])
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(
            _pending(), token_hash=token_hash(token or ""),
        ).first()
        if invitation is None:
            raise InvitationInvalid()
        user = user_create(
            actor=None, email=invitation.email, password=password, name=name, role=invitation.role,
            language=invitation.language or "en",
        )
        invitation.accepted_at, invitation.user = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "user"])
        audit_record(action="invitation.accepted", entity_type="invitation", entity_id=invitation.pk,
                     actor=user, changes={**created(invitation, ["accepted_at", "user_id"]),
                                         "email": invitation.email, "role": invitation.role})
        publish(INVITATION_ACCEPTED, {"user_id": user.pk, "team_ids": invitation.team_ids})
    return user
