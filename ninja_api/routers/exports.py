"""`/api/v1/exports`: contacts, conversations or the audit log as CSV/XLSX, or the whole company as a
backup ZIP, built in the background and downloaded by a signed, short-lived link."""

import datetime as dt
from typing import Any, Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from apps.exports import selectors, services
from apps.exports.views import file_response
from ninja_api.pagination import PageParams, page_of

router = Router(tags=["exports"])


class ExportIn(Schema):
    entity: Literal["contacts", "conversations", "audit_logs", "company"]
    format: Literal["csv", "xlsx", "zip"] | None = Field(
        None, description="csv (the default) or xlsx for tables; zip (the default) for `company`, a "
        "backup of the whole company (admins only) that `restore_company` loads.",
    )
    filters: dict[str, Any] | None = Field(
        None, description="contacts: q, tag, lead_status, custom_field (key=value), list, segment; "
        "conversations: status, team, inbox, from, to; audit_logs: action, entity_type, from, to.",
    )


class ExportStarted(Schema):
    id: int
    status: str


class ExportOut(Schema):
    id: int
    entity: str
    format: str
    status: str
    filters: dict[str, Any]
    rows: int
    size: int
    filename: str
    error: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    download_url: str | None = None

    @staticmethod
    def resolve_download_url(export, context):
        path = selectors.download_path(export)
        return context["request"].build_absolute_uri(path) if path else None


class ExportPage(Schema):
    items: list[ExportOut]
    next_cursor: str | None


@router.post("", response={202: ExportStarted})
def create_export(request, payload: ExportIn):
    # 5 a minute per user or key: conversa.middleware.ratelimits (SPEC §13).
    export = services.export_create(actor=request.auth, entity=payload.entity, format=payload.format,
                                    filters=payload.filters, request=request)
    return Status(202, {"id": export.pk, "status": export.status})


@router.get("", response=ExportPage)
def list_exports(request, page: Query[PageParams]):
    return page_of(selectors.exports_of(request.auth), page, ordering=("-id",))


@router.get("/{int:export_id}", response=ExportOut)
def get_export(request, export_id: int):
    return selectors.export_get_for(request.auth, export_id)


@router.get("/{int:export_id}/download")
def download_export(request, export_id: int):
    export = selectors.export_get_for(request.auth, export_id)
    response = file_response(export)
    services.export_record_download(export=export, actor=request.auth, request=request)
    return response
