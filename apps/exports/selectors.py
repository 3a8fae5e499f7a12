"""Reads of exports: each actor's own; admins may also open anyone's."""

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.models import ApiKey, User
from apps.exports import signing
from apps.exports.models import Export
from conversa.errors import NotFound


def exports_of(actor) -> QuerySet[Export]:
    """The actor's own exports (a key's: those it asked for); 403 for who may not export at all."""
    permissions.check(actor, "exports.create")
    if isinstance(actor, ApiKey):
        return Export.objects.filter(api_key=actor)
    return Export.objects.filter(created_by=actor)


def export_get_for(actor, export_id: int) -> Export:
    """One export of its author, or of anyone for an admin; 404 for everyone else."""
    if isinstance(actor, User) and actor.is_active and actor.role == User.Role.ADMIN:
        export = Export.objects.filter(pk=export_id).first()
    else:
        export = exports_of(actor).filter(pk=export_id).first()
    if export is None:
        raise NotFound(_("Export not found."))
    return export


def download_path(export: Export) -> str | None:
    """The signed, short-lived link of a ready export (None until it is ready)."""
    if export.status != Export.Status.COMPLETED or not export.file_name:
        return None
    return signing.signed_path(export.key)
