"""Importing contacts from a CSV or XLSX file in the background (SPEC §5, §15.1 "Import").

`contact_import_start` checks everything a user can get wrong before anything is stored (file type,
encoding, damaged file, a phone column, the options), keeps the file under the company's prefix of
the default storage and queues `contact_import_run`, which works through the rows in batches: one
query finds a batch's existing phones, new contacts are bulk-inserted and existing ones
bulk-updated (or skipped), and the counters that record the batch commit with it. Progress goes out
as `import.progress` frames (to the user who started it and to admins) at least once a second and
at the end; contacts created here send no per-contact frames.

Every data row ends as exactly one of imported, updated or skipped (`imported + updated + skipped ==
processed`); `errors` says why each refused row was skipped (an invalid value, a phone repeating an
earlier row, the plan's contact limit). Contacts already there are skipped and left untouched
unless `update_existing`: then the file's non-empty cells overwrite their fields, tags are added and
custom fields merged. Imported and updated contacts join the chosen list.
"""

import csv
import datetime as dt
import io
import itertools
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.models import ApiKey, User
from apps.audit.services import audit_record
from apps.contacts import import_files
from apps.contacts.custom_fields import clean_value
from apps.contacts.events import IMPORT_PROGRESS
from apps.contacts.import_files import FileInfo, fold
from apps.contacts.models import (
    Contact,
    ContactImport,
    ContactList,
    ContactListMember,
    CustomFieldDefinition,
    normalize_tag,
)
from apps.contacts.phones import normalize_phone
from apps.notifications.services import notify
from conversa.errors import NotFound, ValidationFailed
from conversa.events import publish
from conversa.files.sniffing import FileTooLarge, safe_filename
from tenants.limits import lock_current_company

logger = logging.getLogger("conversa.contacts.imports")

# The first batch is small, so the first progress frame comes soon after the start (the first rows
# also pay for warming up: phone metadata, query compilation); then:
FIRST_BATCH_SIZE = 100
# A batch's commit should take about this long, so that progress frames come at least once a second
# on a busy machine too: the next batch grows or shrinks (between MIN and MAX) to keep to it.
BATCH_SECONDS = 0.25
MIN_BATCH_SIZE, MAX_BATCH_SIZE = 50, 2000
# Frames while running: often enough for a live bar (SPEC: at least once a second), few enough to
# cost nothing next to the inserts.
PROGRESS_INTERVAL_SECONDS = 0.4
MAX_STORED_ERRORS = 10_000
MAX_TAGS = 50
TAG_MAX_LENGTH = 50
PREVIEW_ROWS = 5

STANDARD_FIELDS = (
    "phone", "name", "email", "tags", "lead_status", "language", "company_name", "city", "country",
    "notes",
)
MAX_LENGTHS = {"name": 200, "email": 254, "language": 10, "company_name": 200, "city": 100,
               "notes": 10_000}
# Header names (folded: no case, accents, spaces or punctuation) read as each field.
SYNONYMS = {
    "phone": {"phone", "phonenumber", "telephone", "tel", "telefone", "telefono", "fone", "mobile",
              "mobilephone", "cell", "cellphone", "celular", "cel", "movil", "whatsapp", "numero",
              "number", "msisdn", "contactphone"},
    "name": {"name", "fullname", "nome", "nomecompleto", "nombre", "nombrecompleto", "contact",
             "contactname", "contato", "contacto", "cliente", "customer"},
    "email": {"email", "emailaddress", "mail", "correo", "correoelectronico", "correio"},
    "tags": {"tags", "tag", "etiquetas", "etiqueta", "labels", "label", "marcadores"},
    "lead_status": {"leadstatus", "status", "estado", "situacao", "situacion", "stage", "etapa"},
    "language": {"language", "lang", "idioma", "lingua"},
    "company_name": {"company", "companyname", "empresa", "organization", "organisation",
                     "organizacao", "organizacion"},
    "city": {"city", "cidade", "ciudad", "town"},
    "country": {"country", "countrycode", "pais"},
    "notes": {"notes", "note", "notas", "nota", "observacoes", "observacao", "observaciones", "obs",
              "comments", "comentarios"},
}
_TAG_SPLIT = re.compile(r"[,;|]")
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "sim", "si", "s", "x", "verdadeiro", "verdadero"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "nao", "f", "falso"})


