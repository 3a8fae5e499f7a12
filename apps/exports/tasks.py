"""Background work of the exports app: generating files, and deleting them once they expire."""

from apps.exports.services import export_expire_file, export_run
from conversa.tasks import tenant_task


@tenant_task()
def export_generate(schema_name: str, export_id: int) -> str:
    export = export_run(export_id=export_id)
    return export.status if export is not None else "skipped"


@tenant_task()
def export_expire(schema_name: str, export_id: int) -> str:
    export = export_expire_file(export_id=export_id)
    return "expired" if export is not None else "skipped"
