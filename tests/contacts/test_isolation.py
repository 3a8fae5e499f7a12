"""One company's contacts are invisible to every other company, by id, by search and by key."""

import pytest

from apps.contacts.models import Contact
from tests.fixtures.contacts import make_contact, make_custom_field
from tests.fixtures.factories import make_api_key, make_user

pytestmark = pytest.mark.django_db


def signed_in(api, company, role: str = "admin"):
    user = make_user(company, role=role)
    return api(company, token=api(company).login(user.email)["access"])


def contact_only_in(company, other, in_schema, **fields) -> Contact:
    """A contact of `company` whose id is not used in `other` (ids are per schema)."""
    with in_schema(other.schema_name):
        highest_in_other = Contact.all_objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    contact = make_contact(company, **fields)
    while contact.pk <= highest_in_other:
        contact = make_contact(company, **fields)
    return contact


def test_an_alpha_contact_id_on_bravos_host_is_404_and_untouched(api, alpha, bravo, in_schema):
    contact = contact_only_in(alpha, bravo, in_schema, name="Alpha Customer", tags=["vip"])
    bravo_admin = signed_in(api, bravo)
    url = f"/api/v1/contacts/{contact.pk}"

    assert bravo_admin.get(url).status_code == 404
    assert bravo_admin.patch(url, {"name": "hijacked"}).status_code == 404
    assert bravo_admin.post(f"{url}/tags", {"tags": ["stolen"]}).status_code == 404
    assert bravo_admin.delete(f"{url}/tags/vip").status_code == 404
    assert bravo_admin.delete(url).status_code == 404

    with in_schema(alpha.schema_name):
        unchanged = Contact.objects.get(pk=contact.pk)
    assert (unchanged.name, unchanged.tags, unchanged.deleted_at) == ("Alpha Customer", ["vip"], None)


def test_bravos_list_and_search_never_show_alphas_contacts(api, alpha, bravo):
    # The same person may be a customer of both companies: one phone, two separate contacts.
    ours = make_contact(alpha, phone="+5511987654321", name="Shared Person")
    theirs = make_contact(bravo, phone="+5511987654321", name="Shared Person")
    make_contact(alpha, name="Only Alpha", tags=["alpha-only"])
    bravo_admin = signed_in(api, bravo)

    listed = {item["id"] for item in bravo_admin.get("/api/v1/contacts?limit=100").json()["items"]}
    searched = bravo_admin.get("/api/v1/contacts?q=alpha").json()["items"]
    by_phone = bravo_admin.get("/api/v1/contacts?q=5511987654321").json()["items"]
    by_tag = bravo_admin.get("/api/v1/contacts?tag=alpha-only").json()["items"]

    assert theirs.pk in listed
    assert searched == [] and by_tag == []
    assert [item["id"] for item in by_phone] == [theirs.pk]
    with_alpha_ids = signed_in(api, alpha).get("/api/v1/contacts?q=5511987654321").json()["items"]
    assert [item["id"] for item in with_alpha_ids] == [ours.pk]


def test_a_key_of_alpha_cannot_read_bravos_contacts(api, alpha, bravo):
    make_contact(bravo, name="Bravo Customer")
    _, key = make_api_key(alpha, scopes=["contacts:read", "contacts:write"])
    for client in (api(bravo, headers={"X-Api-Key": key}), api(bravo, token=key)):
        response = client.get("/api/v1/contacts")
        assert response.status_code == 401
        assert "Bravo Customer" not in response.content.decode()
    assert api(alpha, headers={"X-Api-Key": key}).get("/api/v1/contacts").status_code == 200


def test_custom_fields_are_per_company(api, alpha, bravo):
    make_custom_field(alpha, key="loyalty")
    bravo_admin = signed_in(api, bravo)
    assert bravo_admin.get("/api/v1/contact-fields").json()["items"] == []
    assert bravo_admin.delete("/api/v1/contact-fields/loyalty").status_code == 404
    refused = bravo_admin.post(
        "/api/v1/contacts", {"phone": "+5511987654321", "custom_fields": {"loyalty": "x"}},
    )
    assert refused.status_code == 422
    assert signed_in(api, alpha).get("/api/v1/contact-fields").json()["items"][0]["key"] == "loyalty"
