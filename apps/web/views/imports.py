"""Contacts → Import: upload a CSV/XLSX, map its columns with a preview of the first rows, choose the
options, then follow the import live (the progress bar listens to `import.progress` frames)."""

from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.contacts import imports
from apps.contacts.import_uploads import install_upload_handler, received_file
from apps.contacts.models import ContactImport, ContactList
from apps.web.auth import action_required
from conversa.errors import DomainError

ERRORS_SHOWN = 100


def _error_text(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, list) else []
    messages = [str(detail.get("message", "")) for detail in details if isinstance(detail, dict)]
    return " ".join([exc.message, *messages]) if messages and messages[0] != exc.message else exc.message


def _mapping(post) -> dict[str, str]:
    """`column_<n>` (the header) and `map_<n>` (its field) pairs of the mapping screen."""
    mapping = {}
    for key, column in post.items():
        if key.startswith("column_") and key.removeprefix("column_").isdigit():
            mapping[column] = post.get(f"map_{key.removeprefix('column_')}", "")
    return mapping


def _with_upload(view):
    """The CSRF check reads the body: the upload's own handler must be in place before it runs."""

    protected = csrf_protect(view)

    @csrf_exempt
    def wrapper(request, *args, **kwargs):
        if request.method == "POST":
            try:
                install_upload_handler(request)
            except DomainError as exc:
                request.import_upload_error = exc
        return protected(request, *args, **kwargs)

    return wrapper


@_with_upload
@action_required("contacts.import")
@require_http_methods(["GET", "POST"])
def import_view(request):
    context = {"section": "contacts", "lists": ContactList.objects.order_by("name")[:500]}
    if request.method == "POST":
        try:
            if getattr(request, "import_upload_error", None):
                raise request.import_upload_error
            uploaded = received_file(request)
            record = imports.contact_import_start(
                actor=request.user, fileobj=uploaded, size=uploaded.size, filename=uploaded.name,
                mapping=_mapping(request.POST) or None,
                list_id=int(request.POST["list_id"]) if request.POST.get("list_id", "").isdigit() else None,
                default_country=request.POST.get("default_country", ""),
                update_existing=request.POST.get("existing") == "update",
                tags=[request.POST.get("tags", "")], request=request,
            )
        except DomainError as exc:
            context["error"] = _error_text(exc)
            return render(request, "web/contact_import.html", context, status=exc.status)
        return redirect("web:contact-import", import_id=record.pk)
    return render(request, "web/contact_import.html", context)


@_with_upload
@action_required("contacts.import")
@require_POST
def preview_view(request):
    """The mapping screen for the chosen file (an htmx fragment)."""
    try:
        if getattr(request, "import_upload_error", None):
            raise request.import_upload_error
        uploaded = received_file(request)
        preview = imports.contact_import_preview(actor=request.user, fileobj=uploaded, size=uploaded.size)
    except DomainError as exc:
        return render(request, "web/partials/import_mapping.html", {"error": _error_text(exc)})
    columns = [
        {"index": index, "name": name, "field": preview["suggested_mapping"].get(name, ""),
         "samples": [row[index] for row in preview["rows"] if index < len(row)]}
        for index, name in enumerate(preview["columns"])
    ]
    return render(request, "web/partials/import_mapping.html", {
        "preview": preview, "columns": columns, "choices": imports.field_choices(),
    })


def _status_context(record: ContactImport) -> dict:
    percent = 100 if record.status == ContactImport.Status.COMPLETED else (
        int(100 * record.processed / record.total) if record.total else 0)
    return {"record": record, "percent": min(percent, 100), "errors": record.errors[:ERRORS_SHOWN],
            "more_errors": max(len(record.errors) - ERRORS_SHOWN, 0), "section": "contacts"}


@action_required("contacts.import")
@require_GET
def progress_view(request, import_id: int):
    record = imports.contact_import_get_for(request.user, import_id)
    context = _status_context(record)
    if request.htmx:
        return render(request, "web/partials/import_status.html", context)
    return render(request, "web/contact_import_progress.html", context)


@action_required("contacts.import")
@require_GET
def errors_csv_view(request, import_id: int):
    record = imports.contact_import_get_for(request.user, import_id)
    response = StreamingHttpResponse(imports.errors_csv_lines(record), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{record.pk}-errors.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
