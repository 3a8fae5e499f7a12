"""A rolling deploy, expand step: the web process of the running release keeps serving while the next
release's additive migration is applied with the command a release runs (`migrate_schemas`).

The migration goes to the companies of the test's own second PostgreSQL server (tests/fixtures/
clusters.py), so it changes nothing the rest of the session uses. The same process serves a company
of the main server meanwhile: one web process, two servers, the API working on both.
"""

import asyncio
import json
import threading
import time
import uuid

import httpx
import pytest
import websockets

from tenants.models import Company
from tenants.services import company_create
from tests.fixtures import live
from tests.fixtures.clusters import migrate, query
from tests.fixtures.factories import PASSWORD

# The first test to ask for the second server starts and migrates it (20-50 s on a busy machine).
pytestmark = [pytest.mark.timeout(300), pytest.mark.proof]


def sign_in(server, host: str, email: str) -> httpx.Client:
    client = server.client(host)
    response = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access']}"
    return client


def test_the_running_release_keeps_serving_while_an_additive_migration_is_applied(
    second_cluster, alpha, live_db, tmp_path,
):
    slug = f"rolling-{uuid.uuid4().hex[:10]}"
    far, _ = company_create(
        name="Rolling", slug=slug, plan_code="pro", admin_email=f"admin@{slug}.example.com",
        admin_password=PASSWORD, database=second_cluster.alias,
    )
    # A second company of the same release there: the run replays the first one's statements in it.
    twin_slug = f"rolling-{uuid.uuid4().hex[:10]}"
    twin, _ = company_create(
        name="Rolling twin", slug=twin_slug, plan_code="pro", admin_email=f"admin@{twin_slug}.example.com",
        admin_password=PASSWORD, database=second_cluster.alias,
    )
    Company.objects.filter(pk__in=[far.pk, twin.pk]).update(migrations_stamp="the running release")
    server = live.start_server(tmp_path / "uvicorn.log", DATABASE_SHARDS=second_cluster.shards_env())
    try:
        far_http = sign_in(server, far.get_primary_domain().domain, f"admin@{slug}.example.com")
        near_http = sign_in(server, alpha.get_primary_domain().domain, "admin@alpha.example.com")
        failures, served = [], []  # (started, what) of every request, failed or not
        stop = threading.Event()

        def traffic():
            number = 0
            while not stop.is_set():
                number += 1
                contact = {"name": f"Caller {number}", "phone": f"+55119{number:08d}"}
                for what, client, path, body in (
                    ("far write", far_http, "/api/v1/contacts", contact),
                    ("far read", far_http, "/api/v1/contacts?page_size=5", None),
                    ("near read", near_http, "/api/v1/contacts?page_size=5", None),
                ):
                    started = time.monotonic()
                    try:
                        response = client.post(path, json=body) if body else client.get(path)
                        status = response.status_code
                    except httpx.HTTPError as exc:
                        status = repr(exc)
                    served.append((started, what))
                    if status not in (200, 201):
                        failures.append((what, status))

        thread = threading.Thread(target=traffic, daemon=True)
        thread.start()
        while len(served) < 6:
            time.sleep(0.05)
        began = time.monotonic()
        # As the README tells operators to run it with many companies: forked processes, each on the
        # server the run is on.
        output = migrate(second_cluster, "--executor=multiprocessing",
                         settings="tests.tenants.rolling_settings")
        ended = time.monotonic()
        time.sleep(0.5)
        stop.set()
        thread.join(15)

        assert f"multiprocessing:{far.schema_name}]" in output
        assert f"[replay:{twin.schema_name}] done" in output
        assert failures == []
        during = [what for started, what in served if began <= started <= ended]
        assert {"far write", "far read", "near read"} <= set(during), during
        # The release's schema is in place for the company and the template new companies copy.
        for schema in (far.schema_name, twin.schema_name, "tenant_template"):
            assert query(second_cluster, "SELECT 1 FROM information_schema.columns WHERE table_schema = %s"
                         " AND table_name = 'contacts_contact' AND column_name = 'release_note'", [schema])
            assert query(second_cluster, "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
                         " AND table_name = 'rolling_release_releasenote'", [schema])
        # Both stamped with the release's migrations.
        stamps = set(Company.objects.filter(pk__in=[far.pk, twin.pk]).values_list("migrations_stamp",
                                                                                  flat=True))
        assert len(stamps) == 1 and stamps != {"the running release"}
        # The running release still writes and reads after the migration, on both servers.
        after = far_http.post("/api/v1/contacts", json={"name": "After", "phone": "+5511988887777"})
        assert after.status_code == 201, after.text
        assert near_http.get("/api/v1/contacts?page_size=5").status_code == 200
        # Its websocket too: the consumer finds the far company's user on the far server.
        far_host, token = far.get_primary_domain().domain, far_http.headers["Authorization"][7:]

        async def ready_frame():
            async with websockets.connect(server.ws_url(far_host, f"/ws/v1/?token={token}"),
                                          host="127.0.0.1", port=server.port, open_timeout=5) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 5))["type"]

        assert asyncio.run(ready_frame()) == "ready"
        far_http.close()
        near_http.close()
    finally:
        live.stop(server.process)
        # Processes the session starts later know only the main server.
        Company.objects.filter(pk__in=[far.pk, twin.pk]).delete()
