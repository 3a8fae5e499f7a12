"""`/api/v1/contacts/imports`: import contacts from a CSV or XLSX file in the background.

The upload routes read the multipart body themselves (not through ninja's File parameters), so that
an oversized file is refused before it is read (see apps.contacts.import_uploads).
"""

import datetime as dt
import json

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status

from apps.contacts import imports
from apps.contacts.import_uploads import received_file
from conversa.errors import ValidationFailed
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["contacts"])

_MULTIPART_FIELDS = {
    "file": {"type": "string", "format": "binary", "description": "CSV or XLSX (sniffed from the content)."},
}
_START_FIELDS = {
    **_MULTIPART_FIELDS,
    "mapping": {"type": "string", "description": (
        'JSON: {"column header": "phone" | "name" | "email" | "tags" | "lead_status" | "language" | '
        '"company_name" | "city" | "country" | "notes" | "custom.<key>" | ""}. Without it, headers are '
        "mapped by name.")},
    "list_id": {"type": "integer", "description": "Imported and updated contacts join this list."},
    "default_country": {"type": "string",
                        "description": "ISO code for numbers without a country code, e.g. BR."},
    "update_existing": {"type": "boolean",
                        "description": "Update contacts whose phone exists (else skip them)."},
    "tags": {"type": "string", "description": "Tags added to every imported contact (comma-separated)."},
}


def _multipart(properties: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": properties,
    }}}}}


class ImportStarted(Schema):
    id: int
    status: str


class ImportError_(Schema):
    row: int
    error: str


class ImportOut(Schema):
    id: int
    status: str
    filename: str
    format: str
    list_id: int | None
    total: int
    processed: int
    imported: int
    updated: int
    skipped: int
    errors: list[ImportError_]
    failure: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @staticmethod
    def resolve_list_id(record):
        return record.contact_list_id


class ImportPage(Schema):
    items: list[ImportOut]
    next_cursor: str | None


class PreviewOut(Schema):
    format: str
    columns: list[str]
    rows: list[list[str]]
    total: int
    suggested_mapping: dict[str, str]


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": str(message)}])


def _options(post) -> dict:
    mapping = None
    if post.get("mapping", "").strip():
        try:
            mapping = json.loads(post["mapping"])
        except ValueError as exc:
            raise _invalid("mapping", _("Must be a JSON object of column name → field.")) from exc
    list_id = post.get("list_id", "").strip()
    if list_id and not (list_id.isdigit() and len(list_id) <= 18):
        raise _invalid("list_id", _("Must be an id."))
    flag = post.get("update_existing", "").strip().lower()
    if flag not in ("", "true", "false", "1", "0", "on", "off", "yes", "no"):
        raise _invalid("update_existing", _("Must be true or false."))
    country = post.get("default_country", "")
    tags = post.getlist("tags")
    if "\x00" in country or any("\x00" in tag for tag in tags):
        raise _invalid("tags" if "\x00" not in country else "default_country",
                       _("Must not contain the NUL character."))
    return {
        "mapping": mapping,
        "list_id": int(list_id) if list_id else None,
        "default_country": country,
        "update_existing": flag in ("true", "1", "on", "yes"),
        "tags": tags,
    }


@router.post("", response={202: ImportStarted}, openapi_extra=_multipart(_START_FIELDS))
def start_import(request):
    imports.check_contact_import(actor=request.auth)  # refused before a byte of the body is read
    uploaded = received_file(request)
    record = imports.contact_import_start(
        actor=request.auth, fileobj=uploaded, size=uploaded.size, filename=uploaded.name,
        request=request, **_options(request.POST),
    )
    return Status(202, {"id": record.pk, "status": record.status})


@router.post("/preview", response=PreviewOut, openapi_extra=_multipart(_MULTIPART_FIELDS))
def preview_import(request):
    imports.check_contact_import(actor=request.auth)
    uploaded = received_file(request)
    return imports.contact_import_preview(actor=request.auth, fileobj=uploaded, size=uploaded.size)


@router.get("", response=ImportPage)
def list_imports(request, page: Query[PageParams]):
    return page_of(imports.contact_imports_visible_to(request.auth), page, ordering=("-id",))


@router.get("/{int:import_id}", response=ImportOut)
def get_import(request, import_id: int):
    return imports.contact_import_get_for(request.auth, import_id)


@router.get("/{int:import_id}/errors.csv")
def import_errors_csv(request, import_id: int):
    record = imports.contact_import_get_for(request.auth, import_id)
    response = StreamingHttpResponse(imports.errors_csv_lines(record), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{record.pk}-errors.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
