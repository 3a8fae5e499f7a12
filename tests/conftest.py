"""Shared fixtures: two companies, API clients bound to a host, and live processes.

Companies created here are committed once per session (cloned from the template schema); each test
then runs in a transaction that is rolled back, except the `live` tests whose data must be visible
to a real server and worker, which commit and use unique names instead.
"""

import os
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation
from django_tenants.utils import schema_context

from tenants.models import Company
from tenants.services import company_create
from tests.fakes.provider_server import FakeProviderServer
from tests.fixtures import live
from tests.fixtures.clamd import SOCKET_ENV, ClamdServer, free_port, start_clamd
from tests.fixtures.factories import PASSWORD
from tests.fixtures.live_tenant import PHONE_NUMBER_ID, TOKEN, TWILIO_SID, TWILIO_TOKEN, Tenant

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
# Set: this run uses the database of DATABASE_URL, made by a session that runs it, and its companies.
REUSE_DATABASE_ENV = "CONVERSA_TEST_REUSE_DATABASE"


class ApiClient:
    """Django's test client speaking JSON to one host, through the full middleware stack."""

    def __init__(self, host: str, token: str | None = None, headers: dict | None = None):
        self.host = host
        self.client = Client(HTTP_HOST=host)
        self.headers = dict(headers or {})
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def with_token(self, token: str) -> "ApiClient":
        return ApiClient(self.host, token=token)

    def request(self, method: str, path: str, json=None, headers=None):
        response = getattr(self.client, method)(
            path, data=json, content_type="application/json",
            headers={**self.headers, **(headers or {})},
        )
        connection.set_schema_to_public()
        return response

    def get(self, path, **kwargs):
        return self.request("get", path, **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.request("post", path, json=json or {}, **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.request("patch", path, json=json or {}, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("delete", path, **kwargs)

    def login(self, email: str, password: str = PASSWORD) -> dict:
        response = self.post("/api/v1/auth/login", {"email": email, "password": password})
        assert response.status_code == 200, response.content
        return response.json()


def provision(slug: str, *, plan: str = "pro") -> Company:
    company, _ = company_create(
        name=slug.title(), slug=slug, plan_code=plan, admin_email=f"admin@{slug}.example.com",
        admin_password=PASSWORD,
    )
    return company


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """Always create the test database, also for sessions with only live tests.

    pytest-django creates it only when a collected test is marked `django_db`; a run of live tests
    alone would otherwise write into the development database.
    """
    from django.test.utils import setup_databases, teardown_databases

    if os.environ.get(REUSE_DATABASE_ENV):
        # A run inside another session (tests/conversa/test_pgbouncer.py): its database as it is.
        assert connection.settings_dict["NAME"].startswith("test_")
        yield
        return
    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        assert connection.settings_dict["NAME"].startswith("test_")
    yield
    with django_db_blocker.unblock():
        connection.close()
        teardown_databases(config, verbosity=0)


@pytest.fixture(scope="session")
def companies(django_db_setup, django_db_blocker):
    """Companies `alpha` and `bravo`, each with an admin (admin@<slug>.example.com).

    On the unlimited plan: every test adds users and contacts to them, and plan limits have their
    own tests on throw-away companies.
    """
    with django_db_blocker.unblock():
        if os.environ.get(REUSE_DATABASE_ENV):
            return {slug: Company.objects.get(slug=slug) for slug in ("alpha", "bravo")}
        return {slug: provision(slug, plan="enterprise") for slug in ("alpha", "bravo")}


@pytest.fixture
def alpha(companies):
    return companies["alpha"]


@pytest.fixture
def bravo(companies):
    return companies["bravo"]


@pytest.fixture
def make_company(db):
    """Provision a throw-away company inside the test's transaction (rolled back after)."""

    def make(plan: str = "pro") -> Company:
        return provision(f"co-{uuid.uuid4().hex[:12]}", plan=plan)

    return make


def host_of(company: Company) -> str:
    return company.get_primary_domain().domain


@pytest.fixture
def api():
    """`api(company_or_host, token=None)` → an ApiClient for that host."""

    def make(target, token: str | None = None, headers: dict | None = None) -> ApiClient:
        host = target if isinstance(target, str) else host_of(target)
        return ApiClient(host, token=token, headers=headers)

    return make


@pytest.fixture(autouse=True)
def back_to_public():
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def back_to_default_language():
    """A page served in Spanish leaves Spanish active in the test's thread (the locale middleware
    activates, nothing deactivates): the next test must not inherit it."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Every test starts with full rate-limit budgets: otherwise a test's wrong passwords (the API
    fuzzer's, on a password change) would lock the shared companies' admins out of later tests."""
    yield
    from conversa.redis import get_redis, redis_key

    redis = get_redis()
    keys = list(redis.scan_iter(match=redis_key("rl", "*"), count=1000))
    if keys:
        redis.delete(*keys)


@pytest.fixture
def fresh_host_list():
    """The process's list of custom hosts, forgotten before and after: a test's rows are rolled
    back without a commit, so no version bump would tell the list."""
    from tenants.hosts import forget_custom_hosts

    forget_custom_hosts()
    yield
    forget_custom_hosts()


@pytest.fixture
def in_schema():
    return schema_context


def pytest_collection_modifyitems(config, items):
    """The crash, concurrency and second-server proofs (`proof`, about 3 minutes together) run with
    CONVERSA_PROOFS=1 (`make test-all`), keeping `make test` within CI's 20 minutes."""
    if os.environ.get("CONVERSA_PROOFS") == "1":
        return
    skip = pytest.mark.skip(
        reason="a crash, concurrency or second-server proof: `make test-all` (CONVERSA_PROOFS=1) runs it"
    )
    for item in items:
        if "proof" in item.keywords:
            item.add_marker(skip)


# --- live processes -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def asgi_server(django_db_setup, companies, tmp_path_factory):
    server = live.start_server(tmp_path_factory.mktemp("logs") / "uvicorn.log")
    yield server
    live.stop(server.process)


@pytest.fixture(scope="module")
def fake():
    """Fake Meta and Twilio APIs on 127.0.0.1 that know the live tenant's numbers and tokens."""
    with FakeProviderServer() as server:
        server.register_meta(PHONE_NUMBER_ID, TOKEN)
        server.register_twilio(TWILIO_SID, TWILIO_TOKEN)
        yield server


@pytest.fixture
def tenant(asgi_server, make_live_company):
    """A committed company on the live server, its admin signed in."""
    tenant = Tenant(asgi_server, make_live_company())
    yield tenant
    tenant.http.close()


@pytest.fixture
def live_db(django_db_setup, django_db_blocker):
    """Database access without a wrapping transaction: what a test writes is committed."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def superadmin(db):
    from apps.accounts.models import User

    with schema_context("public"):
        return User.objects.create_superuser(f"operator-{uuid.uuid4().hex[:8]}@example.com", PASSWORD)


@pytest.fixture
def platform_api(api, superadmin):
    """An ApiClient on BASE_DOMAIN signed in as a super-admin."""
    client = api("localhost")
    response = client.post(
        "/platform/api/v1/auth/login", {"email": superadmin.email, "password": PASSWORD},
    )
    assert response.status_code == 200, response.content
    return client.with_token(response.json()["access"])


@pytest.fixture
def make_live_company(live_db):
    """Provision a committed company (for live processes), unique per call."""

    def make(plan: str = "pro") -> Company:
        return provision(f"live-{uuid.uuid4().hex[:10]}", plan=plan)

    return make


@pytest.fixture
def queue_to_redis():
    """Send this process's tasks to the Redis queue (the live workers'), not inline as usual."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.immediate = True


@pytest.fixture
def worker(tmp_path, queue_to_redis):
    """A real Huey consumer (4 threads) for this test."""
    process = live.start_worker(tmp_path / "worker.log", workers=4)
    yield process
    live.stop(process)


# --- clamd ----------------------------------------------------------------------------------------
# Here rather than in tests/media: one clamd for the whole session, whichever package asks first
# (a fixture imported into another module would be a second definition, so a second clamd, and
# live processes could scan with the one a test did not stop).

@pytest.fixture(scope="session")
def clamd_server(tmp_path_factory) -> ClamdServer:
    """clamd on a Unix socket (and a TCP port on 127.0.0.1), stopped with SIGTERM after the session.

    Its socket is exported as CONVERSA_TEST_CLAMD_SOCKET for processes started later (live server and
    worker), whose settings_test read it.
    """
    server = start_clamd(tmp_path_factory.mktemp("clamd"), tcp_port=free_port())
    previous = os.environ.get(SOCKET_ENV)
    os.environ[SOCKET_ENV] = str(server.socket_path)
    yield server
    server.stop()
    if previous is None:
        os.environ.pop(SOCKET_ENV, None)
    else:
        os.environ[SOCKET_ENV] = previous


@pytest.fixture
def clamd_settings(clamd_server, settings) -> ClamdServer:
    """Point this process's settings at the session clamd (started again if a test left it stopped)."""
    clamd_server.start()
    settings.CLAMD_SOCKET = str(clamd_server.socket_path)
    return clamd_server
