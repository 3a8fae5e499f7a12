"""`/api/v1/contact-lists`: lists, their members in bulk, and who may change them."""

import pytest

from apps.audit.models import AuditLog
from apps.contacts.models import ContactList, ContactListMember
from tests.fixtures.contacts import make_contact

pytestmark = pytest.mark.django_db


def test_a_supervisor_creates_renames_fills_and_deletes_a_list(supervisor, alpha, in_schema):
    created = supervisor.post("/api/v1/contact-lists", {"name": "VIP customers", "description": "Top 50"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["name"], body["description"], body["member_count"]) == ("VIP customers", "Top 50", 0)
    url = f"/api/v1/contact-lists/{body['id']}"
    ana, bia, gone = (make_contact(alpha, name=name) for name in ("Ana", "Bia", "Gone"))

    added = supervisor.post(f"{url}/members", {"contact_ids": [ana.pk, bia.pk, gone.pk, ana.pk]})
    assert added.status_code == 200, added.content
    assert added.json() == {"added": 3, "removed": None, "member_count": 3}
    again = supervisor.post(f"{url}/members", {"contact_ids": [ana.pk, bia.pk]})
    assert again.json()["added"] == 0 and again.json()["member_count"] == 3
    supervisor.delete(f"/api/v1/contacts/{gone.pk}")  # a deleted contact is no longer counted

    renamed = supervisor.patch(url, {"name": "VIP"})
    assert renamed.json()["name"] == "VIP" and renamed.json()["description"] == "Top 50"
    assert renamed.json()["member_count"] == 2
    members = supervisor.get(f"{url}/members?limit=1")
    assert [item["name"] for item in members.json()["items"]] == ["Bia"]
    rest = supervisor.get(f"{url}/members?limit=1&cursor={members.json()['next_cursor']}").json()
    assert [item["name"] for item in rest["items"]] == ["Ana"] and rest["next_cursor"] is None
    listed = supervisor.get("/api/v1/contact-lists").json()
    assert {"id": body["id"], "member_count": 2} == {k: listed["items"][0][k] for k in ("id", "member_count")}
    assert listed["next_cursor"] is None

    removed = supervisor.request("delete", f"{url}/members", json={"contact_ids": [ana.pk, ana.pk]})
    assert removed.status_code == 200 and removed.json()["removed"] == 1
    assert removed.json()["member_count"] == 1
    assert supervisor.delete(url).status_code == 204
    assert supervisor.get(url).status_code == 404
    with in_schema(alpha.schema_name):
        assert not ContactListMember.objects.filter(contact_id=bia.pk).exists()
        actions = list(AuditLog.objects.filter(entity_type="contact_list", entity_id=str(body["id"]))
                       .values_list("action", flat=True))
    assert {"contact_list.created", "contact_list.deleted"} <= set(actions)


def test_unknown_contact_ids_are_a_422_naming_them_and_add_nobody(supervisor, alpha, in_schema):
    contact_list = supervisor.post("/api/v1/contact-lists", {"name": "Leads"}).json()
    known = make_contact(alpha)
    url = f"/api/v1/contact-lists/{contact_list['id']}/members"
    response = supervisor.post(url, {"contact_ids": [known.pk, 99_999_991, 99_999_992]})
    assert response.status_code == 422
    detail = response.json()["error"]["details"][0]
    assert detail["field"] == "contact_ids"
    assert "99999991" in detail["message"] and "99999992" in detail["message"]
    assert str(known.pk) not in detail["message"].replace("99999991", "").replace("99999992", "")
    with in_schema(alpha.schema_name):
        assert not ContactListMember.objects.filter(contact_list_id=contact_list["id"]).exists()


def test_more_than_ten_thousand_ids_in_one_call_is_a_422(supervisor):
    contact_list = supervisor.post("/api/v1/contact-lists", {"name": "Huge"}).json()
    response = supervisor.post(
        f"/api/v1/contact-lists/{contact_list['id']}/members", {"contact_ids": list(range(1, 10_002))},
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"].startswith("contact_ids")


def test_ten_thousand_members_are_added_in_one_call(supervisor, alpha, in_schema):
    from apps.contacts.models import Contact

    with in_schema(alpha.schema_name):
        start = 10**7 + (Contact.all_objects.order_by("-pk").values_list("pk", flat=True).first() or 0)
        Contact.objects.bulk_create(
            [Contact(phone=f"+5521{start + i:09d}") for i in range(10_000)], batch_size=2_000,
        )
        ids = list(Contact.objects.order_by("-pk").values_list("pk", flat=True)[:10_000])
    contact_list = supervisor.post("/api/v1/contact-lists", {"name": "Ten thousand"}).json()
    response = supervisor.post(f"/api/v1/contact-lists/{contact_list['id']}/members", {"contact_ids": ids})
    assert response.status_code == 200, response.content[:300]
    assert response.json()["member_count"] == 10_000


@pytest.mark.parametrize(("body", "field"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "ok", "description": "d" * 301}, "description"),
])
def test_bad_names_are_a_422_and_store_nothing(supervisor, alpha, in_schema, body, field):
    response = supervisor.post("/api/v1/contact-lists", body)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == field
    with in_schema(alpha.schema_name):
        assert not ContactList.objects.exists()


