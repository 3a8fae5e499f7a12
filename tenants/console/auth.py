"""Signing in to the console: super-admins of the public schema only, password then optional TOTP."""

import time
from functools import wraps

from django.contrib.auth import login, logout
from django.db import connection, transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.accounts import services as accounts
from apps.accounts import throttling
from apps.accounts.models import User
from conversa.errors import DomainError, RateLimited
from conversa.request_meta import RequestMeta, client_ip
from tenants import superadmin_totp as totp
from tenants.audit import platform_audit_record
from tenants.console.forms import CodeForm, LoginForm

PENDING_KEY = "console_pending_user"
PENDING_SECONDS = 300  # between a right password and the TOTP code


def superadmin_required(view):
    """A signed-in super-admin on BASE_DOMAIN; tenant hosts never serve the console."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if connection.schema_name != "public":
            raise Http404
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_superuser):
            return redirect(f"{reverse('console:login')}?next={request.get_full_path()}")
        return view(request, *args, **kwargs)

    return wrapper


def acting(request) -> dict:
    """The signed-in super-admin and the request's meta: the services audit who did it, where."""
    return {"actor": request.user, "meta": RequestMeta.of(request, source="console")}


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/console/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("console:companies")


def _sign_in(request, user: User):
    with transaction.atomic():
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        platform_audit_record(action="console.login", actor=user,
                              meta=RequestMeta.of(request, source="console"))
    return redirect(_next_url(request))


def _pending_user(request) -> User | None:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=pending["id"], is_active=True, is_superuser=True).first()


def login_view(request):
    if connection.schema_name != "public":
        raise Http404
    if request.user.is_authenticated and request.user.is_superuser:
        return redirect(_next_url(request))
    if request.method == "POST" and "otp" in request.POST:
        return _code_step(request)
    form = LoginForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            # In the public schema this refuses anyone but super-admins; tenant users are not here.
            user = accounts.credentials_check(
                email=email, password=form.cleaned_data["password"],
                ip=client_ip(request), request=request,
            )
        except RateLimited as exc:
            error, status = exc.message, 429
        except DomainError:
            error, status = _("Wrong email or password."), 401
            platform_audit_record(action="console.login_failed",
                                  meta=RequestMeta.of(request, source="console"),
                                  details={"email_hash": throttling.email_digest(email)})
        else:
            if not totp.totp_is_on(user.pk):
                return _sign_in(request, user)
            request.session[PENDING_KEY] = {"id": user.pk, "at": time.time()}
            return render(request, "console/login_code.html",
                          {"form": CodeForm(), "next": _next_url(request)})
    elif request.method == "POST":
        status = 422
    return render(request, "console/login.html",
                  {"form": form, "error": error, "next": _next_url(request)}, status=status)


def _code_step(request):
    user = _pending_user(request)
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return redirect("console:login")
    form = CodeForm(request.POST)
    error, status = "", 422
    ip = client_ip(request)
    try:
        # Codes count against the same per-IP and per-account budget as passwords.
        throttling.check_login_allowed(ip=ip, account=throttling.account_key(user=user))
    except RateLimited as exc:
        error, status = exc.message, 429
    else:
        if form.is_valid() and totp.totp_check(user_id=user.pk, code=form.cleaned_data["otp"]):
            request.session.pop(PENDING_KEY, None)
            return _sign_in(request, user)
        if form.is_valid():
            throttling.record_login_failure(account=throttling.account_key(user=user))
            platform_audit_record(action="console.login_failed", actor=user,
                                  meta=RequestMeta.of(request, source="console"),
                                  details={"step": "totp"})
            error, status = _("That code is not right. Try the current one."), 401
    return render(request, "console/login_code.html",
                  {"form": form, "error": error, "next": _next_url(request)}, status=status)


@require_POST
def logout_view(request):
    if connection.schema_name != "public":
        raise Http404
    if request.user.is_authenticated:
        platform_audit_record(action="console.logout", actor=request.user,
                              meta=RequestMeta.of(request, source="console"))
    logout(request)
    return redirect("console:login")


@superadmin_required
def security_view(request):
    """Enrol, confirm or remove the signed-in super-admin's TOTP."""
    user = request.user
    device = totp.totp_for(user.pk)
    form, error = CodeForm(), ""
    if request.method == "POST":
        step = request.POST.get("step")
        if step == "start":
            device = totp.totp_enrol_start(user=user)
        elif step in ("confirm", "remove") and device is not None:
            form = CodeForm(request.POST)
            confirming = step == "confirm"
            if form.is_valid() and totp.totp_check(
                user_id=user.pk, code=form.cleaned_data["otp"], confirming=confirming,
            ):
                if confirming:
                    codes = totp.backup_codes_issue(user=user)
                    platform_audit_record(action="console.totp_enabled", actor=user,
                                          meta=RequestMeta.of(request, source="console"))
                    # Shown on this answer only: a reload shows them no more.
                    response = render(request, "console/security.html", {
                        "device": totp.totp_for(user.pk), "form": CodeForm(), "tab": "security",
                        "backup_codes": codes,
                    })
                    response["Cache-Control"] = "no-store"
                    return response
                else:
                    with transaction.atomic():
                        totp.totp_remove(user=user)
                        platform_audit_record(action="console.totp_removed", actor=user,
                                              meta=RequestMeta.of(request, source="console"))
                return redirect("console:security")
            error = _("That code is not right. Try the current one.")
    context = {"device": device, "form": form, "error": error, "tab": "security"}
    if device is not None and device.confirmed_at is None:
        context["uri"] = totp.provisioning_uri(device, user.email)
        context["secret"] = totp.secret_of(device)
    response = render(request, "console/security.html", context, status=422 if error else 200)
    response["Cache-Control"] = "no-store"  # the page may show the secret
    return response
