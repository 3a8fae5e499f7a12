"""Loading a company backup (`backup_format`) into an empty company: `restore_company`.

Everything happens in one transaction: rows get new ids, taken from the target's own sequences (so
they never need resetting afterwards) and streamed in with COPY, a thousand at a time; every
foreign key, many-to-many row and id kept in JSON is remapped to them. Users are matched by
email, so the admin the company was provisioned with becomes (or stays beside) the backup's user
of that address. Files are checked against their SHA-256 and copied into the company's prefix of
the storage first; if anything fails, the copies are deleted and the transaction rolls back,
leaving the company as it was.
"""

import hashlib
import json
import logging
import zipfile
from dataclasses import dataclass, field

from django.apps import apps
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import connection, models, transaction
from django_tenants.utils import schema_context
from psycopg.types.json import Jsonb

from apps.audit.services import audit_record
from apps.exports import backup_format as fmt
from apps.exports.backup import applied_migrations
from apps.exports.events import COMPANY_RESTORED
from conversa.events import publish
from tenants.limits import lock_current_company
from tenants.models import Company

logger = logging.getLogger("conversa.exports")

BATCH = 1000
USER = "accounts.User"
# What a just-provisioned company already holds: its first admin and what that admin's sign-ins
# write. Anything else makes the company "not empty".
PROVISIONED = {USER, "accounts.AgentStatusPeriod", "audit.AuditLog", "notifications.Notification",
               "accounts.TwoFactorDevice", "accounts.BackupCode"}
# A user matched by email takes the backup's version of these (its status history, its two-factor
# device and codes): the provisioned admin's own would clash with them (one open status period, one
# device per user). Its audit entries and notifications stay: they happened in this company.
REPLACED_FOR_MATCHED_USERS = ("accounts.AgentStatusPeriod", "accounts.TwoFactorDevice", "accounts.BackupCode")


def _db_value(field: models.Field, values: dict):
    """A column's value for COPY: JSON wrapped as jsonb; a column the backup lacks (left out, or
    added since) gets the field's default, as a new row would."""
    value = values[field.attname] if field.attname in values else field.get_default()
    if isinstance(field, models.JSONField) and value is not None:
        return Jsonb(value)
    return value


class RestoreRefused(Exception):
    """The backup cannot be loaded here; nothing was changed."""


@dataclass
class Restored:
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    users_matched: int = 0


def read_manifest(archive: zipfile.ZipFile) -> dict:
    """The manifest, once it is known to be loadable here: our format, not newer than this version,
    no migration this deployment lacks, and every data and media file it lists present."""
    try:
        manifest = json.loads(archive.read("manifest.json"))
    except KeyError as exc:
        raise RestoreRefused("Not a company backup: manifest.json is missing.") from exc
    except ValueError as exc:
        raise RestoreRefused("The backup's manifest.json is not valid JSON.") from exc
    if manifest.get("format") != fmt.FORMAT:
        raise RestoreRefused("Not a Conversa company backup.")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > fmt.VERSION:
        raise RestoreRefused(
            f"The backup is of format version {manifest.get('version')}; this version of Conversa "
            f"reads up to {fmt.VERSION}. Upgrade, then restore."
        )
    ours = {app: set(names) for app, names in applied_migrations().items()}
    newer = sorted(f"{app}.{name}" for app, names in manifest.get("migrations", {}).items()
                   for name in names if name not in ours.get(app, set()))
    if newer:
        raise RestoreRefused(f"The backup was made by a newer Conversa (migrations {', '.join(newer[:5])}); "
                             "upgrade, then restore.")
    present = set(archive.namelist())
    listed = [entity["file"] for entity in manifest.get("entities", {}).values()]
    listed += [entry["path"] for entry in manifest.get("media", [])]
    missing = [name for name in listed if name not in present]
    if missing:
        raise RestoreRefused(f"The backup is incomplete: {len(missing)} files are missing "
                             f"({', '.join(missing[:5])}).")
    return manifest


def _existing_rows() -> dict[str, int]:
    found = {}
    for model in fmt.exported_models():
        label = model._meta.label
        if label == USER:
            count = model._base_manager.count()
            if count > 1:
                found[label] = count
        elif label not in PROVISIONED and model._base_manager.exists():
            found[label] = model._base_manager.count()
    return found


