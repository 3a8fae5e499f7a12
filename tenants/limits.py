"""Plan checks services and middleware call: features, count limits, suspension."""

from django.db import DEFAULT_DB_ALIAS
from django.utils.translation import gettext_lazy as _

from conversa.errors import DomainError
from tenants import databases
from tenants.models import Company


class CompanySuspended(DomainError):
    status = 402
    code = "company_suspended"
    default_message = _("This company's account is suspended. Contact your administrator.")


class FeatureNotInPlan(DomainError):
    status = 403
    code = "feature_not_in_plan"
    default_message = _("Your plan does not include this feature.")


class PlanLimitReached(DomainError):
    status = 403
    code = "plan_limit_reached"
    default_message = _("Your plan's limit has been reached.")


def ensure_feature(company: Company, feature: str) -> None:
    if not company.plan.has_feature(feature):
        raise FeatureNotInPlan(details={"feature": feature, "plan": company.plan.code})


def ensure_within_limit(company: Company, limit_name: str, *, used: int, adding: int = 1) -> None:
    """Refuse to go past the plan's `limit_name` given `used` resources now.

    Call inside the creating transaction after `lock_current_company()`, so two concurrent creations
    cannot both see room for one more.
    """
    limit = company.plan.limit(limit_name)
    if limit is not None and used + adding > limit:
        raise PlanLimitReached(
            _("Your plan allows %(limit)s; you are using %(used)s.") % {"limit": limit, "used": used},
            details={"limit": limit, "used": used, "resource": limit_name},
        )


def lock_current_company() -> Company:
    """Lock the current schema's company row (with its plan) until the transaction ends.

    FOR NO KEY UPDATE, not FOR UPDATE: it serialises the limit checks all the same, but does not
    block the key-share lock that inserting a row which references the company takes (the first
    usage counter of a month). With FOR UPDATE, an upload holding this lock and the worker inserting
    the month's usage row waited for each other: a deadlock.
    """
    from django.db import connection

    if databases.current() != DEFAULT_DB_ALIAS:
        # The company's row is on the main cluster, outside this transaction (which runs on the
        # company's own database): the lock that serialises its limit checks is taken here instead,
        # held until this transaction ends, as the row lock would be.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))",
                           [f"conversa.company.{connection.schema_name}"])
        return Company.objects.select_related("plan").get(schema_name=connection.schema_name)
    return (
        Company.objects.select_for_update(of=("self",), no_key=True).select_related("plan")
        .get(schema_name=connection.schema_name)
    )
