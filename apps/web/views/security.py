"""The signed-in user's security page: two-factor sign-in (QR code, backup codes shown once), the
devices signed in through the API (apps, integrations) to sign out, and, for admins, the
company-wide requirement."""

import segno
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.accounts import device_sessions, two_factor
from apps.web.auth import action_required, agent_required
from conversa.errors import DomainError


def _qr_data_uri(url: str) -> str:
    # An SVG data URI: CSP allows `img-src data:`, and nothing about the secret leaves the page.
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2)


def _page(request, *, status=200, **context):
    user = request.user
    pending = None if two_factor.is_on(user) else two_factor.pending_secret(user)
    context.setdefault("enabled", two_factor.is_on(user))
    context.update({
        "section": "profile",
        "required": two_factor.company_requires(),
        "codes_left": two_factor.backup_codes_left(user),
        "sessions": list(device_sessions.device_sessions_of(user)[:200]),
    })
    if pending and not context.get("backup_codes"):
        secret, url = pending
        context.update({"secret": secret, "otpauth_url": url, "qr": _qr_data_uri(url)})
    response = render(request, "web/security.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may show the secret or backup codes
    return response


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@agent_required
def security_view(request):
    user = request.user
    if request.method != "POST":
        return _page(request)
    step = request.POST.get("step")
    try:
        if step == "start":
            two_factor.two_factor_setup(user=user)
        elif step == "enable":
            codes = two_factor.two_factor_enable(user=user, code=request.POST.get("code", "")[:32],
                                                 request=request)
            return _page(request, backup_codes=codes, enabled=True)
        elif step == "revoke":
            device_sessions.device_session_revoke(user=user, session_id=_int(request.POST.get("session")))
            messages.success(request, _("The device is signed out."))
        elif step == "revoke_all":
            device_sessions.device_sessions_revoke_others(user=user, keep_id=None)
            messages.success(request, _("Every device is signed out."))
        elif step == "disable":
            two_factor.two_factor_disable(user=user, password=request.POST.get("password", "")[:128],
                                          code=request.POST.get("code", "")[:32], request=request)
            messages.success(request, _("Two-factor sign-in is off."))
    except DomainError as exc:
        details = [detail["message"] for detail in exc.details] or [exc.message]
        return _page(request, error=" ".join(details), status=exc.status)
    return redirect("web:security")


@action_required("company.manage")
@require_POST
def require_two_factor_view(request):
    """The company-wide requirement, a form on the branding page."""
    two_factor.company_set_require_two_factor(
        actor=request.user, enabled=request.POST.get("require_two_factor") == "on", request=request,
    )
    messages.success(request, _("Settings saved."))
    return redirect("web:settings-branding")
