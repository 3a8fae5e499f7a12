"""`/api/v1/segments`: saved filters with a live count, their contacts, and who may change them."""

import pytest

from apps.audit.models import AuditLog
from apps.contacts.models import Segment
from tests.fixtures.contacts import make_contact, make_custom_field

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(alpha):
    make_custom_field(alpha, key="plan", type="choice", choices=["gold", "silver"])
    return {
        "ana": make_contact(alpha, name="Ana Gold", tags=["vip", "sp"], lead_status="qualified",
                            custom_fields={"plan": "gold"}),
        "bia": make_contact(alpha, name="Bia", tags=["vip"], lead_status="qualified"),
        "caio": make_contact(alpha, name="Caio", tags=["sp"], lead_status="new"),
    }


def test_a_segment_counts_live_and_lists_its_contacts(supervisor, alpha, people, in_schema):
    created = supervisor.post("/api/v1/segments", {
        "name": "Qualified VIPs", "filters": {"tags": ["VIP"], "lead_status": "qualified"},
    })
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["filters"] == {"tags": ["vip"], "lead_status": "qualified"} and body["count"] == 2
    url = f"/api/v1/segments/{body['id']}"

    contacts = supervisor.get(f"{url}/contacts").json()
    assert [item["name"] for item in contacts["items"]] == ["Bia", "Ana Gold"]
    assert contacts["next_cursor"] is None
    # Live: a contact that starts to match is counted at once.
    supervisor.patch(f"/api/v1/contacts/{people['caio'].pk}", {"tags": ["vip"], "lead_status": "qualified"})
    assert supervisor.get(url).json()["count"] == 3
    listed = supervisor.get("/api/v1/contacts?segment=" + str(body["id"])).json()["items"]
    assert {item["id"] for item in listed} == {p.pk for p in people.values()}

    narrowed = supervisor.patch(url, {"filters": {"custom_fields": {"plan": "gold"}, "q": "ana"}})
    assert narrowed.status_code == 200, narrowed.content
    assert narrowed.json()["count"] == 1 and narrowed.json()["name"] == "Qualified VIPs"
    assert supervisor.get("/api/v1/segments").json()["items"][0]["count"] == 1

    assert supervisor.delete(url).status_code == 204
    assert supervisor.get(url).status_code == 404
    with in_schema(alpha.schema_name):
        actions = set(AuditLog.objects.filter(entity_type="segment").values_list("action", flat=True))
    assert {"segment.created", "segment.updated", "segment.deleted"} <= actions


@pytest.mark.parametrize(("filters", "field"), [
    ({"lead_status": "hot"}, "filters.lead_status"),
    ({"color": "red"}, "filters.color"),
    ({"tags": "vip"}, "filters.tags"),
    ({"tags": [""]}, "filters.tags"),
    ({"custom_fields": {"unknown": 1}}, "filters.custom_fields.unknown"),
    ({"q": "x" * 201}, "filters.q"),
])
def test_bad_filters_are_a_422_naming_the_filter(supervisor, alpha, in_schema, filters, field):
    response = supervisor.post("/api/v1/segments", {"name": "Bad", "filters": filters})
    assert response.status_code == 422
    assert field in [detail["field"] for detail in response.json()["error"]["details"]], response.json()
    with in_schema(alpha.schema_name):
        assert not Segment.objects.exists()


def test_a_segment_name_in_use_in_any_case_is_a_409(supervisor):
    supervisor.post("/api/v1/segments", {"name": "Leads", "filters": {}})
    clash = supervisor.post("/api/v1/segments", {"name": "LEADS", "filters": {"tags": ["x"]}})
    assert clash.status_code == 409


def test_agents_and_keys_read_segments_only_as_their_rules_say(supervisor, agent, keyed, people):
    segment = supervisor.post("/api/v1/segments", {"name": "SP", "filters": {"tags": ["sp"]}}).json()
    url = f"/api/v1/segments/{segment['id']}"
    assert agent.get(url).json()["count"] == 2
    assert agent.get(f"{url}/contacts").status_code == 200
    assert agent.post("/api/v1/segments", {"name": "Mine", "filters": {}}).status_code == 403
    assert agent.patch(url, {"name": "Renamed"}).status_code == 403
    assert agent.delete(url).status_code == 403

    assert keyed("contacts:read").get(url).status_code == 200
    assert keyed("contacts:read").patch(url, {"name": "Key"}).status_code == 403
    assert keyed("conversations:write").get(url).status_code == 403
    assert keyed("contacts:write").patch(url, {"name": "Key"}).json()["name"] == "Key"
    assert supervisor.get("/api/v1/contacts?segment=99999999").status_code == 422
