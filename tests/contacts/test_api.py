"""The contacts API through the real middleware stack, on the company's host."""

import pytest

from apps.contacts.models import Contact
from tests.fixtures.contacts import limit_contacts, make_contact, make_custom_field, unique_phone
from tests.fixtures.factories import make_api_key, make_user

pytestmark = pytest.mark.django_db


def signed_in(api, company, role: str = "agent"):
    user = make_user(company, role=role)
    return api(company, token=api(company).login(user.email)["access"])


@pytest.fixture
def agent(api, alpha):
    return signed_in(api, alpha)


def count_contacts(company, in_schema) -> int:
    with in_schema(company.schema_name):
        return Contact.all_objects.count()


# --- CRUD -------------------------------------------------------------------------------------------

def test_an_agent_creates_reads_updates_and_deletes_a_contact(agent):
    created = agent.post("/api/v1/contacts", {
        "phone": "+55 (11) 98765-4321", "name": "Ana", "email": "ana@example.com",
        "tags": ["VIP"], "lead_status": "contacted", "country": "br",
    })
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["phone"] == "+5511987654321" and body["tags"] == ["vip"] and body["country"] == "BR"
    url = f"/api/v1/contacts/{body['id']}"

    assert agent.get(url).json()["name"] == "Ana"
    patched = agent.patch(url, {"name": "Ana Maria", "lead_score": 40, "opted_out": True})
    assert patched.status_code == 200
    assert patched.json()["name"] == "Ana Maria" and patched.json()["email"] == "ana@example.com"
    assert patched.json()["opted_out_at"] is not None

    assert agent.delete(url).status_code == 204
    assert agent.get(url).status_code == 404
    assert agent.delete(url).status_code == 404


def test_a_duplicate_phone_is_409_and_a_deleted_contact_frees_it(agent):
    first = agent.post("/api/v1/contacts", {"phone": "+5511987654321"}).json()
    duplicate = agent.post("/api/v1/contacts", {"phone": "5511987654321", "name": "Copy"})
    assert duplicate.status_code == 409
    error = duplicate.json()["error"]
    assert error["code"] == "conflict" and error["details"][0]["field"] == "phone"

    agent.delete(f"/api/v1/contacts/{first['id']}")
    assert agent.post("/api/v1/contacts", {"phone": "5511987654321"}).status_code == 201


@pytest.mark.parametrize(("payload", "field"), [
    ({"phone": "12345"}, "phone"),
    ({"phone": "+5511987654321", "email": "nope"}, "email"),
    ({"phone": "+5511987654321", "name": "x" * 201}, "name"),
    ({"phone": "+5511987654321", "lead_status": "hot"}, "lead_status"),
    ({"phone": "+5511987654321", "tags": ["x" * 51]}, "tags.0"),
    ({"phone": "+5511987654321", "country": "BRA"}, "country"),
    ({"phone": "+5511987654321", "time_zone": "Nowhere/City"}, "time_zone"),
    ({"phone": "+5511987654321", "lead_score": -1}, "lead_score"),
    ({"phone": "+5511987654321", "custom_fields": {"unknown": 1}}, "custom_fields.unknown"),
    ({"name": "no phone"}, "phone"),
])
def test_bad_input_is_422_with_the_error_body_and_nothing_is_created(agent, alpha, in_schema, payload, field):
    before = count_contacts(alpha, in_schema)
    response = agent.post("/api/v1/contacts", payload)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"]
    assert field in [detail["field"] for detail in error["details"]], error
    assert count_contacts(alpha, in_schema) == before


def test_a_bad_patch_changes_nothing(agent, alpha):
    contact = make_contact(alpha, name="Ana", email="ana@example.com")
    url = f"/api/v1/contacts/{contact.pk}"
    for payload in ({"name": "New", "email": "broken"}, {"name": None}, {"name": "New", "phone": "1"}):
        assert agent.patch(url, payload).status_code == 422
    assert agent.get(url).json()["name"] == "Ana"


# --- tags and custom fields ---------------------------------------------------------------------

def test_tags_are_added_and_removed_by_path(agent, alpha):
    contact = make_contact(alpha, tags=["lead"])
    url = f"/api/v1/contacts/{contact.pk}/tags"
    added = agent.post(url, {"tags": ["VIP", "a/b", "lead"]})
    assert added.status_code == 200 and added.json()["tags"] == ["lead", "vip", "a/b"]
    assert agent.delete(f"{url}/VIP").json()["tags"] == ["lead", "a/b"]
    assert agent.delete(f"{url}/a%2Fb").json()["tags"] == ["lead"]
    assert agent.post(url, {"tags": []}).status_code == 422


def test_managers_define_custom_fields_and_values_are_checked(api, alpha, agent):
    admin = signed_in(api, alpha, "admin")
    field = {"key": "plan", "label": "Plan", "type": "choice", "choices": ["basic", "gold"]}
    assert agent.post("/api/v1/contact-fields", field).status_code == 403
    created = admin.post("/api/v1/contact-fields", field)
    assert created.status_code == 201 and created.json()["choices"] == ["basic", "gold"]
    assert admin.post("/api/v1/contact-fields", field).status_code == 409
    assert [f["key"] for f in agent.get("/api/v1/contact-fields").json()["items"]] == ["plan"]

    wrong = agent.post("/api/v1/contacts", {"phone": unique_phone(), "custom_fields": {"plan": "platinum"}})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"] == [
        {"field": "custom_fields.plan", "message": "Must be one of: basic, gold."},
    ]
    good = agent.post("/api/v1/contacts", {"phone": unique_phone(), "custom_fields": {"plan": "gold"}})
    assert good.json()["custom_fields"] == {"plan": "gold"}

    assert agent.delete("/api/v1/contact-fields/plan").status_code == 403
    assert admin.delete("/api/v1/contact-fields/plan").status_code == 204
    assert admin.delete("/api/v1/contact-fields/plan").status_code == 404
    assert agent.get(f"/api/v1/contacts/{good.json()['id']}").json()["custom_fields"] == {}


