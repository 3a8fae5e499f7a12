"""Who may open the agents' UI: signed-in users of this company's host (sessions live in its schema)."""

from functools import wraps

from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apps.accounts import permissions, two_factor
from conversa.errors import NotFound

# Pages a user whose company requires two-factor may open before setting it up.
TWO_FACTOR_SETUP_PAGES = ("web:security", "web:realtime-token")


def _must_set_up_two_factor(request) -> bool:
    company = getattr(request, "tenant", None)
    return (company is not None and company.require_two_factor
            and request.path not in {reverse(name) for name in TWO_FACTOR_SETUP_PAGES}
            and not two_factor.is_on(request.user))


def _to_login(request):
    return _redirect(request, f"{reverse('web:login')}?next={request.get_full_path()}")


def _redirect(request, url: str):
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
        if _must_set_up_two_factor(request):
            return _redirect(request, reverse("web:security"))
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
