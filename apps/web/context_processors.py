"""The company's branding on every page of its host (login, UI, suspended page)."""

from django.db import connection
from django.utils.translation import gettext as _

from tenants.branding import logo_path

DEFAULT_COLOR = "#2563eb"


def branding(request):
    company = getattr(request, "tenant", None)
    if company is None or connection.schema_name == "public":
        return {"brand": {"name": "Conversa", "color": DEFAULT_COLOR, "powered_by": False, "logo_url": ""}}
    return {
        "brand": {
            "name": company.brand_name or company.name,
            "color": company.primary_color or DEFAULT_COLOR,
            "support_email": company.support_email,
            # Served by tenants.views.brand_logo on this same host; "" without a logo.
            "logo_url": logo_path(company),
            # Without the white-label feature the product's own name stays visible.
            "powered_by": not company.plan.white_label,
        }
    }


def ui_strings(request):
    """Words the page's own script shows, in the user's language (no JS catalogue to load)."""
    if not request.path.startswith("/app/"):
        return {}
    return {"ui_strings": {
        "connected": _("Live"),
        "connecting": _("Connecting"),
        "offline": _("Offline, reconnecting…"),
        "typing": _("%(name)s is typing…"),
        "someone": _("Someone"),
        "viewing": _("Also here: %(names)s"),
        "scanning": _("Scanning"),
        "clean": _("Ready to send"),
        "infected": _("Infected, removed"),
        "rejected": _("Refused"),
        "uploadFailed": _("Upload failed"),
        "newMessage": _("New message"),
        "replyingTo": _("Replying to: %(text)s"),
        # The SLA badge's countdown (web_tags.sla_deadline writes the first one).
        "slaIn": _("in %(n)d min"),
        "slaLate": _("%(n)d min late"),
        # An action the server refused or never got (htmx swaps nothing for those): said in #flash.
        "tooFast": _("Too many requests: try again in %(n)s s."),
        "refusedAction": _("That did not work: the page may be out of date. Reload it and try again."),
        "serverError": _("Something went wrong on our side. Try again in a moment."),
        "notSent": _("No connection: your last action was not sent."),
    }}