class _Loader:
    def __init__(self, archive: zipfile.ZipFile, manifest: dict, schema_name: str):
        self.archive, self.manifest, self.schema_name = archive, manifest, schema_name
        self.ids: dict[str, dict[int, int]] = {}
        self.files: dict[str, str] = {}  # stored name in the old company → in this one
        self.saved: list[str] = []
        self.matched_users: list[int] = []
        # (model, column, target label, [(old pk, old target)]): set by `link_deferred` at the end.
        self.deferred: list[tuple[type[models.Model], str, str, list[tuple[int, int]]]] = []
        self.result = Restored()

    # --- media ------------------------------------------------------------------------------------

    def copy_media(self) -> None:
        for entry in self.manifest.get("media", []):
            digest = hashlib.sha256()
            with self.archive.open(entry["path"]) as source:
                while chunk := source.read(1024 * 1024):
                    digest.update(chunk)
            if digest.hexdigest() != entry["sha256"]:
                raise RestoreRefused(f"{entry['path']} does not match its checksum: the backup is damaged.")
            name = f"tenants/{self.schema_name}/{entry['path'].removeprefix('media/')}"
            with self.archive.open(entry["path"]) as source:
                stored = default_storage.save(name, File(source, name=name))
            self.saved.append(stored)
            self.files[entry["stored_as"]] = stored
            self.result.files += 1

    def forget_media(self) -> None:
        for name in self.saved:
            try:
                default_storage.delete(name)
            except Exception:
                logger.exception("could not delete %s after a failed restore", name)

    # --- rows -------------------------------------------------------------------------------------

    def new_id(self, label: str, old):
        if old is None or isinstance(old, bool) or not isinstance(old, int):
            return None
        return self.ids.get(label, {}).get(old)

    def remap_ids(self, label: str, value):
        """An id, or ids at any depth (an audited change of a list of ids is [[…], […]])."""
        if isinstance(value, list):
            return [self.remap_ids(label, each) for each in value]
        if isinstance(value, int) and not isinstance(value, bool):
            return self.new_id(label, value)
        return value

    def remap_json(self, value, held):
        """`value` with the ids it holds (`held`: see JSON_ID_FIELDS) turned into the new ones."""
        if isinstance(held, str):
            return [new for old in value or [] if (new := self.new_id(held, old)) is not None]
        if isinstance(value, dict):
            mapped = {}
            for key, item in value.items():
                target = fmt.JSON_ID_KEYS.get(key) if key in held else None
                mapped[key] = self.remap_json(item, held) if target is None else self.remap_ids(target, item)
            return mapped
        if isinstance(value, list):
            return [self.remap_json(item, held) for item in value]
        return value

    def load(self, model) -> None:
        label = model._meta.label
        entity = self.manifest["entities"].get(label)
        if entity is None:
            return  # a model newer than the backup: nothing of it to restore
        fields = {each.attname: each for each in model._meta.concrete_fields}
        decoders = {name: fmt.decoder(each) for name, each in fields.items() if not each.is_relation}
        pk_name = model._meta.pk.attname
        json_fields = {name: held for name, each in fields.items()
                       if (held := fmt.JSON_ID_FIELDS.get(f"{label}.{each.name}")) is not None}
        file_fields = set(fmt.FILE_FIELDS.get(label, ()))
        self_refs: list[tuple[int, str, int]] = []
        deferred = {each.attname: (each.related_model._meta.label, []) for each in fields.values()
                    if f"{label}.{each.name}" in fmt.DEFERRED_RELATIONS}
        existing_users = (
            {email.lower(): pk for pk, email in model._base_manager.values_list("pk", "email")}
            if label == USER else {}
        )
        ids = self.ids.setdefault(label, {})
        batch: list[tuple[int, models.Model]] = []
        with self.archive.open(entity["file"]) as lines:
            for line in lines:
                row = json.loads(line)
                old_pk = row.pop(pk_name)
                values = {}
                for name, value in row.items():
                    each = fields.get(name)
                    if each is None:
                        continue  # a column dropped since the backup was made
                    if each.is_relation:
                        target = each.related_model._meta.label
                        if value is not None and target == label:
                            self_refs.append((old_pk, name, value))
                            value = None
                        elif value is not None and name in deferred:
                            deferred[name][1].append((old_pk, value))
                            value = None
                        elif value is not None:
                            value = self.new_id(target, value)
                            if value is None and not each.null:
                                raise RestoreRefused(f"{label} {old_pk} points at a missing {target} row.")
                        values[name] = value
                    else:
                        if value is not None and decoders.get(name) is not None:
                            value = decoders[name](value)
                        if name in json_fields:
                            value = self.remap_json(value, json_fields[name])
                        elif name in file_fields and value:
                            value = self.files.get(value, "")
                        values[name] = value
                if label == "audit.AuditLog":
                    values["entity_id"] = self._audit_entity(values.get("entity_type"), values["entity_id"])
                matched = existing_users.get(str(values.get("email", "")).lower()) if existing_users else None
                if matched is not None:
                    model._base_manager.filter(pk=matched).update(**values)
                    ids[old_pk] = matched
                    self.matched_users.append(matched)
                    continue
                batch.append((old_pk, values))
                if len(batch) >= BATCH:
                    self._flush(model, batch, ids)
        self._flush(model, batch, ids)
        self._link_to_self(model, self_refs, ids)
        self.deferred += [(model, name, target, pairs) for name, (target, pairs) in deferred.items() if pairs]
        self.result.rows[label] = entity["rows"]
        if label == USER and self.matched_users:
            self.result.users_matched = len(self.matched_users)
            for replaced in REPLACED_FOR_MATCHED_USERS:
                apps.get_model(replaced)._base_manager.filter(user_id__in=self.matched_users).delete()

    def _audit_entity(self, entity_type, entity_id):
        target = fmt.AUDIT_ENTITY_TYPES.get(entity_type or "")
        if target is None or not str(entity_id or "").isdigit():
            return entity_id or ""
        new = self.new_id(target, int(entity_id))
        return str(new) if new is not None else ""

    @staticmethod
    def _flush(model, batch: list[tuple[int, dict]], ids: dict) -> None:
        """Insert a batch with COPY: its new ids are taken from the table's own sequence first (so
        the sequence stays ahead of every id, as after any insert), then the rows stream in with
        them, a fraction of the statements and parsing that INSERTs would cost."""
        if not batch:
            return
        pk = model._meta.pk
        fields = [each for each in model._meta.concrete_fields if each is not pk]
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           [model._meta.db_table, pk.column, len(batch)])
            new_ids = [row[0] for row in cursor.fetchall()]
            columns = ", ".join(quote(each.column) for each in [pk, *fields])
            with cursor.cursor.copy(f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
                for new_id, (_old_pk, values) in zip(new_ids, batch, strict=True):
                    copy.write_row([new_id, *(_db_value(each, values) for each in fields)])
        for new_id, (old_pk, _values) in zip(new_ids, batch, strict=True):
            ids[old_pk] = new_id
        batch.clear()

    def link_deferred(self) -> None:
        """The foreign keys of DEFERRED_RELATIONS, once every model is loaded."""
        for model, column, target, pairs in self.deferred:
            ids, targets = self.ids[model._meta.label], self.ids.get(target, {})
            found = [(ids[old_pk], targets[old]) for old_pk, old in pairs if old in targets]
            self._set_columns(model, {column: found})

    @classmethod
    def _link_to_self(cls, model, refs: list[tuple[int, str, int]], ids: dict) -> None:
        """Foreign keys of a model to itself (a message's quote, a merged contact): set once every
        row of the model has its new id, in one statement per column."""
        by_column: dict[str, list[tuple[int, int]]] = {}
        for old_pk, column, old_target in refs:
            new_target = ids.get(old_target)
            if new_target is not None:
                by_column.setdefault(column, []).append((ids[old_pk], new_target))
        cls._set_columns(model, by_column)

    @staticmethod
    def _set_columns(model, by_column: dict[str, list[tuple[int, int]]]) -> None:
        """UPDATE column = target for (new id, new target) pairs, a batch per statement."""
        table = connection.ops.quote_name(model._meta.db_table)
        pk = connection.ops.quote_name(model._meta.pk.column)
        for column, pairs in by_column.items():
            for start in range(0, len(pairs), BATCH):
                part = pairs[start:start + BATCH]
                rows = ", ".join(["(%s::bigint, %s::bigint)"] * len(part))
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {table} AS t SET {connection.ops.quote_name(column)} = v.target "
                        f"FROM (VALUES {rows}) AS v(id, target) WHERE t.{pk} = v.id",
                        [value for pair in part for value in pair],
                    )


