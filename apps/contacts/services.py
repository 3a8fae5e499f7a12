"""Writes of the contacts app: contacts, their tags and opt-out, and custom field definitions."""

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, connection, models, transaction
from django.db.models import F, Func, Value
from django.db.models.functions import Cast, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.audit.changes import changes_between, created, snapshot
from apps.audit.services import audit_record
from apps.contacts.custom_fields import KEY_RE, clean_custom_fields
from apps.contacts.events import CONTACT_CREATED, CONTACT_DELETED, CONTACT_UPDATED
from apps.contacts.models import PHONE_UNIQUE_CONSTRAINT, Contact, CustomFieldDefinition, normalize_tag
from apps.contacts.phones import normalize_phone
from conversa.errors import Conflict, NotFound, ValidationFailed, full_clean
from conversa.events import publish
from tenants.limits import ensure_within_limit, lock_current_company

# What callers may set; the activity times, opt-out time and deletion belong to the services.
EDITABLE_FIELDS = frozenset({
    "phone", "name", "email", "avatar_url", "language", "time_zone", "lead_status", "lead_score",
    "tags", "custom_fields", "notes", "opted_out", "blocked", "company_name", "city", "country",
})
TAG_MAX_LENGTH = 50
MAX_TAGS = 50
MAX_CHOICES = 100
# What a contact's audit entries hold: every editable field (its messages are never in them).
AUDITED_FIELDS = tuple(sorted(EDITABLE_FIELDS))


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _phone(raw: str, *, strict: bool = True) -> str:
    try:
        return normalize_phone(raw, strict=strict)
    except ValueError as exc:
        raise _invalid("phone", str(exc)) from exc


def _phone_taken() -> Conflict:
    return Conflict(
        _("A contact with this phone number already exists."),
        details=[{"field": "phone", "message": _("Already in use.")}],
    )


def _clean_tags(tags: Iterable[str]) -> list[str]:
    """Normalised, de-duplicated tags in their first-seen order."""
    cleaned: list[str] = []
    for raw in tags:
        tag = normalize_tag(raw) if isinstance(raw, str) else ""
        if not 1 <= len(tag) <= TAG_MAX_LENGTH:
            raise _invalid("tags", _("Each tag has 1 to %(max)d characters.") % {"max": TAG_MAX_LENGTH})
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise _invalid("tags", _("At most %(max)d tags per contact.") % {"max": MAX_TAGS})
    return cleaned


def _check_time_zone(name: str) -> str:
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise _invalid("time_zone", _("Unknown time zone.")) from exc
    return name


def _check_country(code: str) -> str:
    if code and not (len(code) == 2 and code.isascii() and code.isalpha()):
        raise _invalid("country", _("Use the two-letter ISO code, e.g. BR."))
    return code.upper()


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


