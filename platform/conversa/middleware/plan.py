"""Plan enforcement for tenant requests (SPEC §2): suspension, plan features, API-key access/rate.

Count limits (agents, inboxes, contacts) are checked by the services that create those resources,
through `tenants.limits.ensure_within_limit`, because only they know what is being created.
"""

from django.db import connection
from django.http import Http404
from django.shortcuts import render

from conversa.errors import DomainError, domain_error_response
from conversa.middleware.api_errors import is_api_path
from tenants.limits import CompanySuspended, FeatureNotInPlan, ensure_feature

# Tenant routes that belong to a plan feature: (path prefix, feature).
FEATURE_ROUTES = (
    ("/api/v1/campaigns", "campaigns"),
    ("/api/v1/flows", "flows"),
    ("/api/v1/webhooks", "webhooks"),
    ("/api/v1/knowledge", "knowledge_base"),
    ("/help/", "knowledge_base"),
    ("/api/v1/team-chat", "team_chat"),
)
# A report read as a file, `?format=csv|xlsx|pdf` or a `summary.csv`-style path, is the plan's
# `reports_export`; the same report read as JSON is in every plan (`ninja_api.routers.reports`).
REPORTS_PREFIX = "/api/v1/reports/"
# Public pages of a feature: without it in the plan they do not exist (404), rather than a 403.
PUBLIC_FEATURE_PAGES = ("/help/",)
# Provider webhooks stay open for a suspended company: customers' messages are never dropped.
# Its logo too: the suspended page shows it.
OPEN_WHEN_SUSPENDED = ("/hooks/", "/static/", "/brand/")


def feature_for_path(path: str, query=None) -> str | None:
    """The plan feature a tenant request needs, from its path and query string (a QueryDict)."""
    for prefix, feature in FEATURE_ROUTES:
        if path.startswith(prefix):
            return feature
    if path.startswith(REPORTS_PREFIX) and (
        "." in path[len(REPORTS_PREFIX):] or (query is not None and query.get("format"))
    ):
        return "reports_export"
    return None


class PlanEnforcementMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        company = getattr(request, "tenant", None)
        if company is None or connection.schema_name == "public":
            return self.get_response(request)
        try:
            self.enforce(request, company)
        except CompanySuspended as exc:
            if is_api_path(request.path):
                return domain_error_response(exc)
            return render(request, "suspended.html", {"company": company}, status=402)
        except FeatureNotInPlan as exc:
            if request.path.startswith(PUBLIC_FEATURE_PAGES):
                raise Http404 from exc
            return domain_error_response(exc)
        except DomainError as exc:
            return domain_error_response(exc)
        return self.get_response(request)

    def enforce(self, request, company) -> None:
        from apps.accounts.api_keys import enforce_api_key_plan

        if company.is_blocked and not request.path.startswith(OPEN_WHEN_SUSPENDED):
            raise CompanySuspended()
        feature = feature_for_path(request.path, request.GET)
        if feature:
            ensure_feature(company, feature)
        if is_api_path(request.path):
            enforce_api_key_plan(request, company)