def restore_company(*, company: Company, path) -> Restored:
    """Load the backup at `path` into `company`, which must be empty (RestoreRefused otherwise, as
    for a backup that is newer, damaged or incomplete). One transaction: all or nothing."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise RestoreRefused(f"Cannot read {path} as a ZIP file: {exc}") from exc
    with archive, schema_context(company.schema_name):
        manifest = read_manifest(archive)
        loader = _Loader(archive, manifest, company.schema_name)
        chosen = fmt.exported_models()
        try:
            with transaction.atomic():
                lock_current_company()  # two restores into one company: the second waits, then finds data
                found = _existing_rows()
                if found:
                    listed = ", ".join(f"{label} ({count})" for label, count in sorted(found.items()))
                    raise RestoreRefused(
                        f"The company {company.slug} is not empty ({listed}): restore only into a company "
                        "that has nothing but the admin it was created with."
                    )
                loader.copy_media()
                for model in chosen:
                    loader.load(model)
                loader.link_deferred()
                audit_record(
                    action="company.restored", entity_type="company", entity_id=company.pk,
                    changes={
                        "from": manifest["company"].get("slug"),
                        "backup_created_at": manifest.get("created_at"),
                        "rows": sum(loader.result.rows.values()), "files": loader.result.files,
                    },
                )
                publish(COMPANY_RESTORED, {"company_id": company.pk})
        except BaseException:
            loader.forget_media()
            raise
    return loader.result
