"""The deploy command as operators run it: `manage.py migrate_schemas --noinput`, with the pool on.

It visits only the company schemas behind the code (a no-op run touches none), finishes with the
multiprocessing executor (it used to hang for good with DB_POOL on), and keeps the template current.
Subprocesses under a timeout, so a hang is a failure.
"""

import subprocess
import sys

from django.db import connection

from tenants.models import Company
from tenants.schema_versions import tenant_migrations_stamp
from tests.conversa.test_fork_safe_pool import pooled_env
from tests.fixtures.live import ROOT
from tests.fixtures.migrations import visited_schemas


def migrate(*options: str) -> tuple[str, set[str]]:
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--noinput", *options],
        cwd=ROOT, env=pooled_env(), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, visited_schemas(done.stdout)


def test_only_schemas_behind_the_code_are_migrated_and_stamped(make_live_company):
    first, second = make_live_company(), make_live_company()
    # Cloned from a template as current as the code: stamped at creation, no later run visits them.
    assert first.migrations_stamp == second.migrations_stamp == tenant_migrations_stamp()
    # The suite's other companies (all made from the current template) count as up to date; these
    # two are made to look as if an older release had created them.
    Company.objects.exclude(pk__in=[first.pk, second.pk]).update(migrations_stamp=tenant_migrations_stamp())
    Company.objects.filter(pk__in=[first.pk, second.pk]).update(migrations_stamp="")

    _, visited = migrate("--executor=multiprocessing")
    assert {first.schema_name, second.schema_name} <= visited
    stamp = tenant_migrations_stamp()
    connection.set_schema_to_public()
    assert set(Company.objects.filter(pk__in=[first.pk, second.pk]).values_list("migrations_stamp",
                                                                                flat=True)) == {stamp}

    output, visited = migrate()
    assert "0 company schema(s) behind" in output and visited == set()

    Company.objects.filter(pk=second.pk).update(migrations_stamp="an older release")
    output, visited = migrate()
    assert "1 company schema(s) behind" in output and visited == {second.schema_name}



def test_a_schema_missing_one_of_the_codes_migrations_gets_no_stamp(alpha, db):
    from django_tenants.utils import schema_context

    from tenants.schema_versions import stamp_if_current

    with schema_context(alpha.schema_name):
        assert stamp_if_current() == tenant_migrations_stamp()
        with connection.cursor() as cursor:  # rolled back with the test
            cursor.execute("DELETE FROM django_migrations WHERE app = 'conversations' AND name LIKE '0008%%'")
        assert stamp_if_current() == ""