class RowError(ValueError):
    """A row that cannot be imported; its message is shown to the user as the row's error."""


def _invalid(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field_name, "message": str(message)}])


# --- permission and reads -------------------------------------------------------------------------

def check_contact_import(*, actor) -> None:
    """Importing: supervisors and admins; API keys need `contacts:write` (403 otherwise)."""
    permissions.check(actor, "contacts.import")


def contact_imports_visible_to(actor) -> QuerySet[ContactImport]:
    """Admins see every import; others (who may import at all) their own; API keys those made by
    keys. 403 for whoever may not import."""
    check_contact_import(actor=actor)
    imports = ContactImport.objects.all()
    if isinstance(actor, ApiKey):
        return imports.filter(created_by__isnull=True)
    if actor.role == User.Role.ADMIN:
        return imports
    return imports.filter(created_by=actor)


def contact_import_get_for(actor, import_id: int) -> ContactImport:
    found = contact_imports_visible_to(actor).filter(pk=import_id).first()
    if found is None:
        raise NotFound(_("Import not found."))
    return found


# --- mapping --------------------------------------------------------------------------------------

def field_choices() -> list[tuple[str, str]]:
    """(key, label) of every field a column can fill, custom fields as `custom.<key>`."""
    labels = {
        "phone": _("Phone"), "name": _("Name"), "email": _("Email"), "tags": _("Tags"),
        "lead_status": _("Lead status"), "language": _("Language"), "company_name": _("Company"),
        "city": _("City"), "country": _("Country"), "notes": _("Notes"),
    }
    choices = [(key, str(labels[key])) for key in STANDARD_FIELDS]
    for definition in CustomFieldDefinition.objects.order_by("label", "id"):
        choices.append((f"custom.{definition.key}", definition.label))
    return choices


def suggest_mapping(columns: list[str]) -> dict[str, str]:
    """Each column → the field its header names (synonyms in en/es/pt, custom fields by key or
    label), or "" to skip; each field is suggested for its first column only."""
    by_name = {fold(name): key for key, names in SYNONYMS.items() for name in names}
    for definition in CustomFieldDefinition.objects.all():
        by_name.setdefault(fold(definition.key), f"custom.{definition.key}")
        by_name.setdefault(fold(definition.label), f"custom.{definition.key}")
    mapping, taken = {}, set()
    for column in columns:
        target = by_name.get(fold(column), "")
        if target in taken:
            target = ""
        mapping[column] = target
        if target:
            taken.add(target)
    return mapping


def clean_mapping(mapping: Any, columns: list[str]) -> dict[str, str]:
    """The mapping as stored: every key a column of the file, every value a known field or "" (skip),
    no field twice, a phone column. 422 on field `mapping` otherwise."""
    if not isinstance(mapping, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in mapping.items()
    ):
        raise _invalid("mapping", _("Must be an object of column name → field."))
    known = {key for key, _label in field_choices()}
    unknown_columns = [key for key in mapping if key not in columns]
    if unknown_columns:
        raise _invalid("mapping", _("The file has no column %(column)s.") % {"column": unknown_columns[0]})
    cleaned, seen = {}, set()
    for column in columns:
        target = mapping.get(column, "").strip()
        if target and target not in known:
            raise _invalid("mapping", _("Unknown field: %(field)s.") % {"field": target})
        if target and target in seen:
            raise _invalid("mapping", _("Two columns are mapped to %(field)s.") % {"field": target})
        seen.add(target)
        cleaned[column] = target
    if "phone" not in seen:
        raise _invalid("mapping", _("Choose the column that holds the phone numbers."))
    return cleaned


def _clean_country(code: str) -> str:
    code = (code or "").strip().upper()
    if code and (len(code) != 2 or phonenumbers.country_code_for_region(code) == 0):
        raise _invalid("default_country", _("Use a two-letter ISO country code, e.g. BR."))
    return code