def _apply(contact: Contact, fields: dict[str, Any]) -> set[str]:
    """Set `fields` on `contact` (not saved), normalised; return the names that changed."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"not editable contact fields: {sorted(unknown)}")
    changed = set()
    for name, raw in fields.items():
        # PostgreSQL refuses NUL in text and JSON: a 422 here instead of a 500 at the INSERT,
        # whichever door (API, UI, import) the value came through.
        if _holds_nul(raw):
            raise _invalid(name, _("Must not contain the NUL character."))
        value = raw.strip() if isinstance(raw, str) else raw
        if name == "phone":
            value = _phone(raw)
        elif name == "tags":
            value = _clean_tags(raw or [])
        elif name == "custom_fields":
            value = _merge_custom_fields(contact.custom_fields, raw or {})
        elif name == "country":
            value = _check_country(value or "")
        elif name == "time_zone":
            value = _check_time_zone(value or "")
        elif name == "opted_out" and value != contact.opted_out:
            contact.opted_out_at = timezone.now() if value else None
        if getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.add(name)
    return changed


def _merge_custom_fields(current: dict, updates: dict) -> dict:
    """`current` with `updates` applied: a None value removes its key."""
    merged = dict(current)
    for key, value in clean_custom_fields(updates, allow_none=True).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _full_clean(instance: models.Model) -> None:
    # Field checks only (lengths, email, URL, choices); uniqueness is the database's job (409s).
    full_clean(instance, validate_unique=False, validate_constraints=False)


def _save(contact: Contact) -> None:
    """Save in a savepoint, turning a clash on the phone into 409 (the transaction lives on)."""
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:
        if _violates(exc, PHONE_UNIQUE_CONSTRAINT):
            raise _phone_taken() from exc
        raise


def _violates(exc: IntegrityError, constraint: str) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == constraint


def _lock(contact: Contact) -> Contact:
    locked = Contact.objects.select_for_update().filter(pk=contact.pk).first()
    if locked is None:
        raise NotFound(_("Contact not found."))
    return locked


# --- contacts ---------------------------------------------------------------------------------

def contact_create(
    *, phone: str, name: str = "", email: str = "", actor: Actor | None = None, **fields: Any
) -> Contact:
    """Create a contact within the plan's `max_contacts`; 409 if the phone is another contact's.

    Locks the company row, so concurrent creations cannot overshoot the limit together. Audited
    for `actor` (None: the system).
    """
    contact = Contact()
    _apply(contact, {"phone": phone, "name": name, "email": email, **fields})
    _full_clean(contact)
    with transaction.atomic():
        company = lock_current_company()
        ensure_within_limit(company, "max_contacts", used=Contact.objects.count())
        _save(contact)
        audit_record(action="contact.created", entity_type="contact", entity_id=contact.pk, actor=actor,
                     changes=created(contact, AUDITED_FIELDS))
        publish(CONTACT_CREATED, {"contact_id": contact.pk})
    return contact


def _write(
    contact: Contact, changes_for: Callable[[Contact], dict[str, Any]], actor: Actor | None = None
) -> Contact:
    """Apply the changes computed from the locked, current row; audit and publish only if any."""
    with transaction.atomic():
        contact = _lock(contact)
        before = snapshot(contact, AUDITED_FIELDS)
        changed = _apply(contact, changes_for(contact))
        if changed:
            _full_clean(contact)
            _save(contact)
            audit_record(action="contact.updated", entity_type="contact", entity_id=contact.pk, actor=actor,
                         changes=changes_between(before, contact, sorted(changed)))
            publish(CONTACT_UPDATED, {"contact_id": contact.pk, "changed": sorted(changed)})
    return contact


def contact_update(*, contact: Contact, actor: Actor | None = None, **fields: Any) -> Contact:
    """Change the given fields; `custom_fields` merge (a None value removes that key).

    Locks the contact row. 404 if it was deleted meanwhile, 409 if the new phone is taken.
    """
    return _write(contact, lambda current: fields, actor)


def contact_delete(*, contact: Contact, actor: Actor | None = None) -> None:
    """Soft-delete: the row stays for its conversations, its phone is free for a new contact."""
    with transaction.atomic():
        contact = _lock(contact)
        contact.deleted_at = timezone.now()
        contact.save(update_fields=["deleted_at", "updated_at"])
        audit_record(action="contact.deleted", entity_type="contact", entity_id=contact.pk, actor=actor,
                     changes={"deleted_at": [None, contact.deleted_at.isoformat()]})
        publish(CONTACT_DELETED, {"contact_id": contact.pk})


def contact_add_tags(*, contact: Contact, tags: list[str], actor: Actor | None = None) -> Contact:
    """Add `tags` (normalised to lower case) to those the contact has; locks the contact row."""
    adding = _clean_tags(tags)
    return _write(contact, lambda current: {"tags": [*current.tags, *adding]}, actor)


def contact_remove_tags(*, contact: Contact, tags: list[str], actor: Actor | None = None) -> Contact:
    """Remove `tags` (matched case-blind); absent tags are ignored. Locks the contact row."""
    removing = {normalize_tag(tag) for tag in tags}
    return _write(contact, lambda current: {"tags": [t for t in current.tags if t not in removing]}, actor)


def contact_set_opt_out(*, contact: Contact, opted_out: bool, actor: Actor | None = None) -> Contact:
    """Opt the contact out of (or back into) campaigns; `opted_out_at` records when."""
    return _write(contact, lambda current: {"opted_out": opted_out}, actor)


def contact_get_or_create_for_inbound(
    *, phone: str, name: str = "", lock: bool = False
) -> tuple[Contact, bool]:
    """The contact writing in from `phone`, created if new; fills in its name if it has none.

    Never refused for the plan's `max_contacts`: a customer's message is never dropped. Safe under
    concurrency: of two webhooks for one new number, the second insert fails on the unique phone
    inside a savepoint and re-reads the first one's contact. `phone` is checked only for a
    possible length (see `normalize_phone`). With `lock`, the row stays locked until the caller's
    transaction ends (taken by the lookup itself, not by a second query).
    """
    phone = _phone(phone, strict=False)
    name = _profile_name(name)
    contacts = Contact.objects.select_for_update() if lock else Contact.objects
    # No savepoint of its own: nothing here is rolled back alone but the insert below.
    with transaction.atomic(savepoint=False):
        contact = contacts.filter(phone=phone).first()
        if contact is None:
            try:
                with transaction.atomic():
                    contact = Contact.objects.create(phone=phone, name=name)
            except IntegrityError as exc:
                if not _violates(exc, PHONE_UNIQUE_CONSTRAINT):
                    raise
                # Read committed: this statement sees the row the other transaction committed.
                contact = contacts.get(phone=phone)
            else:
                publish(CONTACT_CREATED, {"contact_id": contact.pk})
                return contact, True
        _fill_in_name(contact, name)
    return contact, False


def _profile_name(name: str) -> str:
    # A profile name is the provider's, not a user's input to refuse: drop what text cannot hold.
    return " ".join((name or "").replace("\x00", "").split())[:200]


def _fill_in_name(contact: Contact, name: str) -> None:
    """Give a nameless contact the name its WhatsApp profile carries."""
    if name and not contact.name:
        # Conditional update: a name someone typed in meanwhile is never overwritten.
        if Contact.objects.filter(pk=contact.pk, name="").update(name=name, updated_at=timezone.now()):
            contact.refresh_from_db()
            publish(CONTACT_UPDATED, {"contact_id": contact.pk, "changed": ["name"]})


def contacts_get_or_create_for_inbound(senders: Iterable[tuple[str, str]]) -> dict[str, Contact]:
    """`contact_get_or_create_for_inbound` with `lock` for many senders at once: (phone as
    received, profile name) pairs in arrival order → `{phone as received: contact}`, in three
    statements for the lot. A phone's first non-empty name is the one used, as one by one.

    Rows are locked in phone order, as two batches of one company must take them. When another
    transaction creates one of the phones meanwhile, the insert raises IntegrityError (with the
    caller's transaction to roll back): one by one, the single version settles that race.
    """
    normalized: dict[str, str] = {}
    names: dict[str, str] = {}
    for raw, name in senders:
        phone = normalized.setdefault(raw, _phone(raw, strict=False))
        if name := _profile_name(name):
            names.setdefault(phone, name)
    phones = sorted(set(normalized.values()))
    with transaction.atomic(savepoint=False):
        found = {
            contact.phone: contact
            for contact in Contact.objects.select_for_update().filter(phone__in=phones).order_by("phone")
        }
        new = [Contact(phone=phone, name=names.get(phone, "")) for phone in phones if phone not in found]
        Contact.objects.bulk_create(new)
        for contact in new:
            found[contact.phone] = contact
            publish(CONTACT_CREATED, {"contact_id": contact.pk})
        for phone, name in names.items():
            _fill_in_name(found[phone], name)
    return {raw: found[phone] for raw, phone in normalized.items()}


def contact_record_message(*, contact: Contact, inbound: bool, at: dt.datetime | None = None) -> None:
    """Record a message to or from the contact at `at`: `last_contact_at`, and `last_inbound_at`
    (the 24-hour service window) for inbound ones.

    Never moves a time backwards, so late or re-delivered webhooks are harmless; no lock taken.
    """
    at = at or timezone.now()
    moment = Value(at, output_field=models.DateTimeField())
    # PostgreSQL's GREATEST ignores NULLs, so a first message sets the time.
    updates = {"last_contact_at": Greatest(F("last_contact_at"), moment)}
    if inbound:
        updates["last_inbound_at"] = Greatest(F("last_inbound_at"), moment)
    Contact.all_objects.filter(pk=contact.pk).update(**updates)


def contacts_record_inbound(latest: dict[int, dt.datetime]) -> None:
    """`contact_record_message` of inbound messages for many contacts: `{contact id: time of its
    latest message}`, in one statement."""
    if not latest:
        return
    table = connection.ops.quote_name(Contact._meta.db_table)
    rows = ", ".join(["(%s::bigint, %s::timestamptz)"] * len(latest))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS c SET last_contact_at = GREATEST(c.last_contact_at, v.at), "
            f"last_inbound_at = GREATEST(c.last_inbound_at, v.at) FROM (VALUES {rows}) AS v(id, at) "
            "WHERE c.id = v.id",
            [value for item in sorted(latest.items()) for value in item],
        )


# --- custom field definitions ------------------------------------------------------------------

def _clean_choices(field_type: str, choices: list[str] | None) -> list[str]:
    if field_type != CustomFieldDefinition.Type.CHOICE:
        if choices:
            raise _invalid("choices", _("Only choice fields have choices."))
        return []
    cleaned = []
    for choice in choices or []:
        text = choice.strip() if isinstance(choice, str) else ""
        if not 1 <= len(text) <= 100:
            raise _invalid("choices", _("Each choice has 1 to 100 characters."))
        if text not in cleaned:
            cleaned.append(text)
    if not 1 <= len(cleaned) <= MAX_CHOICES:
        raise _invalid("choices", _("Give 1 to %(max)d choices.") % {"max": MAX_CHOICES})
    return cleaned


def custom_field_create(
    *, key: str, label: str, type: str, choices: list[str] | None = None,
) -> CustomFieldDefinition:
    """Define a custom contact field; 409 if the key exists. `choices` only for `choice` fields."""
    key = key.strip()
    if not KEY_RE.match(key):
        raise _invalid("key", _("Use 1 to 50 lower-case letters, digits and underscores, from a letter."))
    if type not in CustomFieldDefinition.Type.values:
        raise _invalid("type", _("Unknown field type."))
    definition = CustomFieldDefinition(
        key=key, label=label.strip(), type=type, choices=_clean_choices(type, choices),
    )
    _full_clean(definition)
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError as exc:
        raise Conflict(
            _("A custom field with this key already exists."),
            details=[{"field": "key", "message": _("Already in use.")}],
        ) from exc
    return definition


class _WithoutKey(Func):
    """`jsonb - key`: the object without that key."""

    arg_joiner = " - "
    template = "(%(expressions)s)"
    output_field = models.JSONField()


def custom_field_delete(*, definition: CustomFieldDefinition) -> None:
    """Delete the definition and its values on every contact (deleted ones too), in one transaction.

    The values go too, so a later field with the same key and another type starts clean. This bulk
    clean-up publishes no per-contact events.
    """
    with transaction.atomic():
        key = definition.key
        CustomFieldDefinition.objects.filter(pk=definition.pk).delete()
        Contact.all_objects.filter(custom_fields__has_key=key).update(
            custom_fields=_WithoutKey(F("custom_fields"), Cast(Value(key), models.TextField())),
        )


def check_contact_write(*, actor) -> None:
    """Before any write to contacts on someone's behalf: every role; keys need `contacts:write`."""
    permissions.check(actor, "contacts.write")


def check_custom_fields_manage(*, actor) -> None:
    """Defining or deleting custom fields: supervisors and admins; keys need `contacts:write`."""
    permissions.check(actor, "custom_fields.manage")
