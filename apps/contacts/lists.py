"""Contact lists (static groups, the usual audience of a campaign): their writes and checked reads.

Everyone reads lists (`audiences.read`: the contacts page filters by them); supervisors and admins
change them (`audiences.manage`; API keys need `contacts:write`). Members are added and removed in
bulk, up to MAX_MEMBER_IDS ids a call; adding is idempotent (ON CONFLICT DO NOTHING).
"""

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.audit.services import audit_record
from apps.contacts.audiences import in_lists_condition
from apps.contacts.models import Contact, ContactList, ContactListMember
from conversa.errors import Conflict, NotFound, ValidationFailed

MAX_MEMBER_IDS = 10_000
NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 300
UNSET = object()
# Unknown ids are named in the 422, but a message listing 10,000 of them helps nobody.
MAX_IDS_NAMED = 20


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _name_taken() -> Conflict:
    return Conflict(_("A list with this name already exists."),
                    details=[{"field": "name", "message": _("Already in use.")}])


def _clean_name(name, *, contact_list: ContactList | None = None) -> str:
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        raise _invalid("name", _("This field is required."))
    if len(name) > NAME_MAX_LENGTH or "\x00" in name:
        raise _invalid("name", _("At most %(max)d characters.") % {"max": NAME_MAX_LENGTH})
    taken = ContactList.objects.annotate(lower=Lower("name")).filter(lower=name.lower())
    if contact_list is not None:
        taken = taken.exclude(pk=contact_list.pk)
    if taken.exists():
        raise _name_taken()
    return name


def _clean_description(description) -> str:
    description = description.strip() if isinstance(description, str) else ""
    if len(description) > DESCRIPTION_MAX_LENGTH or "\x00" in description:
        raise _invalid("description", _("At most %(max)d characters.") % {"max": DESCRIPTION_MAX_LENGTH})
    return description


def _save_named(contact_list: ContactList) -> None:
    """Save; a concurrent writer that took the name first makes this a 409, not a 500."""
    try:
        with transaction.atomic():
            contact_list.save()
    except IntegrityError as exc:
        raise _name_taken() from exc


def clean_contact_ids(contact_ids, *, deleted_too: bool = False) -> list[int]:
    """The distinct ids, sorted, all of them contacts of this company; 422 naming the unknown ones.

    `deleted_too`: soft-deleted contacts count as known (their memberships may still be removed).
    """
    if not isinstance(contact_ids, list | tuple) or not all(
        isinstance(pk, int) and not isinstance(pk, bool) for pk in contact_ids
    ):
        raise _invalid("contact_ids", _("Must be a list of contact ids."))
    ids = sorted(set(contact_ids))
    if not ids:
        raise _invalid("contact_ids", _("Give at least one contact id."))
    if len(ids) > MAX_MEMBER_IDS:
        raise _invalid("contact_ids", _("At most %(max)d ids per call.") % {"max": MAX_MEMBER_IDS})
    contacts = Contact.all_objects if deleted_too else Contact.objects
    found = set(contacts.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        named = ", ".join(map(str, missing[:MAX_IDS_NAMED]))
        if len(missing) > MAX_IDS_NAMED:
            named += " " + _("and %(count)d more") % {"count": len(missing) - MAX_IDS_NAMED}
        raise _invalid("contact_ids", _("No such contact: %(ids)s.") % {"ids": named})
    return ids


def _locked(contact_list: ContactList) -> ContactList:
    locked = ContactList.objects.select_for_update().filter(pk=contact_list.pk).first()
    if locked is None:
        raise NotFound(_("List not found."))
    return locked


# --- writes -----------------------------------------------------------------------------------

def check_audiences_manage(*, actor: Actor | None) -> None:
    """Lists and segments are changed by supervisors and admins (None: the system, e.g. an import)."""
    if actor is not None:
        permissions.check(actor, "audiences.manage")


def contact_list_create(*, actor: Actor | None, name: str, description: str = "") -> ContactList:
    """A new, empty list; 409 if another list has this name in any case."""
    check_audiences_manage(actor=actor)
    description = _clean_description(description)
    with transaction.atomic():
        contact_list = ContactList(
            name=_clean_name(name), description=description, created_by=permissions.acting_user(actor),
        )
        _save_named(contact_list)
        audit_record(action="contact_list.created", entity_type="contact_list", entity_id=contact_list.pk,
                     actor=actor, changes={"name": contact_list.name})
    return contact_list


def contact_list_update(
    *, actor: Actor | None, contact_list: ContactList, name=UNSET, description=UNSET,
) -> ContactList:
    """Rename or describe the list (UNSET: keep). Locks the list's row."""
    check_audiences_manage(actor=actor)
    with transaction.atomic():
        contact_list = _locked(contact_list)
        changes = {}
        if name is not UNSET:
            name = _clean_name(name, contact_list=contact_list)
            if name != contact_list.name:
                changes["name"] = [contact_list.name, name]
                contact_list.name = name
        if description is not UNSET:
            description = _clean_description(description)
            if description != contact_list.description:
                changes["description"] = [contact_list.description, description]
                contact_list.description = description
        if changes:
            _save_named(contact_list)
            audit_record(action="contact_list.updated", entity_type="contact_list",
                         entity_id=contact_list.pk, actor=actor, changes=changes)
    return contact_list


def contact_list_delete(*, actor: Actor | None, contact_list: ContactList) -> None:
    """Delete the list and its memberships (the contacts stay)."""
    check_audiences_manage(actor=actor)
    with transaction.atomic():
        contact_list = _locked(contact_list)
        members = contact_list.memberships.count()
        name, list_id = contact_list.name, contact_list.pk
        contact_list.delete()
        audit_record(action="contact_list.deleted", entity_type="contact_list", entity_id=list_id,
                     actor=actor, changes={"name": name, "member_count": members})


def contact_list_add_members(
    *, actor: Actor | None, contact_list: ContactList, contact_ids: list[int],
) -> int:
    """Add the contacts (422 naming unknown ids, nothing added then); those already in stay once.
    Returns how many were new. One INSERT … ON CONFLICT DO NOTHING for the lot; locks the list's
    row, so a concurrent delete of the list waits or wins outright."""
    check_audiences_manage(actor=actor)
    ids = clean_contact_ids(contact_ids)
    table = connection.ops.quote_name(ContactListMember._meta.db_table)
    with transaction.atomic():
        contact_list = _locked(contact_list)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (contact_list_id, contact_id, added_at) "
                "SELECT %s, id, now() FROM unnest(%s::bigint[]) AS id "
                "ON CONFLICT (contact_list_id, contact_id) DO NOTHING",
                [contact_list.pk, ids],
            )
            added = cursor.rowcount
        if added:
            audit_record(action="contact_list.members_added", entity_type="contact_list",
                         entity_id=contact_list.pk, actor=actor, changes={"added": added})
    return added


