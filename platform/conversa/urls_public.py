"""URLs of BASE_DOMAIN: the platform API (and, later, the console)."""

from django.urls import path, re_path

from conversa.views import api_not_found, home
from ninja_api.platform_api import api

urlpatterns = [
    path("", home, name="home"),
    path("platform/api/v1/", api.urls),
    re_path(r"^(platform/)?api/", api_not_found),
]
