"""A second PostgreSQL server, started only for the tests that ask for it."""

import pytest

from tenants import databases
from tenants.models import Company
from tests.fixtures.clusters import migrate, start_cluster, stop_cluster


@pytest.fixture(scope="session")
def second_cluster(django_db_setup, django_db_blocker):
    """A second PostgreSQL server (alias `cluster2`), migrated as a release migrates it: its public
    schema and template, and configured in this process beside the test database."""
    cluster = start_cluster()
    try:
        migrate(cluster)
        with django_db_blocker.unblock():
            databases.add_database(cluster.alias, cluster.url)
        yield cluster
    finally:
        with django_db_blocker.unblock():
            # The session's other tests visit every company (migrations, counts): none may name a
            # database that is gone.
            Company.objects.filter(database=cluster.alias).delete()
            if cluster.alias in databases.aliases():
                databases.remove_database(cluster.alias)
        stop_cluster(cluster)
