"""Writes of the platform: provisioning companies, plans, suspension."""

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context

from conversa.errors import Conflict, NotFound, ValidationFailed, full_clean
from conversa.events import publish
from conversa.realtime.close_codes import CLOSE_SUSPENDED
from conversa.realtime.fanout import close_company_sockets
from conversa.request_meta import RequestMeta
from tenants.audit import platform_audit_record
from tenants.models import FEATURES, LIMITS, RESERVED_SLUGS, SLUG_RE, Company, Domain, Plan
from tenants.schema_versions import stamp_if_current

logger = logging.getLogger("conversa.provisioning")

# How a company's first admin is made. Users belong to accounts, which sits above tenants:
# accounts registers its function when Django starts (AccountsConfig.ready) instead of this
# module importing it. It runs inside company_create's transaction, in the new schema.
_first_admin: dict[str, Callable[..., Any]] = {}

COMPANY_CREATED = "company.created"
COMPANY_STATUS_CHANGED = "company.status_changed"


def register_first_admin_create(create: Callable[..., Any]) -> None:
    """`create(email=, password=, name=, language=)` → the new company's admin user."""
    _first_admin["create"] = create


def schema_name_for(slug: str) -> str:
    return slug.replace("-", "_")


def tenant_host(slug: str) -> str:
    return f"{slug}.{settings.BASE_DOMAIN}"


def _invalid(field: str, message) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _validate_slug(slug: str) -> None:
    if not SLUG_RE.match(slug) or slug.endswith("-") or "--" in slug:
        raise _invalid("slug", _(
            "Use 2–40 lowercase letters, digits and single hyphens, starting with a letter."
        ))
    if slug in RESERVED_SLUGS:
        raise _invalid("slug", _("This name is reserved."))


def company_create(
    *, name: str, slug: str, plan_code: str, admin_email: str, admin_password: str,
    admin_name: str = "", owner_email: str = "", default_language: str = "en",
    time_zone: str = "UTC", status: str = Company.Status.ACTIVE, database: str = DEFAULT_DB_ALIAS,
    actor=None, meta: RequestMeta | None = None,
) -> tuple[Company, "object"]:
    """Provision a company: its schema (cloned from the template), its domain and first admin.

    All in one transaction (PostgreSQL DDL is transactional): a refused admin leaves no schema.
    On another `database` than the main one, the schema and admin are in a transaction there,
    committed just before the main one (a failure to commit the company row itself, after that,
    would leave an unused schema there, never a company without one).
    Audited as `company.created` for `actor` (the super-admin; None for commands).
    """
    create_admin = _first_admin.get("create")
    if create_admin is None:
        raise ImproperlyConfigured("apps.accounts registers the first admin's creation at startup")
    slug = slug.strip().lower()
    _validate_slug(slug)
    plan = Plan.objects.filter(code=plan_code).first()
    if plan is None:
        raise _invalid("plan", _("Unknown plan."))
    if database not in settings.COMPANY_DATABASES:
        raise _invalid("database", _("Unknown database."))
    started = time.perf_counter()
    on_database = nullcontext() if database == DEFAULT_DB_ALIAS else transaction.atomic(using=database)
    with transaction.atomic(), on_database:
        if Company.objects.filter(slug=slug).exists() or Domain.objects.filter(
            domain=tenant_host(slug)
        ).exists():
            raise Conflict(
                _("A company with this slug already exists."),
                details=[{"field": "slug", "message": str(_("Already in use."))}],
            )
        company = Company(
            schema_name=schema_name_for(slug), name=name, slug=slug, plan=plan, status=status,
            owner_email=owner_email or admin_email, default_language=default_language,
            time_zone=time_zone, brand_name=name, database=database,
        )
        full_clean(company)
        company.save()
        Domain.objects.create(domain=tenant_host(slug), tenant=company, is_primary=True,
                              kind=Domain.Kind.SUBDOMAIN, verified_at=timezone.now())
        with schema_context(company.schema_name):
            admin = create_admin(
                email=admin_email, password=admin_password, name=admin_name,
                language=default_language,
            )
            stamp = stamp_if_current()
        if stamp:
            # A schema as current as this code: the next migrate_schemas need not visit it.
            Company.objects.filter(pk=company.pk).update(migrations_stamp=stamp)
            company.migrations_stamp = stamp
        platform_audit_record(
            action="company.created", actor=actor, meta=meta, company=company,
            details={"slug": company.slug, "plan": plan.code, "admin_email": admin.email},
        )
        publish(COMPANY_CREATED, {"company_id": company.pk}, schema_name="public")
        transaction.on_commit(_refill_schema_pool)
    logger.info("provisioned %s in %.0f ms", company.schema_name,
                (time.perf_counter() - started) * 1000)
    return company, admin


def _refill_schema_pool() -> None:
    from tenants.tasks import schema_pool_refill

    try:
        schema_pool_refill()
    except Exception:
        # The pool is an optimisation: the next provisioning clones, the periodic refill catches up.
        logger.exception("could not queue the schema pool refill")


def _changes(instance, fields: dict) -> dict:
    """{field: [before, after]} of what `fields` would change on `instance`, as audit text."""
    return {field: [_text(getattr(instance, field)), _text(value)] for field, value in fields.items()
            if getattr(instance, field) != value}


def _text(value) -> str | None:
    return None if value is None else str(value)


