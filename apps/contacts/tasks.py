"""Background work of the contacts app: running imports."""

from apps.contacts.imports import contact_import_run
from conversa.tasks import tenant_task


@tenant_task()
def contact_import_process(schema_name: str, import_id: int) -> str:
    # No Huey retries: a run that raised has marked its import failed; one whose worker died is
    # resumed by queueing it again (it continues after the last committed batch).
    record = contact_import_run(import_id=import_id)
    return record.status if record is not None else "skipped"
