"""The platform (super-admin) API, `/platform/api/v1/` on BASE_DOMAIN only."""

from ninja import NinjaAPI

from ninja_api.auth import PlatformAuth
from ninja_api.errors import install_error_handlers
from ninja_api.platform import auth, companies, domains, plans

api = NinjaAPI(
    title="Conversa platform API",
    version="1",
    urls_namespace="platform-api-v1",
    auth=PlatformAuth(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)

api.add_router("/auth", auth.router)
api.add_router("/companies", companies.router)
api.add_router("/companies", domains.router)
api.add_router("/plans", plans.router)
