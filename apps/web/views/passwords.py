"""Password pages: change (under the profile), "forgot password" and the reset page an email opens."""

from django.contrib.auth import update_session_auth_hash
from django.shortcuts import redirect, render

from apps.accounts import passwords
from apps.web.auth import agent_required
from apps.web.forms import PasswordChangeForm, PasswordForgotForm, PasswordResetForm
from conversa.errors import DomainError, RateLimited
from conversa.request_meta import client_ip


@agent_required
def change_view(request):
    form = PasswordChangeForm(request.POST or None)
    status, saved = 200, False
    if request.method == "POST":
        if form.is_valid():
            try:
                user = passwords.password_change(
                    user=request.user, current_password=form.cleaned_data["current_password"],
                    new_password=form.cleaned_data["new_password"],
                )
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                # This browser stays signed in; every other session and device is signed out.
                update_session_auth_hash(request, user)
                saved, form = True, PasswordChangeForm()
        else:
            status = 422
    return render(request, "web/password_change.html", {"form": form, "saved": saved}, status=status)


def forgot_view(request):
    form = PasswordForgotForm(request.POST or None)
    status, sent, error = 200, False, ""
    if request.method == "POST":
        if form.is_valid():
            try:
                passwords.password_reset_request(
                    email=form.cleaned_data["email"], ip=client_ip(request),
                    base_url=request.build_absolute_uri("/"),
                )
            except RateLimited as exc:
                error, status = exc.message, 429
            else:
                sent = True
        else:
            status = 422
    return render(request, "web/password_forgot.html", {"form": form, "sent": sent, "error": error},
                  status=status)


def reset_view(request, token: str):
    try:
        passwords.reset_token_check(token)
    except DomainError:
        return _no_store(render(request, "web/password_reset.html", {"invalid": True}, status=404))
    form = PasswordResetForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                passwords.password_reset_confirm(token=token, new_password=form.cleaned_data["new_password"])
            except DomainError as exc:
                form.show_error(exc)
                status = exc.status
            else:
                return redirect("/app/login/?reset=1")
        else:
            status = 422
    return _no_store(render(request, "web/password_reset.html", {"form": form}, status=status))


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response
