"""The template schema new companies are cloned from, and the clone itself."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django_tenants.clone import CLONE_SCHEMA_FUNCTION
from django_tenants.utils import schema_exists

from tenants.models import validate_schema_name


def template_schema_name() -> str:
    return settings.TENANT_BASE_SCHEMA


def migrate_template(*, verbosity: int = 1) -> None:
    """Create the template schema if missing and bring it to the latest tenant migrations."""
    name = template_schema_name()
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command(
        "migrate_schemas", tenant=True, schema_name=name, interactive=False, verbosity=verbosity,
    )


def _clone_function_installed(cursor) -> bool:
    cursor.execute(
        "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.proname = 'clone_schema' LIMIT 1"
    )
    return cursor.fetchone() is not None


def install_clone_function() -> None:
    """(Re)install django-tenants' clone_schema() in `public`; run by every migrate_schemas."""
    db_user = settings.DATABASES["default"].get("USER") or "postgres"
    with connection.cursor() as cursor:
        cursor.execute(CLONE_SCHEMA_FUNCTION.format(db_user=db_user))


def clone_template(schema_name: str) -> None:
    """Create `schema_name` as a copy of the template: tables, indexes and the migration records.

    django-tenants re-creates its 4,000-line clone function and then fake-migrates on every clone;
    both are skipped here, which is most of the cost of a new company.
    """
    validate_schema_name(schema_name)
    template = template_schema_name()
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        if not _clone_function_installed(cursor):
            install_clone_function()
        if not schema_exists(template):
            raise ImproperlyConfigured(
                f"Template schema {template!r} is missing: run `manage.py migrate_schemas`."
            )
        cursor.execute("SELECT public.clone_schema(%s, %s, 'DATA')", [template, schema_name])