# --- list, search, filters, pages ----------------------------------------------------------------

def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


def test_search_by_name_email_and_phone_digits(agent, alpha):
    ana = make_contact(alpha, phone="+5511987654321", name="Ana Souza", email="ana@shop.example")
    bruno = make_contact(alpha, name="Bruno", email="bruno@mail.example")
    assert ids(agent.get("/api/v1/contacts?q=souza")) == [ana.pk]
    assert ids(agent.get("/api/v1/contacts?q=MAIL.EXAMPLE")) == [bruno.pk]
    assert ids(agent.get("/api/v1/contacts?q=%2B55%20(11)%2098765")) == [ana.pk]
    assert ids(agent.get("/api/v1/contacts?q=987654321")) == [ana.pk]
    assert ids(agent.get("/api/v1/contacts?q=nobody")) == []


def test_filters_by_tag_lead_status_custom_field_and_flags(agent, alpha):
    make_custom_field(alpha, key="seats", type="number")
    make_custom_field(alpha, key="vip", type="bool")
    a = make_contact(alpha, tags=["vip"], lead_status="customer", custom_fields={"seats": 3, "vip": True})
    b = make_contact(alpha, tags=["lead"], custom_fields={"seats": 10}, opted_out=True)
    c = make_contact(alpha, blocked=True)
    assert ids(agent.get("/api/v1/contacts?tag=VIP")) == [a.pk]
    assert ids(agent.get("/api/v1/contacts?lead_status=customer")) == [a.pk]
    assert ids(agent.get("/api/v1/contacts?custom_field=seats%3D10")) == [b.pk]
    assert ids(agent.get("/api/v1/contacts?custom_field=vip%3Dtrue")) == [a.pk]
    assert ids(agent.get("/api/v1/contacts?opted_out=true")) == [b.pk]
    assert ids(agent.get("/api/v1/contacts?blocked=true")) == [c.pk]
    assert ids(agent.get("/api/v1/contacts?tag=lead&lead_status=customer")) == []
    for bad in ("custom_field=seats", "custom_field=nope%3D1", "custom_field=seats%3Dmany",
                "lead_status=hot"):
        assert agent.get(f"/api/v1/contacts?{bad}").status_code == 422


def test_the_list_is_paged_newest_first_with_a_cursor(agent, alpha):
    made = [make_contact(alpha).pk for _ in range(5)]
    seen, cursor = [], ""
    while True:
        page = agent.get(f"/api/v1/contacts?limit=2&cursor={cursor}").json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen[:5] == made[::-1]
    assert len(seen) == len(set(seen))
    assert agent.get("/api/v1/contacts?limit=101").status_code == 422


def test_deleted_contacts_are_not_listed(agent, alpha):
    contact = make_contact(alpha, name="Gone Person")
    agent.delete(f"/api/v1/contacts/{contact.pk}")
    assert ids(agent.get("/api/v1/contacts?q=gone")) == []


# --- plan limit and API keys --------------------------------------------------------------------

def test_max_contacts_is_403_plan_limit_reached_with_limit_and_used(api, make_company, in_schema):
    company = limit_contacts(make_company(), 2)
    client = signed_in(api, company)
    for _ in range(2):
        assert client.post("/api/v1/contacts", {"phone": unique_phone()}).status_code == 201

    refused = client.post("/api/v1/contacts", {"phone": unique_phone()})

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "plan_limit_reached"
    assert error["details"]["limit"] == 2 and error["details"]["used"] == 2
    assert count_contacts(company, in_schema) == 2


def test_api_keys_need_the_contacts_scopes(api, alpha):
    contact = make_contact(alpha)
    _, reader = make_api_key(alpha, scopes=["contacts:read"])
    _, writer = make_api_key(alpha, scopes=["contacts:read", "contacts:write"])
    _, other = make_api_key(alpha, scopes=["users:read"])
    read_only = api(alpha, headers={"X-Api-Key": reader})

    assert read_only.get(f"/api/v1/contacts/{contact.pk}").status_code == 200
    assert read_only.get("/api/v1/contacts").status_code == 200
    for response in (
        read_only.post("/api/v1/contacts", {"phone": unique_phone()}),
        read_only.patch(f"/api/v1/contacts/{contact.pk}", {"name": "x"}),
        read_only.delete(f"/api/v1/contacts/{contact.pk}"),
        read_only.post(f"/api/v1/contacts/{contact.pk}/tags", {"tags": ["x"]}),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert api(alpha, headers={"X-Api-Key": other}).get("/api/v1/contacts").status_code == 403
    assert api(alpha, token=writer).post("/api/v1/contacts", {"phone": unique_phone()}).status_code == 201


def test_contacts_need_authentication(api, alpha):
    response = api(alpha).get("/api/v1/contacts")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
