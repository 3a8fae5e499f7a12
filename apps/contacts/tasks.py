"""Background work of the contacts app: running imports, and resuming those whose worker died."""

from apps.contacts.imports import contact_import_run, contact_imports_resume_stalled
from conversa.periodic import every_minute
from conversa.tasks import tenant_task


@tenant_task()
def contact_import_process(schema_name: str, import_id: int) -> str:
    # No Huey retries: a run that raised has marked its import failed; one whose worker died is
    # resumed by `contact_imports_resume` (it continues after the last committed batch).
    record = contact_import_run(import_id=import_id)
    return record.status if record is not None else "skipped"


@every_minute
@tenant_task()
def contact_imports_resume(schema_name: str) -> int:
    return contact_imports_resume_stalled()
