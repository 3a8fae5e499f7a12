"""`/brand/logo` on a company's hosts: its re-encoded logo, for its login page, UI and emails."""

from django.core.files.storage import default_storage
from django.db import connection
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_safe

from tenants.branding import logo_mime, logo_version


@require_safe
def brand_logo(request):
    company = getattr(request, "tenant", None)
    if company is None or connection.schema_name == "public" or not company.logo:
        raise Http404
    try:
        with default_storage.open(company.logo, "rb") as stored:
            data = stored.read()
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = HttpResponse(data, content_type=logo_mime(company.logo))
    response["X-Content-Type-Options"] = "nosniff"
    # Nothing in an image should ever run, even if a browser were tricked into rendering it as a page.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = "inline"
    if request.GET.get("v") == logo_version(company):
        # The URL changes with every new logo: the old one may be kept as long as a browser likes.
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = "public, max-age=300"
    return response
