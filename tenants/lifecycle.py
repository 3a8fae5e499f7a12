"""Trials and cancellation (SPEC §2): warn 3 days before a trial ends, suspend it at its end unless
it became a paying company, cancel a company whose cancellation grace period is over, and purge a
company COMPANY_PURGE_AFTER_DAYS after it was cancelled (its schema, files and rows deleted).

Suspension is the existing blocked state: the API answers 402 `company_suspended` and the pages
show the branded suspended page, which says "trial ended" for `status_reason = trial_ended`. Data
is kept; an operator's "activate" (or a move to a paid plan) brings the company back.
Each sweep handles bounded batches, rows locked with SKIP LOCKED so two workers never collide.
"""

import contextlib
import datetime as dt
import logging
import os

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import get_public_schema_name

from conversa.errors import Conflict
from conversa.events import publish
from conversa.request_meta import RequestMeta
from tenants.audit import platform_audit_record
from tenants.models import Company
from tenants.services import _set_status

# Published in the company's schema: the accounts app emails its admins.
COMPANY_TRIAL_ENDING = "company.trial_ending"
TRIAL_ENDED = "trial_ended"
CANCELLED_AFTER_GRACE = "cancelled_after_grace"
WARN_BEFORE = dt.timedelta(days=3)
BATCH = 100
# Dropping a schema of a few hundred relations takes about a second: a few per run.
PURGE_BATCH = 5

logger = logging.getLogger("conversa.provisioning")


def _due(queryset, batch: int) -> list[Company]:
    return list(queryset.select_for_update(skip_locked=True, of=("self",)).select_related("plan")[:batch])


def trials_warn(*, now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """Mark and announce the trials ending within WARN_BEFORE that were not warned yet."""
    now = now or timezone.now()
    with transaction.atomic():
        due = _due(Company.objects.filter(
            status=Company.Status.TRIAL, trial_warning_sent_at__isnull=True,
            trial_ends_at__gt=now, trial_ends_at__lte=now + WARN_BEFORE,
        ).order_by("trial_ends_at", "pk"), batch)
        for company in due:
            company.trial_warning_sent_at = now
            company.save(update_fields=["trial_warning_sent_at", "updated_at"])
            publish(COMPANY_TRIAL_ENDING, {"trial_ends_at": company.trial_ends_at.isoformat()},
                    schema_name=company.schema_name)
    return len(due)


def trials_end(*, now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """Suspend the companies still in trial whose trial is over."""
    now = now or timezone.now()
    with transaction.atomic():
        due = _due(Company.objects.filter(status=Company.Status.TRIAL, trial_ends_at__lte=now)
                   .order_by("trial_ends_at", "pk"), batch)
        for company in due:
            _set_status(company, Company.Status.SUSPENDED, TRIAL_ENDED, action="company.trial_ended",
                        actor=None, meta=None)
    return len(due)


def grace_periods_end(*, now: dt.datetime | None = None, batch: int = BATCH) -> int:
    """Cancel the companies whose cancellation grace period is over (their data stays)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = _due(Company.objects.filter(grace_ends_at__lte=now).exclude(status=Company.Status.CANCELLED)
                   .order_by("grace_ends_at", "pk"), batch)
        for company in due:
            _set_status(company, Company.Status.CANCELLED, CANCELLED_AFTER_GRACE,
                        action="company.cancelled", actor=None, meta=None)
    return len(due)


def company_cancel(*, company: Company, actor=None, meta: RequestMeta | None = None) -> Company:
    """Ask to cancel: the company keeps working for COMPANY_CANCEL_GRACE_DAYS, then is cancelled.
    Asking again keeps the first deadline. Audited as `company.cancel_requested`."""
    with transaction.atomic():
        company = Company.objects.select_for_update().select_related("plan").get(pk=company.pk)
        if company.status == Company.Status.CANCELLED:
            raise Conflict(_("This company is already cancelled."))
        if company.cancel_requested_at is None:
            company.cancel_requested_at = timezone.now()
            company.grace_ends_at = company.cancel_requested_at + dt.timedelta(
                days=settings.COMPANY_CANCEL_GRACE_DAYS,
            )
            company.save(update_fields=["cancel_requested_at", "grace_ends_at", "updated_at"])
            platform_audit_record(action="company.cancel_requested", actor=actor, meta=meta, company=company,
                                  details={"grace_ends_at": company.grace_ends_at.isoformat()})
    return company


def company_cancel_withdraw(*, company: Company, actor=None, meta: RequestMeta | None = None) -> Company:
    """Keep the company after all (before its grace period ends; after, `activate` it)."""
    with transaction.atomic():
        company = Company.objects.select_for_update().select_related("plan").get(pk=company.pk)
        if company.cancel_requested_at is not None and company.status != Company.Status.CANCELLED:
            company.cancel_requested_at = company.grace_ends_at = None
            company.save(update_fields=["cancel_requested_at", "grace_ends_at", "updated_at"])
            platform_audit_record(action="company.cancel_withdrawn", actor=actor, meta=meta, company=company)
    return company


def companies_purge(*, now: dt.datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete the companies cancelled more than COMPANY_PURGE_AFTER_DAYS ago: files, schema, rows.

    One company per transaction, its row locked (SKIP LOCKED: two workers never purge the same one).
    The files go first and again after the commit, so that a failure leaves a company that the next
    run purges again, and a file stored meanwhile does not outlive it. Audited as `company.purged`.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.COMPANY_PURGE_AFTER_DAYS)
    purged = 0
    for _attempt in range(batch):
        with transaction.atomic():
            company = (Company.objects.select_for_update(skip_locked=True)
                       .filter(status=Company.Status.CANCELLED, status_changed_at__lte=cutoff)
                       .exclude(schema_name=get_public_schema_name())
                       .order_by("status_changed_at", "pk").first())
            if company is None:
                break
            schema, slug = company.schema_name, company.slug
            _delete_files(schema)
            with connection.cursor() as cursor:
                cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            platform_audit_record(action="company.purged", actor=None, meta=None, company=company,
                                  details={"slug": slug, "schema": schema})
            company.delete()
        _delete_files(schema)
        logger.info("purged company %s (schema %s)", slug, schema)
        purged += 1
    return purged


def _delete_files(schema_name: str) -> None:
    """Every stored file of the company: they all live under `tenants/{schema}/`."""
    _delete_tree(f"tenants/{schema_name}")


def _delete_tree(path: str) -> None:
    try:
        directories, files = default_storage.listdir(path)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{path}/{name}")
    for name in directories:
        _delete_tree(f"{path}/{name}")
    # A local filesystem keeps empty directories; object stores have none.
    with contextlib.suppress(NotImplementedError, OSError):
        os.rmdir(default_storage.path(path))