def _clean_import_tags(tags: Iterable[str]) -> list[str]:
    cleaned = []
    for raw in tags:
        for part in _TAG_SPLIT.split(raw or ""):
            tag = normalize_tag(part)
            if not tag:
                continue
            if len(tag) > TAG_MAX_LENGTH:
                raise _invalid("tags", _("Each tag has 1 to %(max)d characters.") % {"max": TAG_MAX_LENGTH})
            if tag not in cleaned:
                cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise _invalid("tags", _("At most %(max)d tags per contact.") % {"max": MAX_TAGS})
    return cleaned


# --- rows -----------------------------------------------------------------------------------------

@dataclass
class CleanRow:
    number: int
    phone: str
    values: dict[str, Any]
    tags: list[str]
    custom: dict[str, Any]


class RowCleaner:
    """Turns a row's cells into a contact's values by the import's mapping, as the contact services
    would (E.164 phone, known lead status, valid email, custom values typed by their definition)."""

    def __init__(self, *, columns: list[str], mapping: dict[str, str], default_country: str):
        self.targets = [(index, mapping.get(column, "")) for index, column in enumerate(columns)]
        self.targets = [(index, target) for index, target in self.targets if target]
        self.default_country = default_country or None
        keys = [target.removeprefix("custom.") for _i, target in self.targets if target.startswith("custom.")]
        self.definitions = {d.key: d for d in CustomFieldDefinition.objects.filter(key__in=keys)}
        self.lead_statuses = self._lead_status_words()

    @staticmethod
    def _lead_status_words() -> dict[str, str]:
        words = {}
        for value, label in Contact.LeadStatus.choices:
            words[fold(value)] = value
            for language, _name in settings.LANGUAGES:
                with translation.override(language):
                    words.setdefault(fold(str(label)), value)
        return words

    def clean(self, number: int, cells: list[str]) -> CleanRow:
        row = CleanRow(number=number, phone="", values={}, tags=[], custom={})
        for index, target in self.targets:
            text = cells[index]
            if "\x00" in text:
                raise RowError(_("A cell holds a NUL character."))
            if target == "phone":
                row.phone = self._phone(text)
            elif not text:
                continue
            elif target == "tags":
                row.tags = self._tags(text)
            elif target.startswith("custom."):
                key = target.removeprefix("custom.")
                row.custom[key] = self._custom(self.definitions[key], text)
            else:
                row.values[target] = self._value(target, text)
        return row

    def _phone(self, text: str) -> str:
        if not text:
            raise RowError(_("No phone number."))
        try:
            return normalize_phone(text, default_region=self.default_country)
        except ValueError as exc:
            raise RowError(f"{exc} ({text[:40]})") from exc

    def _tags(self, text: str) -> list[str]:
        tags = []
        for part in _TAG_SPLIT.split(text):
            tag = normalize_tag(part)
            if not tag:
                continue
            if len(tag) > TAG_MAX_LENGTH:
                raise RowError(_("Each tag has 1 to %(max)d characters.") % {"max": TAG_MAX_LENGTH})
            if tag not in tags:
                tags.append(tag)
        return tags

    def _value(self, target: str, text: str) -> str:
        limit = MAX_LENGTHS.get(target)
        if limit and len(text) > limit:
            raise RowError(_("%(field)s: at most %(max)d characters.") % {"field": target, "max": limit})
        if target == "email":
            try:
                validate_email(text)
            except ValidationError as exc:
                raise RowError(_("Not a valid email address: %(value)s") % {"value": text[:80]}) from exc
        elif target == "lead_status":
            status = self.lead_statuses.get(fold(text))
            if status is None:
                raise RowError(_("Unknown lead status: %(value)s") % {"value": text[:40]})
            return status
        elif target == "country":
            if not (len(text) == 2 and text.isascii() and text.isalpha()):
                raise RowError(_("Country: use the two-letter ISO code, e.g. BR."))
            return text.upper()
        return text

    @staticmethod
    def _custom(definition: CustomFieldDefinition, text: str) -> Any:
        value: Any = text
        kind = definition.type
        if kind == CustomFieldDefinition.Type.NUMBER:
            value = _number(text)
        elif kind == CustomFieldDefinition.Type.BOOL:
            word = fold(text)
            value = True if word in TRUE_WORDS else False if word in FALSE_WORDS else text
        elif kind == CustomFieldDefinition.Type.CHOICE:
            value = next((choice for choice in definition.choices if fold(choice) == fold(text)), text)
        try:
            return clean_value(definition, value)
        except ValueError as exc:
            raise RowError(f"{definition.label}: {exc}") from exc


