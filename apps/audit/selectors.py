"""Reads of the audit log: for whoever may read it (apps.accounts.permissions)."""

from django.db.models import QuerySet

from apps.accounts import permissions
from apps.audit.models import AuditLog


def audit_logs_visible_to(actor: permissions.Actor) -> QuerySet[AuditLog]:
    permissions.check(actor, "audit.read")
    return AuditLog.objects.all()
