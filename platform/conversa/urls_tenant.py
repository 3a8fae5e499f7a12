"""URLs of a company's host."""

from django.urls import path, re_path

from conversa.views import api_not_found
from ninja_api.tenant_api import api

urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api/", api_not_found),
]