def test_a_name_in_use_in_any_case_is_a_409(supervisor):
    supervisor.post("/api/v1/contact-lists", {"name": "Customers"})
    other = supervisor.post("/api/v1/contact-lists", {"name": "Leads"}).json()
    clash = supervisor.post("/api/v1/contact-lists", {"name": " customers "})
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "conflict"
    rename = supervisor.patch(f"/api/v1/contact-lists/{other['id']}", {"name": "CUSTOMERS"})
    assert rename.status_code == 409
    assert supervisor.get(f"/api/v1/contact-lists/{other['id']}").json()["name"] == "Leads"


def test_agents_read_lists_but_never_change_them(supervisor, agent, alpha):
    contact = make_contact(alpha)
    contact_list = supervisor.post("/api/v1/contact-lists", {"name": "Read only"}).json()
    url = f"/api/v1/contact-lists/{contact_list['id']}"
    supervisor.post(f"{url}/members", {"contact_ids": [contact.pk]})

    assert agent.get("/api/v1/contact-lists").status_code == 200
    assert agent.get(f"{url}/members").json()["items"][0]["id"] == contact.pk
    assert agent.post("/api/v1/contact-lists", {"name": "Mine"}).status_code == 403
    assert agent.patch(url, {"name": "Renamed"}).status_code == 403
    assert agent.post(f"{url}/members", {"contact_ids": [contact.pk]}).status_code == 403
    assert agent.request("delete", f"{url}/members", json={"contact_ids": [contact.pk]}).status_code == 403
    assert agent.delete(url).status_code == 403
    assert supervisor.get(url).json()["member_count"] == 1


def test_api_keys_read_with_contacts_read_and_write_with_contacts_write(keyed, alpha):
    reader, writer = keyed("contacts:read"), keyed("contacts:write")
    assert keyed("conversations:read").get("/api/v1/contact-lists").status_code == 403
    assert reader.get("/api/v1/contact-lists").status_code == 200
    assert reader.post("/api/v1/contact-lists", {"name": "Nope"}).status_code == 403
    created = writer.post("/api/v1/contact-lists", {"name": "From a key"})
    assert created.status_code == 201
    contact = make_contact(alpha)
    url = f"/api/v1/contact-lists/{created.json()['id']}/members"
    added = writer.post(url, {"contact_ids": [contact.pk]})
    assert added.json()["added"] == 1


def test_the_contacts_list_filters_by_list(supervisor, alpha):
    inside, outside = make_contact(alpha, name="Inside"), make_contact(alpha, name="Outside")
    contact_list = supervisor.post("/api/v1/contact-lists", {"name": "Filter"}).json()
    supervisor.post(f"/api/v1/contact-lists/{contact_list['id']}/members", {"contact_ids": [inside.pk]})

    found = supervisor.get(f"/api/v1/contacts?list={contact_list['id']}").json()["items"]
    assert [item["id"] for item in found] == [inside.pk]
    assert outside.pk not in [item["id"] for item in found]
    unknown = supervisor.get("/api/v1/contacts?list=99999999")
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["field"] == "list"
