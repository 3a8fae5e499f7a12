"""Signing in and out of the agents' UI, the profile, language and agent status."""

import time

from django import forms
from django.contrib.auth import login, logout
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import services as accounts
from apps.accounts import two_factor
from apps.accounts.models import User
from apps.accounts.tokens import access_token_for
from apps.web.auth import agent_required
from apps.web.i18n import supported_language
from conversa.errors import DomainError, RateLimited
from conversa.request_meta import client_ip


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=128)


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/app/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/app/"


# The UI's second step: whose password was right, and when (the code must follow within minutes).
PENDING_KEY = "two_factor_pending"
PENDING_SECONDS = 300


def login_view(request):
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    if request.method == "POST" and request.POST.get("step") == "otp":
        return _code_step(request)
    form = LoginForm(request.POST or None)
    error, status = "", 200
    if request.method == "POST" and form.is_valid():
        try:
            user = accounts.credentials_check(
                email=form.cleaned_data["email"], password=form.cleaned_data["password"],
                ip=client_ip(request), request=request,
            )
        except RateLimited as exc:
            error, status = exc.message, 429
        except two_factor.OtpRequired as exc:
            request.session[PENDING_KEY] = {"user_id": exc.user.pk, "at": time.time()}
            return render(request, "web/login_code.html", {"next": _next_url(request)})
        except DomainError:
            error, status = _("Wrong email or password."), 401
        else:
            return _signed_in(request, user)
    elif request.method == "POST":
        status = 422
    return render(request, "web/login.html", {"form": form, "error": error, "next": _next_url(request)},
                  status=status)


def _code_step(request):
    pending = request.session.get(PENDING_KEY) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return redirect("web:login")
    code = request.POST.get("otp", "").strip()[:32]
    try:
        user = accounts.second_factor_login(user_id=pending["user_id"], otp=code, ip=client_ip(request),
                                            request=request)
    except RateLimited as exc:
        error, status = exc.message, 429
    except DomainError:
        error, status = _("That code is not right. Try the current one."), 401
    else:
        request.session.pop(PENDING_KEY, None)
        return _signed_in(request, user)
    return render(request, "web/login_code.html", {"next": _next_url(request), "error": error},
                  status=status)


def _signed_in(request, user):
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if user.status == User.Status.OFFLINE:
        # Signing in to the inbox is starting work; a chosen busy/paused status is kept.
        accounts.user_set_status(user=user, status=User.Status.AVAILABLE)
    if two_factor.setup_pending(user, getattr(request, "tenant", None)):
        return redirect("web:security")
    return redirect(_next_url(request))


@require_POST
def logout_view(request):
    logout(request)
    return redirect("web:login")


class ProfileForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    language = forms.ChoiceField(label=_("Language"), choices=[
        ("en", "English"), ("es", "Español"), ("pt-BR", "Português (Brasil)"),
    ])


@agent_required
def profile_view(request):
    user = request.user
    form = ProfileForm(request.POST or None, initial={"name": user.name, "language": user.language})
    saved = False
    if request.method == "POST" and form.is_valid():
        user = accounts.user_update(user=user, actor=user, name=form.cleaned_data["name"],
                                    language=form.cleaned_data["language"])
        language = supported_language(user.language)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        saved = True
    return render(request, "web/profile.html", {"form": form, "saved": saved})


@agent_required
@require_POST
def status_view(request):
    status = request.POST.get("status", "")
    try:
        accounts.user_set_status(user=request.user, status=status, reason=request.POST.get("reason", ""))
    except DomainError:
        pass  # the switcher only offers valid statuses; anything else changes nothing
    user = User.objects.get(pk=request.user.pk)
    return render(request, "web/partials/status_switcher.html", {"user": user})


@agent_required
@require_GET
def realtime_token_view(request):
    """A fresh access token for the page's websocket (sessions carry no bearer token)."""
    response = JsonResponse({"token": str(access_token_for(request.user))})
    response["Cache-Control"] = "no-store"
    return response
