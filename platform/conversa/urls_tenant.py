"""URLs of a company's host."""

from django.urls import include, path, re_path
from django.views.generic import RedirectView

from apps.exports.views import signed_download as export_signed_download
from apps.inboxes import views as hooks
from apps.media.views import signed_download
from apps.web.views.csat import rating_view as csat_rating
from conversa.views import api_not_found
from ninja_api.tenant_api import api
from tenants.views import brand_logo

urlpatterns = [
    path("api/v1/", api.urls),
    path("app/", include("apps.web.urls")),
    path("help/", include("apps.web.help_urls")),
    path("", RedirectView.as_view(url="/app/", permanent=False)),
    path("hooks/whatsapp/<int:inbox_id>", hooks.whatsapp_webhook, name="hook-whatsapp"),
    path("hooks/twilio/<int:inbox_id>", hooks.twilio_webhook, name="hook-twilio"),
    path("hooks/sandbox/<int:inbox_id>", hooks.sandbox_webhook, name="hook-sandbox"),
    path("media/<uuid:key>/<str:variant>", signed_download, name="media-signed"),
    path("exports/<uuid:key>/download", export_signed_download, name="export-signed"),
    path("brand/logo", brand_logo, name="brand-logo"),
    path("csat/<str:token>", csat_rating, name="csat"),
    re_path(r"^api/", api_not_found),
]
