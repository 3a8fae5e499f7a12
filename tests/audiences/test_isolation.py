"""Company bravo never reads or changes alpha's lists, segments, members, nor merges or erases
alpha's contacts: by id on its own host, with its keys, or with alpha's key on its host."""

import pytest

from apps.contacts.models import Contact, ContactList, ContactListMember, Segment
from tests.audiences.conftest import signed_in
from tests.fixtures.contacts import make_contact
from tests.fixtures.factories import make_api_key

pytestmark = pytest.mark.django_db


def only_in(model, company, other, in_schema, make):
    """A row of `company` whose id is unused in `other` (ids are per schema)."""
    with in_schema(other.schema_name):
        highest = model._base_manager.order_by("-pk").values_list("pk", flat=True).first() or 0
    row = make()
    while row.pk <= highest:
        row = make()
    return row


@pytest.fixture
def alphas(alpha, bravo, in_schema):
    contact = only_in(Contact, alpha, bravo, in_schema, lambda: make_contact(alpha, name="Alpha Person"))
    other = only_in(Contact, alpha, bravo, in_schema, lambda: make_contact(alpha, name="Alpha Other"))

    def new_list():
        with in_schema(alpha.schema_name):
            return ContactList.objects.create(name=f"Alpha list {ContactList.objects.count()}")

    def new_segment():
        with in_schema(alpha.schema_name):
            return Segment.objects.create(name=f"Alpha seg {Segment.objects.count()}", filters={})

    contact_list = only_in(ContactList, alpha, bravo, in_schema, new_list)
    segment = only_in(Segment, alpha, bravo, in_schema, new_segment)
    with in_schema(alpha.schema_name):
        ContactListMember.objects.create(contact_list=contact_list, contact=contact)
    return {"contact": contact, "other": other, "list": contact_list, "segment": segment}


def test_bravos_admin_gets_404_for_alphas_lists_segments_and_contacts(api, alpha, bravo, alphas, in_schema):
    bravo_admin = signed_in(api, bravo, "admin")
    list_url = f"/api/v1/contact-lists/{alphas['list'].pk}"
    segment_url = f"/api/v1/segments/{alphas['segment'].pk}"
    contact_id, other_id = alphas["contact"].pk, alphas["other"].pk

    assert bravo_admin.get("/api/v1/contact-lists").json()["items"] == []
    assert bravo_admin.get("/api/v1/segments").json()["items"] == []
    for method, url, body in [
        ("get", list_url, None), ("patch", list_url, {"name": "Hijacked"}),
        ("get", f"{list_url}/members", None),
        ("post", f"{list_url}/members", {"contact_ids": [contact_id]}),
        ("delete", f"{list_url}/members", {"contact_ids": [contact_id]}), ("delete", list_url, None),
        ("get", segment_url, None), ("patch", segment_url, {"name": "Hijacked"}),
        ("get", f"{segment_url}/contacts", None), ("delete", segment_url, None),
        ("post", f"/api/v1/contacts/{contact_id}/merge", {"other_id": other_id}),
        ("post", f"/api/v1/contacts/{contact_id}/erase", None),
    ]:
        response = bravo_admin.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.status_code)
        assert "Alpha" not in response.content.decode()
    # Alpha's ids as filters or members in bravo's own lists are unknown there.
    assert bravo_admin.get(f"/api/v1/contacts?list={alphas['list'].pk}").status_code == 422
    assert bravo_admin.get(f"/api/v1/contacts?segment={alphas['segment'].pk}").status_code == 422
    own = bravo_admin.post("/api/v1/contact-lists", {"name": "Bravo"}).json()
    refused = bravo_admin.post(f"/api/v1/contact-lists/{own['id']}/members", {"contact_ids": [contact_id]})
    assert refused.status_code == 422

    with in_schema(alpha.schema_name):
        assert ContactList.objects.get(pk=alphas["list"].pk).name.startswith("Alpha list")
        assert ContactListMember.objects.filter(contact_list=alphas["list"]).count() == 1
        assert Segment.objects.filter(pk=alphas["segment"].pk).exists()
        both = Contact.objects.filter(pk__in=[contact_id, other_id])
        assert both.count() == 2 and not both.filter(erased_at__isnull=False).exists()


def test_alphas_key_is_refused_on_bravos_host_and_bravos_key_sees_only_bravo(api, alpha, bravo, alphas):
    _, alpha_key = make_api_key(alpha, scopes=["contacts:read", "contacts:write"])
    on_bravo = api(bravo, headers={"X-Api-Key": alpha_key})
    assert on_bravo.get("/api/v1/contact-lists").status_code == 401
    assert on_bravo.post("/api/v1/segments", {"name": "x", "filters": {}}).status_code == 401
    _, bravo_key = make_api_key(bravo, scopes=["contacts:read", "contacts:write"])
    bravo_client = api(bravo, headers={"X-Api-Key": bravo_key})
    assert bravo_client.get(f"/api/v1/contact-lists/{alphas['list'].pk}/members").status_code == 404
    url = f"/api/v1/contacts/{alphas['contact'].pk}/merge"
    merge = bravo_client.post(url, {"other_id": alphas["other"].pk})
    assert merge.status_code == 404
