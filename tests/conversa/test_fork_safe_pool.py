"""A forked process never uses its parent's pooled connections, so `migrate_schemas
--executor=multiprocessing` (the README's deploy command for many companies) finishes with DB_POOL on.

Both run in subprocesses with the pool on (the test settings turn it off) and under a timeout, so a
hang becomes a failure instead of a stuck suite.
"""

import subprocess
import sys
import textwrap

from tests.fixtures.live import ROOT, child_env

FORK_AFTER_USE = textwrap.dedent("""
    import os, django
    django.setup()
    from django.db import connection

    def backend_pid():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    assert connection.pool is not None, "the pool is off"
    parent = backend_pid()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.write(write, str(backend_pid()).encode())
        os._exit(0)
    os.waitpid(child, 0)
    print(parent, os.read(read, 32).decode(), backend_pid())
""")


def _pooled_env() -> dict:
    return child_env(DB_POOL="true", DJANGO_SETTINGS_MODULE="conversa.settings", DEBUG="false",
                     SECURE_SSL_REDIRECT="false", SENTRY_DSN="")


def test_a_forked_child_opens_its_own_server_connection_and_the_parent_keeps_its_own(live_db):
    done = subprocess.run([sys.executable, "-c", FORK_AFTER_USE], cwd=ROOT, env=_pooled_env(),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    parent_before, child, parent_after = done.stdout.split()
    assert child != parent_before  # a socket of its own, not the parent's
    assert parent_after == parent_before  # and the parent's connection survived the child


def test_the_documented_multiprocessing_migrate_finishes_with_the_pool_on(make_live_company):
    for _ in range(3):  # companies for the forked workers to take (the parent does public)
        make_live_company()
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate_schemas", "--noinput", "-v", "0",
         "--executor=multiprocessing"],
        cwd=ROOT, env=_pooled_env(), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
