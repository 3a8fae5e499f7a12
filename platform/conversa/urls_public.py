"""URLs of BASE_DOMAIN: the platform API and the super-admin console (never on tenant hosts)."""

from django.urls import include, path, re_path

from conversa.metrics_view import metrics_view
from conversa.views import api_not_found, home
from ninja_api.platform_api import api

urlpatterns = [
    path("", home, name="home"),
    path("platform/api/v1/", api.urls),
    path("console/", include("tenants.console.urls")),
    path("metrics", metrics_view, name="metrics"),
    re_path(r"^(platform/)?api/", api_not_found),
]
