"""Settings → Users: invite by email, pending invitations (resend, revoke); and the branded page an
invitation's link opens, where the invited person sets name and password."""

from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.accounts import invitations
from apps.teams.selectors import teams_visible_to
from apps.web.auth import action_required
from apps.web.forms import AcceptInvitationForm, InvitationForm
from apps.web.views.settings import _page, _seats
from conversa.errors import DomainError


@action_required("users.manage")
def invitations_view(request):
    """The invite form and the pending invitations."""
    teams = teams_visible_to(request.user)
    form = InvitationForm(request.POST or None, teams=teams,
                          initial={"language": request.tenant.default_language.lower()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                invitation = invitations.invitation_create(
                    actor=request.user, email=data["email"], role=data["role"],
                    team_ids=[team.pk for team in data.get("teams") or []], language=data["language"],
                    base_url=request.build_absolute_uri("/"),
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
                return redirect("web:settings-invitations")
        else:
            status = 422
    return _page(request, "web/settings/invitations.html", "users", {
        "form": form,
        "invitations": invitations.pending_invitations_visible_to(request.user).order_by("-created_at"),
        "seats": _seats(request),
    }, status=status)


@action_required("users.manage")
@require_POST
def resend_view(request, invitation_id: int):
    try:
        invitation = invitations.invitation_get_for(request.user, invitation_id)
        invitations.invitation_resend(actor=request.user, invitation=invitation,
                                      base_url=request.build_absolute_uri("/"))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invitation sent again to %(email)s.") % {"email": invitation.email})
    return redirect("web:settings-invitations")


@action_required("users.manage")
@require_POST
def revoke_view(request, invitation_id: int):
    try:
        invitation = invitations.invitation_get_for(request.user, invitation_id)
        invitations.invitation_revoke(actor=request.user, invitation=invitation)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invitation to %(email)s revoked.") % {"email": invitation.email})
    return redirect("web:settings-invitations")


def accept_view(request, token: str):
    """Open to anyone with the link (it is the credential); a used or expired link says so."""
    try:
        invitation = invitations.invitation_for_token(token)
    except DomainError:
        return _no_store(render(request, "web/invite_accept.html", {"invalid": True}, status=404))
    form = AcceptInvitationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                user = invitations.invitation_accept(
                    token=token, name=form.cleaned_data["name"], password=form.cleaned_data["password"],
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("web:inbox")
        else:
            status = 422
    return _no_store(render(request, "web/invite_accept.html",
                            {"form": form, "invitation": invitation}, status=status))


def _no_store(response):
    """The page's URL holds a credential: no cache keeps it (the site-wide Referrer-Policy,
    same-origin, already keeps it from other sites; no-referrer would make Chromium send
    `Origin: null` with the form, which CSRF refuses)."""
    response["Cache-Control"] = "no-store"
    return response
