"""Connection pools do not cross a fork.

A forked child inherits the parent's psycopg pool: its sockets, and locks that the pool's worker
threads (which do not exist in the child) may hold. Using it interleaves two processes' protocol
on one server connection ("the last operation didn't produce records") or waits for good on a
lock nobody will release; this is how `migrate_schemas --executor=multiprocessing` failed or hung
with DB_POOL on. After a fork the child forgets the inherited pools and connections, so it opens
its own, and keeps the inherited objects referenced: freeing them would run libpq's PQfinish, which
sends Terminate on the socket and ends the parent's server connection.
"""

import os

_inherited: list = []


def _forget_inherited_connections() -> None:
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    _inherited.append(dict(DatabaseWrapper._connection_pools))
    DatabaseWrapper._connection_pools.clear()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _inherited.append(connection.connection)
            connection.connection = None


def install() -> None:
    """Once per process (the AppConfig's `ready`)."""
    if not getattr(install, "done", False):
        os.register_at_fork(after_in_child=_forget_inherited_connections)
        install.done = True