def contact_list_remove_members(
    *, actor: Actor | None, contact_list: ContactList, contact_ids: list[int],
) -> int:
    """Remove the contacts from the list (422 naming ids that are no contact; ids that are not
    members are ignored). Returns how many were removed."""
    check_audiences_manage(actor=actor)
    ids = clean_contact_ids(contact_ids, deleted_too=True)
    with transaction.atomic():
        contact_list = _locked(contact_list)
        members = ContactListMember.objects.filter(contact_list=contact_list, contact_id__in=ids)
        removed, _rows = members.delete()
        if removed:
            audit_record(action="contact_list.members_removed", entity_type="contact_list",
                         entity_id=contact_list.pk, actor=actor, changes={"removed": removed})
    return removed


# --- reads ------------------------------------------------------------------------------------

def _with_counts(lists: QuerySet[ContactList]) -> QuerySet[ContactList]:
    # Soft-deleted contacts keep their membership rows but are nobody's audience any more.
    return lists.annotate(member_count=Count(
        "memberships", filter=Q(memberships__contact__deleted_at__isnull=True),
    ))


def contact_lists_visible_to(actor: Actor) -> QuerySet[ContactList]:
    """Every list of the company, each with `member_count` (contacts not deleted)."""
    permissions.check(actor, "audiences.read")
    return _with_counts(ContactList.objects.all())


def contact_list_get(*, list_id: int) -> ContactList:
    """The list with its `member_count`, or 404 (another company's ids do not exist here). Unchecked:
    for writes, whose services check the actor (a key may write without reading)."""
    contact_list = _with_counts(ContactList.objects.filter(pk=list_id)).first()
    if contact_list is None:
        raise NotFound(_("List not found."))
    return contact_list


def contact_list_get_for(actor: Actor, list_id: int) -> ContactList:
    permissions.check(actor, "audiences.read")
    return contact_list_get(list_id=list_id)


def member_count(contact_list: ContactList) -> int:
    return contact_list.memberships.filter(contact__deleted_at__isnull=True).count()


def list_members(contact_list: ContactList) -> QuerySet[Contact]:
    """The list's contacts (not deleted), unordered: the caller paginates."""
    return Contact.objects.filter(in_lists_condition([contact_list.pk]))