def _number(text: str) -> int | float | str:
    compact = text.replace(" ", "")
    if "," in compact and "." not in compact:
        compact = compact.replace(",", ".")  # "12,5": the decimal comma of es/pt spreadsheets
    for kind in (int, float):
        try:
            value = kind(compact)
        except ValueError:
            continue
        if value == value and value not in (float("inf"), float("-inf")):
            return value
    return text  # clean_value says what is wrong with it


# --- starting -------------------------------------------------------------------------------------

def _max_bytes() -> int:
    return int(settings.CONTACT_IMPORT_MAX_BYTES)


def check_import_size(size: int) -> None:
    if size > _max_bytes():
        message = _("The file is too large: at most %(mb)d MB.") % {"mb": _max_bytes() // (1024 * 1024)}
        raise FileTooLarge(message, details=[{"field": "file", "message": message}])


def contact_import_preview(*, actor, fileobj, size: int) -> dict:
    """What the mapping screen shows: the file's columns, its first rows and the suggested mapping.
    The same refusals as `contact_import_start`; nothing is stored."""
    check_contact_import(actor=actor)
    check_import_size(size)
    info = import_files.inspect_file(fileobj)
    return {
        "format": info.format,
        "columns": info.columns,
        "rows": import_files.preview_rows(fileobj, info, PREVIEW_ROWS),
        "total": info.total,
        "suggested_mapping": suggest_mapping(info.columns),
    }


def contact_import_start(
    *, actor, fileobj, size: int, filename: str, mapping: dict | None = None,
    list_id: int | None = None, default_country: str = "", update_existing: bool = False,
    tags: Iterable[str] = (), request=None,
) -> ContactImport:
    """Check the file and options, store the file and queue the import (after commit).

    415 for a file that is not CSV/XLSX (sniffed), 413 over CONTACT_IMPORT_MAX_BYTES, 422 for an
    unreadable encoding, a damaged file, no phone column or a bad option: then nothing is stored and
    no task is queued. Without `mapping`, columns are mapped by their headers (`suggest_mapping`).
    """
    check_contact_import(actor=actor)
    check_import_size(size)
    info = import_files.inspect_file(fileobj)
    country = _clean_country(default_country)
    import_tags = _clean_import_tags(tags)
    contact_list = None
    if list_id is not None:
        contact_list = ContactList.objects.filter(pk=list_id).first()
        if contact_list is None:
            raise _invalid("list_id", _("No such contact list."))
    cleaned_mapping = clean_mapping(
        suggest_mapping(info.columns) if mapping is None else mapping, info.columns,
    )
    name = f"tenants/{connection.schema_name}/imports/{uuid.uuid4().hex}/upload.{info.format}"
    fileobj.seek(0)
    stored = default_storage.save(name, File(fileobj))
    try:
        with transaction.atomic():
            record = ContactImport.objects.create(
                format=info.format,
                filename=safe_filename(filename, default_extension=f".{info.format}"),
                file_name=stored,
                mapping=cleaned_mapping,
                options={
                    "default_country": country, "update_existing": bool(update_existing),
                    "tags": import_tags, "columns": info.columns, "encoding": info.encoding,
                    "delimiter": info.delimiter,
                },
                contact_list=contact_list,
                total=info.total,
                created_by=permissions.acting_user(actor),
            )
            audit_record(
                action="contacts.import_started", entity_type="contact_import", entity_id=record.pk,
                actor=actor, request=request,
                changes={"filename": record.filename, "rows": info.total, "list_id": list_id,
                         "update_existing": bool(update_existing)},
            )
            publish(IMPORT_PROGRESS, {"import_id": record.pk})
            schema = connection.schema_name
            transaction.on_commit(lambda: _enqueue(schema, record.pk))
    except BaseException:
        default_storage.delete(stored)
        raise
    return record


def _enqueue(schema_name: str, import_id: int) -> None:
    from apps.contacts.tasks import contact_import_process

    contact_import_process(schema_name, import_id)


# --- running --------------------------------------------------------------------------------------

@dataclass
class _Run:
    record: ContactImport
    cleaner: RowCleaner
    update_existing: bool
    tags: list[str]
    list_id: int | None
    limited: bool
    seen: dict[str, int] = field(default_factory=dict)
    last_frame: float = 0.0


def contact_import_run(*, import_id: int) -> ContactImport | None:
    """Run a queued import, or resume a running one after its worker died: every batch commits its
    contacts together with the counters that record it, so the rows up to `processed` are done and
    the run goes on after them. A completed or failed import, or one that a live run holds, is left
    alone (None). Row errors are written in the language of the user who started it."""
    author = ContactImport.objects.filter(pk=import_id).values_list("created_by__language", flat=True).first()
    with translation.override(author or settings.LANGUAGE_CODE):
        return _run(import_id)


class _LeaseLost(Exception):
    """Another run took the import over (this one was thought dead): stop without writing."""


def _stale_before():
    return timezone.now() - dt.timedelta(seconds=settings.IMPORT_STALE_SECONDS)


def _run(import_id: int) -> ContactImport | None:
    with transaction.atomic():
        record = ContactImport.objects.select_for_update().filter(pk=import_id).first()
        if record is None or record.status in (ContactImport.Status.COMPLETED, ContactImport.Status.FAILED):
            return None
        held = record.status == ContactImport.Status.RUNNING and record.heartbeat_at is not None
        if held and record.heartbeat_at >= _stale_before():
            return None  # a live run has it (a duplicate task, or a resume that came too early)
        record.status = ContactImport.Status.RUNNING
        record.started_at = record.started_at or timezone.now()
        record.runner, record.heartbeat_at = uuid.uuid4(), timezone.now()
        record.save(update_fields=["status", "started_at", "runner", "heartbeat_at"])
        publish(IMPORT_PROGRESS, {"import_id": record.pk})
    try:
        with tempfile.TemporaryFile() as local:
            # A local, seekable copy: openpyxl seeks, and the storage may be S3.
            with default_storage.open(record.file_name, "rb") as stored:
                shutil.copyfileobj(stored, local, 1024 * 1024)
            _process(record, local)
    except _LeaseLost:
        logger.warning("import %s was taken over by another run; this one stops", record.pk)
        return None
    except Exception as exc:
        logger.exception("import %s failed", record.pk)
        _finish(record, failure=_("The file could not be read to the end: %(error)s")
                % {"error": str(exc)[:300]})
        return record
    _finish(record)
    return record


def contact_imports_resume_stalled() -> int:
    """Queue again the imports whose run died (no batch committed for IMPORT_STALE_SECONDS) and the
    queued ones whose task was lost; the run goes on after the last committed batch. Returns how many."""
    stale = _stale_before()
    stalled = list(
        ContactImport.objects.filter(
            Q(status=ContactImport.Status.RUNNING, heartbeat_at__lt=stale)
            | Q(status=ContactImport.Status.QUEUED, created_at__lt=stale)
        ).values_list("pk", flat=True)
    )
    schema = connection.schema_name
    for import_id in stalled:
        logger.warning("import %s stalled; queued again", import_id)
        _enqueue(schema, import_id)
    return len(stalled)


def _process(record: ContactImport, fileobj) -> None:
    options = record.options
    info = FileInfo(format=record.format, columns=options["columns"], total=record.total,
                    encoding=options.get("encoding", ""), delimiter=options.get("delimiter", ""))
    run = _Run(
        record=record,
        cleaner=RowCleaner(columns=info.columns, mapping=record.mapping,
                           default_country=options.get("default_country", "")),
        update_existing=bool(options.get("update_existing")),
        tags=list(options.get("tags", [])),
        list_id=record.contact_list_id,
        limited=_contacts_limited(),
    )
    done = record.processed  # rows a previous, interrupted run committed
    rows = import_files.iter_rows(fileobj, info)
    for _skipped in zip(range(done), rows, strict=False):
        pass
    size = FIRST_BATCH_SIZE
    while batch := list(itertools.islice(rows, size)):
        started = time.monotonic()
        _commit_batch(run, batch)
        size = _next_batch_size(size, time.monotonic() - started)


def _next_batch_size(size: int, seconds: float) -> int:
    """The size whose commit should take BATCH_SECONDS, judging by how long `size` rows took."""
    wanted = size * BATCH_SECONDS / max(seconds, 0.001)
    # Halve at most / double at most per step: one slow commit (a lock wait) must not swing it far.
    return int(min(max(wanted, size / 2, MIN_BATCH_SIZE), size * 2, MAX_BATCH_SIZE))


def _contacts_limited() -> bool:
    from tenants.models import Company

    company = Company.objects.select_related("plan").get(schema_name=connection.schema_name)
    return company.plan.limit("max_contacts") is not None


def _commit_batch(run: _Run, batch: list[tuple[int, list[str]]]) -> None:
    errors, cleaned = [], []
    for number, cells in batch:
        try:
            row = run.cleaner.clean(number, cells)
        except RowError as exc:
            errors.append({"row": number, "error": str(exc)})
            continue
        first = run.seen.get(row.phone)
        if first is not None:
            errors.append({"row": number, "error": _("The same phone as row %(row)d: only that row was used.")
                           % {"row": first}})
            continue
        run.seen[row.phone] = number
        cleaned.append(row)
    for attempt in range(3):
        try:
            with transaction.atomic():
                imported, updated, skipped, refused = _write(run, cleaned)
                _record_progress(run, processed=len(batch), imported=imported, updated=updated,
                                 skipped=skipped + len(errors) + len(refused), errors=errors + refused)
            return
        except IntegrityError:
            # A contact with one of these phones was created meanwhile (an inbound message): the
            # batch rolled back whole; read the existing phones again.
            if attempt == 2:
                raise


def _write(run: _Run, rows: list[CleanRow]) -> tuple[int, int, int, list[dict]]:
    """Insert, update or skip the batch's rows: (imported, updated, skipped, rows refused by the
    plan's contact limit)."""
    phones = [row.phone for row in rows]
    existing_rows = Contact.objects.filter(phone__in=phones)
    if run.update_existing:
        existing_rows = existing_rows.select_for_update().order_by("pk")
    existing = {contact.phone: contact for contact in existing_rows}
    fresh = [row for row in rows if row.phone not in existing]
    room = None
    if fresh and run.limited:
        company = lock_current_company()
        limit = company.plan.limit("max_contacts")
        if limit is not None:
            room = max(limit - Contact.objects.count(), 0)
    created, refused = [], []
    for row in fresh:
        if room is not None and len(created) >= room:
            refused.append({"row": row.number, "error": _("Your plan's contact limit (%(limit)d) is reached.")
                            % {"limit": limit}})
            continue
        created.append(Contact(
            phone=row.phone, tags=_merged_tags([], row.tags, run.tags), custom_fields=row.custom,
            **row.values,
        ))
    Contact.objects.bulk_create(created)
    changed: list[Contact] = []
    if run.update_existing:
        now = timezone.now()
        for row in rows:
            contact = existing.get(row.phone)
            if contact is None:
                continue
            for name, value in row.values.items():
                setattr(contact, name, value)
            contact.tags = _merged_tags(contact.tags, row.tags, run.tags)
            contact.custom_fields = {**contact.custom_fields, **row.custom}
            contact.updated_at = now
            changed.append(contact)
        if changed:
            Contact.objects.bulk_update(
                changed, fields=[*(f for f in STANDARD_FIELDS if f not in ("phone", "tags")), "tags",
                                 "custom_fields", "updated_at"],
            )
    if run.list_id is not None and (created or changed):
        members = [ContactListMember(contact_list_id=run.list_id, contact=c) for c in [*created, *changed]]
        ContactListMember.objects.bulk_create(members, ignore_conflicts=True)
    skipped = 0 if run.update_existing else len(rows) - len(fresh)
    return len(created), len(changed), skipped, refused


def _merged_tags(current: list[str], *more: list[str]) -> list[str]:
    tags = list(current)
    for group in more:
        for tag in group:
            if tag not in tags:
                tags.append(tag)
    return tags[:MAX_TAGS]


def _record_progress(run: _Run, *, processed: int, imported: int, updated: int, skipped: int,
                     errors: list[dict]) -> None:
    record = run.record
    # Inside the batch's transaction: the batch counts only while this run still holds the import.
    held = ContactImport.objects.select_for_update().filter(pk=record.pk, runner=record.runner)
    if not held.update(heartbeat_at=timezone.now()):
        raise _LeaseLost
    record.processed += processed
    record.imported += imported
    record.updated += updated
    record.skipped += skipped
    record.total = max(record.total, record.processed)
    fields = ["processed", "imported", "updated", "skipped", "total"]
    room = MAX_STORED_ERRORS - len(record.errors)
    if errors and room > 0:
        record.errors = [*record.errors, *sorted(errors, key=lambda e: e["row"])[:room]]
        fields.append("errors")
    record.save(update_fields=fields)
    now = time.monotonic()
    if now - run.last_frame >= PROGRESS_INTERVAL_SECONDS:
        run.last_frame = now
        publish(IMPORT_PROGRESS, {"import_id": record.pk})


def _finish(record: ContactImport, *, failure: str = "") -> None:
    with transaction.atomic():
        held = ContactImport.objects.select_for_update().filter(
            pk=record.pk, runner=record.runner, status=ContactImport.Status.RUNNING)
        if not held.exists():
            return  # another run took the import over and finishes it
        record.refresh_from_db()
        record.status = ContactImport.Status.FAILED if failure else ContactImport.Status.COMPLETED
        record.failure = failure[:500]
        if not failure:
            record.total = record.processed
        record.finished_at = timezone.now()
        record.save(update_fields=["status", "failure", "total", "finished_at"])
        audit_record(
            action="contacts.import_finished", entity_type="contact_import", entity_id=record.pk,
            actor=record.created_by, success=not failure,
            changes={"status": record.status, "imported": record.imported, "updated": record.updated,
                     "skipped": record.skipped, "errors": len(record.errors)},
        )
        publish(IMPORT_PROGRESS, {"import_id": record.pk})
        if record.created_by is not None:
            _notify_finished(record)
    default_storage.delete(record.file_name)


def _notify_finished(record: ContactImport) -> None:
    user = record.created_by
    with translation.override(user.language or None):
        if record.status == ContactImport.Status.COMPLETED:
            title = _("Import of %(file)s finished") % {"file": record.filename}
            body = _("%(imported)d imported, %(updated)d updated, %(skipped)d skipped.") % {
                "imported": record.imported, "updated": record.updated, "skipped": record.skipped}
        else:
            title = _("Import of %(file)s failed") % {"file": record.filename}
            body = record.failure
    notify(users=[user], kind="import_finished", title=str(title), body=str(body),
           data={"import_id": record.pk})


def errors_csv_lines(record: ContactImport) -> Iterator[str]:
    """The import's errors as CSV text (row, error), for the errors.csv download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "error"])
    yield "\ufeff" + buffer.getvalue()
    for error in record.errors:
        buffer.seek(0)
        buffer.truncate()
        text = str(error.get("error", ""))
        writer.writerow([error.get("row"), "'" + text if text[:1] in "=+-@" else text])
        yield buffer.getvalue()
