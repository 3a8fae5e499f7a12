"""The tenant and platform APIs fuzzed from their OpenAPI documents (issue 11.6): no 5xx, and every
4xx has the §13 body.

Schemathesis generates valid and invalid requests for every operation (bounded, so the suite stays
fast); they go through Django's test client and the full middleware stack, on a company's host
signed in as its admin (tenant API) or on BASE_DOMAIN as a super-admin (platform API), inside the
test's transaction.
"""

import os

import hypothesis
import pytest
import requests
import schemathesis
from django.db import DatabaseError, connection, transaction
from django.test import Client

from ninja_api.platform_api import api as platform_api
from ninja_api.tenant_api import api as tenant_api
from tests.conftest import host_of
from tests.fixtures.factories import PASSWORD

pytestmark = pytest.mark.django_db

# Small so the suite stays fast; raise it (and add the coverage phase) to hunt deeper locally.
EXAMPLES_PER_OPERATION = int(os.environ.get("CONVERSA_FUZZ_EXAMPLES", "5"))
PHASES = os.environ.get("CONVERSA_FUZZ_PHASES", "examples,fuzzing").split(",")
LOG = os.environ.get("CONVERSA_FUZZ_LOG")  # a file to append every request and its status to



def load(api, prefix: str):
    schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix=prefix))
    schema.config.phases.update(phases=PHASES)
    schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION)
    return schema


tenant_schema = load(tenant_api, "/api/v1")
platform_schema = load(platform_api, "/platform/api/v1")

SETTINGS = hypothesis.settings(
    deadline=None, derandomize=True, database=None, suppress_health_check=list(hypothesis.HealthCheck),
)


def signed_in(host: str, path: str, email: str) -> Client:
    client = Client(HTTP_HOST=host)
    response = client.post(path, {"email": email, "password": PASSWORD},
                           content_type="application/json")
    assert response.status_code == 200, response.content
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {response.json()['access']}"
    connection.set_schema_to_public()
    return client


@pytest.fixture
def admin_client(alpha) -> Client:
    return signed_in(host_of(alpha), "/api/v1/auth/login", f"admin@{alpha.slug}.example.com")


@pytest.fixture
def superadmin_client(superadmin) -> Client:
    return signed_in("localhost", "/platform/api/v1/auth/login", superadmin.email)


@pytest.fixture
def existing(alpha) -> dict[str, int]:
    """One row of each kind a path names, so generated requests also reach past the 404."""
    from django_tenants.utils import schema_context

    from apps.conversations.services import quick_reply_create
    from tests.fixtures.contacts import make_contact
    from tests.fixtures.factories import make_api_key, make_user
    from tests.fixtures.messaging import make_inbox, make_template, receive

    inbox = make_inbox(alpha)
    message = receive(alpha, inbox)
    with schema_context(alpha.schema_name):
        reply = quick_reply_create(actor=None, shortcut="hello", content="Hello!")
    return {
        "inbox_id": inbox.pk, "conversation_id": message.conversation_id,
        "contact_id": make_contact(alpha).pk, "template_id": make_template(alpha, inbox).pk,
        "key_id": make_api_key(alpha)[0].pk, "user_id": make_user(alpha).pk, "reply_id": reply.pk,
    }


def aim_at_existing_rows(case, existing: dict[str, int]) -> None:
    """Point every other generated id at a row that exists (hypothesis's ids rarely do)."""
    for name, value in (case.path_parameters or {}).items():
        if name in existing and hash(value) % 2 == 0:
            case.path_parameters[name] = existing[name]


def send(client: Client, case) -> object:
    """The request schemathesis would send, byte for byte, sent through Django's test client."""
    prepared = requests.Request(**case.as_transport_kwargs(base_url="http://testserver")).prepare()
    path = prepared.path_url
    headers = {name: value for name, value in prepared.headers.items()
               if name.lower() not in ("authorization", "host", "content-length", "content-type")}
    # A savepoint per request, as each has its own transaction in production: a statement the
    # database refuses must not poison the test's transaction for the requests after it.
    savepoint = transaction.savepoint()
    response = client.generic(
        prepared.method, path, data=prepared.body or b"",
        content_type=prepared.headers.get("Content-Type", "application/octet-stream"),
        headers=headers,
    )
    try:
        transaction.savepoint_commit(savepoint)
    except DatabaseError:  # the request's statement was refused: as if its transaction ended
        transaction.savepoint_rollback(savepoint)
    connection.set_schema_to_public()
    return response


def assert_contract(case, response) -> None:
    where = f"{case.method} {case.formatted_path}\n{case.as_curl_command()}"
    assert response.status_code < 500, f"{where}\n→ {response.status_code} {response.content[:500]!r}"
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), where
        error = response.json().get("error")
        assert isinstance(error, dict), f"{where}\n→ {response.content[:500]!r}"
        assert isinstance(error.get("code"), str) and error["code"], where
        assert isinstance(error.get("message"), str) and error["message"], where
        assert isinstance(error.get("details", []), list), where


def check(client: Client, case) -> None:
    response = send(client, case)
    if LOG:
        with open(LOG, "a") as log:
            log.write(f"{case.method} {case.path} {response.status_code} {response.content[:160]!r}\n")
    assert_contract(case, response)


@tenant_schema.parametrize()
@SETTINGS
def test_no_tenant_api_operation_answers_5xx_or_an_error_without_the_body(
    case, admin_client, existing,
):
    aim_at_existing_rows(case, existing)
    check(admin_client, case)


@platform_schema.parametrize()
@SETTINGS
def test_no_platform_api_operation_answers_5xx_or_an_error_without_the_body(
    case, superadmin_client, alpha,
):
    aim_at_existing_rows(case, {"company_id": alpha.pk, "code": "pro"})
    check(superadmin_client, case)
