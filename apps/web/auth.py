"""Who may open the agents' UI: signed-in users of this company's host (sessions live in its schema)."""

from functools import wraps

from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.accounts import permissions
from conversa.errors import NotFound


def _to_login(request):
    url = f"{reverse('web:login')}?next={request.get_full_path()}"
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def agent_required(view):
    """Any signed-in, active user of this company; the console's host never serves the UI."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if connection.schema_name == "public":
            raise Http404
        if not request.user.is_authenticated or not request.user.is_active:
            return _to_login(request)
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            # Selectors say "not found" for what this user may not see: a page answers 404 alike.
            raise Http404 from exc

    return wrapper


def action_required(action: str, *, forbidden_page: tuple[str, dict] | None = None):
    """Pages of `action` (see apps.accounts.permissions): whoever may not take it gets a 404 rather
    than learning the page exists, or, with `forbidden_page` (template, context), a 403 page saying
    why (for pages every signed-in user sees in the navigation)."""

    def decorate(view):
        @agent_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not permissions.may(request.user, action):
                if forbidden_page is None:
                    raise Http404
                template, context = forbidden_page
                return render(request, template, context, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