def company_update(
    *, company: Company, actor=None, meta: RequestMeta | None = None, **fields,
) -> Company:
    """Edit the company's settings; audited as `company.updated` with the changes."""
    allowed = {"name", "owner_email", "default_language", "time_zone", "brand_name",
               "primary_color", "support_email", "trial_ends_at"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable here: {sorted(unknown)}")
    with transaction.atomic():
        company = Company.objects.select_for_update().get(pk=company.pk)
        changes = _changes(company, fields)
        for field, value in fields.items():
            setattr(company, field, value)
        full_clean(company)
        company.save()
        platform_audit_record(action="company.updated", actor=actor, meta=meta, company=company,
                              details={"changes": changes})
    return company


def company_change_plan(
    *, company: Company, plan_code: str, actor=None, meta: RequestMeta | None = None,
) -> Company:
    """Switch plans. Resources already over a lower limit stay; new ones are refused.

    Audited as `company.plan_changed` (from, to).
    """
    plan = Plan.objects.filter(code=plan_code).first()
    if plan is None:
        raise _invalid("plan", _("Unknown plan."))
    with transaction.atomic():
        # The plan row is read, not locked: changes of other companies' plans don't wait.
        company = (Company.objects.select_for_update(of=("self",)).select_related("plan")
                   .get(pk=company.pk))
        before = company.plan.code
        company.plan = plan
        company.save(update_fields=["plan", "updated_at"])
        platform_audit_record(action="company.plan_changed", actor=actor, meta=meta,
                              company=company, details={"from": before, "to": plan.code})
        if company.status == Company.Status.TRIAL and plan.monthly_price > 0:
            # A trial that moves to a paid plan is a paying company: its trial no longer ends it.
            company = _set_status(company, Company.Status.ACTIVE, "paid_plan", action="company.activated",
                                  actor=actor, meta=meta)
    return company


def _set_status(company: Company, status: str, reason: str, *, action: str, actor,
                meta: RequestMeta | None) -> Company:
    with transaction.atomic():
        company = Company.objects.select_for_update().select_related("plan").get(pk=company.pk)
        company.status, company.status_reason = status, reason
        company.status_changed_at = timezone.now()
        company.save(update_fields=["status", "status_reason", "status_changed_at", "updated_at"])
        platform_audit_record(action=action, actor=actor, meta=meta, company=company, reason=reason)
        publish(COMPANY_STATUS_CHANGED, {"company_id": company.pk, "status": status},
                schema_name="public")
        if company.is_blocked:
            schema = company.schema_name
            transaction.on_commit(lambda: _close_sockets(schema))
    return company


def _close_sockets(schema_name: str) -> None:
    close_company_sockets(schema_name, code=CLOSE_SUSPENDED)


def company_suspend(
    *, company: Company, reason: str = "", actor=None, meta: RequestMeta | None = None,
) -> Company:
    """Suspend: the API answers 402, open sockets close with 4402; webhooks keep storing.

    Audited as `company.suspended` with the reason.
    """
    return _set_status(company, Company.Status.SUSPENDED, reason, action="company.suspended",
                       actor=actor, meta=meta)


def company_activate(
    *, company: Company, reason: str = "", actor=None, meta: RequestMeta | None = None,
) -> Company:
    """Activate again (a pending cancellation is dropped); audited as `company.activated`."""
    with transaction.atomic():
        company = _set_status(company, Company.Status.ACTIVE, reason, action="company.activated",
                              actor=actor, meta=meta)
        if company.cancel_requested_at or company.grace_ends_at:
            company.cancel_requested_at = company.grace_ends_at = None
            company.save(update_fields=["cancel_requested_at", "grace_ends_at", "updated_at"])
    return company


def company_get(company_id: int) -> Company:
    company = Company.objects.select_related("plan").filter(pk=company_id).first()
    if company is None:
        raise NotFound()
    return company


def _plan_set(plan: Plan, fields: dict) -> tuple[Plan, dict]:
    """Lock `plan`, write `fields` onto it; the saved plan and its audit changes."""
    allowed = {"name", "monthly_price", *FEATURES, *LIMITS}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"not updatable here: {sorted(unknown)}")
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    changes = _changes(plan, fields)
    for field, value in fields.items():
        setattr(plan, field, value)
    # A null feature or price, a limit beyond the column: 422 here, not the database's 500.
    full_clean(plan, validate_unique=False)
    plan.save()
    return plan, changes


def plan_update(*, plan: Plan, actor=None, meta: RequestMeta | None = None, **fields) -> Plan:
    """Edit a plan's name, price, features and limits; audited as `plan.updated`."""
    with transaction.atomic():
        plan, changes = _plan_set(plan, fields)
        platform_audit_record(action="plan.updated", actor=actor, meta=meta,
                              details={"plan": plan.code, "changes": changes})
    return plan


def plan_create(
    *, code: str, name: str, actor=None, meta: RequestMeta | None = None, **fields,
) -> Plan:
    """Add a plan; audited as `plan.created` (one entry, its fields included)."""
    if Plan.objects.filter(code=code).exists():
        raise Conflict(details=[{"field": "code", "message": str(_("Already in use."))}])
    plan = Plan(code=code, name=name)
    with transaction.atomic():
        plan.save()
        if fields:
            plan, _changed = _plan_set(plan, fields)
        platform_audit_record(action="plan.created", actor=actor, meta=meta,
                              details={"plan": plan.code})
    return plan
