"""The whole company as one ZIP (`backup_format` says what it holds): written by the export task for
an admin's `company` export, loaded by `restore_company`."""

import hashlib
import json
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from apps.exports import backup_format as fmt
from tenants.models import Company

CHUNK = 2000
COPY_BYTES = 1024 * 1024


def _rows(model) -> Iterator[dict]:
    """Every row, soft-deleted ones included (the base manager: a default manager may hide some,
    as contacts' hides deleted contacts, which conversations still point at)."""
    fields = fmt.stored_fields(model)
    names = [field.attname for field in fields]
    converted = [(name, convert) for name, field in zip(names, fields, strict=True)
                 if (convert := fmt.encoder(field)) is not None]
    for values in model._base_manager.order_by("pk").values_list(*names).iterator(CHUNK):
        row = dict(zip(names, values, strict=True))
        for name, convert in converted:
            if row[name] is not None:
                row[name] = convert(row[name])
        yield row


def _media_name(stored: str) -> str:
    """A stored file's place in the ZIP: its path below the company's prefix."""
    prefix = f"tenants/{connection.schema_name}/"
    return "media/" + (stored[len(prefix):] if stored.startswith(prefix) else stored.lstrip("/"))


def _copy_file(archive: zipfile.ZipFile, stored: str, name: str) -> dict | None:
    """Copy one stored file into the ZIP as it streams; its entry, or None if the storage lost it."""
    if not default_storage.exists(stored):
        return None
    digest, size = hashlib.sha256(), 0
    # Media is mostly compressed already (images, audio, video): stored as is, it costs no CPU.
    info = zipfile.ZipInfo(name, date_time=timezone.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    with default_storage.open(stored, "rb") as source, archive.open(info, "w", force_zip64=True) as target:
        while chunk := source.read(COPY_BYTES):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
    return {"path": name, "sha256": digest.hexdigest(), "size": size}


def applied_migrations() -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        applied.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


def backup_write(out: BinaryIO) -> dict:
    """Write the current company's backup to `out`; returns its manifest. Rows are streamed a chunk
    at a time, one model after another, so memory stays flat however big the company is.

    Every table is read in one REPEATABLE READ, read-only transaction: one snapshot, so a message
    that arrives meanwhile is in the backup with its conversation or not at all, and every row a
    row points at is there. (Inside a transaction someone else opened, e.g. a test's, it reads in
    theirs.)"""
    if connection.in_atomic_block:
        return _write(out)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _write(out)


def _write(out: BinaryIO) -> dict:
    company = Company.objects.get(schema_name=connection.schema_name)
    manifest = {
        "format": fmt.FORMAT,
        "version": fmt.VERSION,
        "company": {
            "slug": company.slug, "name": company.name, "schema_name": company.schema_name,
            "default_language": company.default_language, "time_zone": company.time_zone,
        },
        "created_at": timezone.now().isoformat(),
        "migrations": applied_migrations(),
        "entities": {},
        "excluded_models": dict(sorted(fmt.EXCLUDED_MODELS.items())),
        "excluded_fields": dict(sorted(fmt.EXCLUDED_FIELDS.items())),
        "media": [],
        "missing_media": [],
    }
    written: set[str] = set()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for model in fmt.exported_models():
            label = model._meta.label
            name = f"data/{label}.jsonl"
            count = 0
            files = fmt.FILE_FIELDS.get(label, ())
            stored_files: list[str] = []
            with archive.open(name, "w", force_zip64=True) as target:
                for row in _rows(model):
                    target.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")
                    count += 1
                    stored_files += [row[field] for field in files if row.get(field)]
            manifest["entities"][label] = {"file": name, "rows": count}
            for stored in stored_files:
                if stored in written:
                    continue
                written.add(stored)
                entry = _copy_file(archive, stored, _media_name(stored))
                if entry is None:
                    manifest["missing_media"].append(stored)
                else:
                    manifest["media"].append({**entry, "model": label, "stored_as": stored})
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
    return manifest
