"""`/api/v1/campaigns` (SPEC §15.1): what managers build and read, what is refused, and to whom."""

import csv
import io

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditLog
from apps.campaigns.materialize import recipients_materialize
from apps.campaigns.models import Campaign, CampaignRecipient
from apps.contacts.services import contact_update
from tests.campaigns.conftest import make_audience, make_campaign
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_template

pytestmark = pytest.mark.django_db


def body(desk, tag, **extra):
    return {"name": "Black Friday", "inbox_id": desk["inbox"].pk, "audience": {"tags": [tag]},
            "message": {"text": "Hi {{contact.first_name}}"}, **extra}


def test_a_supervisor_builds_previews_and_starts_a_campaign(alpha, desk):
    tag, contacts = make_audience(alpha, 3)
    with schema_context(alpha.schema_name):
        contact_update(contact=contacts[2], opted_out=True)
    client = desk["api"]["supervisor"]

    counted = client.post("/api/v1/campaigns/audience-count", {"audience": {"tags": [tag]}})
    window = {"days": ["mon", "fri"], "start": "09:00", "end": "18:00"}
    created = client.post("/api/v1/campaigns", body(desk, tag, rate_per_second=1000, send_window=window,
                                                    timezone="America/Sao_Paulo"))
    assert counted.status_code == 200 and counted.json() == {"total": 3, "skipped": 1}
    assert created.status_code == 201, created.content
    campaign = created.json()
    assert campaign["status"] == "draft" and campaign["message"] == {"text": "Hi {{contact.first_name}}",
                                                                     "template": None}
    assert campaign["effective_rate_per_second"] == 80  # capped by the inbox
    assert campaign["send_window"] == {"days": ["mon", "fri"], "start": "09:00", "end": "18:00"}
    url = f"/api/v1/campaigns/{campaign['id']}"

    preview = client.get(f"{url}/preview?contact_id={contacts[0].pk}")
    patched = client.patch(url, {"name": "Cyber Monday"})
    started = client.post(f"{url}/start")

    assert preview.json() == {"text": "Hi Client"}
    assert patched.json()["name"] == "Cyber Monday"
    assert started.status_code == 200 and started.json()["status"] == "running"
    assert client.patch(url, {"name": "Too late"}).status_code == 409
    assert client.delete(url).status_code == 409
    assert client.post(f"{url}/resume").json()["error"]["code"] == "invalid_transition"
    with schema_context(alpha.schema_name):
        actions = list(AuditLog.objects.filter(entity_type="campaign", entity_id=str(campaign["id"]))
                       .order_by("id").values_list("action", flat=True))
    assert actions == ["campaign.create", "campaign.update", "campaign.start"]


def test_templates_schedule_duplicate_and_delete(alpha, desk):
    make_template(alpha, desk["inbox"], name="promo", body="Hi {{1}}, code {{2}}")
    tag, _ = make_audience(alpha, 1)
    client = desk["api"]["admin"]
    created = client.post("/api/v1/campaigns", body(desk, tag, message={"template": {
        "name": "promo", "language": "en", "variables": ["{{contact.first_name}}", "SAVE10"]}}))
    assert created.status_code == 201, created.content
    url = f"/api/v1/campaigns/{created.json()['id']}"

    madrid = {"timezone": "Europe/Madrid"}
    past = client.post(f"{url}/schedule", {"scheduled_at": "2001-01-01T09:00:00", **madrid})
    scheduled = client.post(f"{url}/schedule", {"scheduled_at": "2099-01-01T09:00:00"})
    assert past.status_code == 422 and past.json()["error"]["details"][0]["field"] == "scheduled_at"
    assert scheduled.status_code == 422  # more than a year ahead
    soon = client.post(f"{url}/schedule", {"scheduled_at": "2027-06-01T09:00:00", **madrid})
    assert soon.status_code == 200, soon.content
    assert soon.json()["status"] == "scheduled" and soon.json()["scheduled_at"].startswith("2027-06-01T07:00")

    copy = client.post(f"{url}/duplicate")
    assert copy.status_code == 201
    assert copy.json()["status"] == "draft" and copy.json()["scheduled_at"] is None
    assert client.delete(f"/api/v1/campaigns/{copy.json()['id']}").status_code == 204
    assert client.get(f"/api/v1/campaigns/{copy.json()['id']}").status_code == 404


def test_recipients_report_and_csv(alpha, desk, monkeypatch):
    monkeypatch.setattr("apps.campaigns.report_csv._CHUNK", 2)  # rows streamed in chunks
    tag, contacts = make_audience(alpha, 3)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag])
    with schema_context(alpha.schema_name):
        recipients_materialize(campaign_id=campaign.pk)
        first, second, third = CampaignRecipient.objects.filter(campaign=campaign).order_by("id")
        CampaignRecipient.objects.filter(pk=first.pk).update(status="read", provider_message_id="w1")
        CampaignRecipient.objects.filter(pk=second.pk).update(status="failed", reason="131026")
    client = desk["api"]["supervisor"]
    url = f"/api/v1/campaigns/{campaign.pk}"

    failed = client.get(f"{url}/recipients?status=failed").json()
    page = client.get(f"{url}/recipients?limit=2").json()
    report = client.get(f"{url}/report").json()
    exported = client.get(f"{url}/report.csv")

    assert [item["reason"] for item in failed["items"]] == ["131026"]
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert report["stats"] == {"total": 3, "queued": 1, "sent": 1, "delivered": 1, "read": 1, "failed": 1,
                               "skipped": 0}
    assert report["failures"] == [{"error_code": "131026", "count": 1}]
    assert report["rates"]["read"] == 1.0
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert ["failures", "131026", "1"] in rows
    header = rows.index(["contact_id", "name", "phone", "status", "reason", "error_message", "sent_at",
                         "delivered_at", "read_at", "failed_at", "conversation_id"])
    assert [row[3] for row in rows[header + 1:]] == ["read", "failed", "queued"]
    assert client.get(f"{url}/recipients?status=lost").status_code == 422


def test_agents_get_403_on_every_action(alpha, desk):
    tag, _ = make_audience(alpha, 1)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag])
    agent = desk["api"]["agent"]
    url = f"/api/v1/campaigns/{campaign.pk}"
    assert agent.post("/api/v1/campaigns", body(desk, tag)).status_code == 403
    for call in (agent.get(url), agent.patch(url, {"name": "x"}), agent.post(f"{url}/start"),
                 agent.post(f"{url}/cancel"), agent.get(f"{url}/report.csv"), agent.delete(url),
                 agent.post("/api/v1/campaigns/audience-count", {"audience": {"tags": [tag]}})):
        assert call.status_code == 403
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get(pk=campaign.pk).status == "draft"


def test_api_keys_need_the_campaign_scopes(alpha, desk, api):
    tag, _ = make_audience(alpha, 1)
    _, reader = make_api_key(alpha, scopes=["campaigns:read"])
    _, writer = make_api_key(alpha, scopes=["campaigns:write", "campaigns:read"])
    _, other = make_api_key(alpha, scopes=["contacts:read", "conversations:write"])

    assert api(alpha, headers={"X-Api-Key": other}).get("/api/v1/campaigns").status_code == 403
    assert api(alpha, headers={"X-Api-Key": reader}).get("/api/v1/campaigns").status_code == 200
    refused = api(alpha, headers={"X-Api-Key": reader}).post("/api/v1/campaigns", body(desk, tag))
    assert refused.status_code == 403
    created = api(alpha, headers={"X-Api-Key": writer}).post("/api/v1/campaigns", body(desk, tag))
    assert created.status_code == 201, created.content


def test_a_plan_without_campaigns_is_refused(make_company, api):
    company = make_company(plan="free")
    admin = make_user(company, role="admin")
    client = api(company, token=api(company).login(admin.email)["access"])
    refused = client.get("/api/v1/campaigns")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "feature_not_in_plan"


def test_a_list_page_counts_its_campaigns_recipients_in_one_query(
    alpha, desk, django_assert_max_num_queries,
):
    for _ in range(3):
        tag, _contacts = make_audience(alpha, 2)
        campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag])
        with schema_context(alpha.schema_name):
            recipients_materialize(campaign_id=campaign.pk)
    client = desk["api"]["supervisor"]
    client.get("/api/v1/campaigns?limit=3")  # warm: the user's session and permissions
    with django_assert_max_num_queries(6):  # one count for the page, not one per campaign
        listed = client.get("/api/v1/campaigns?limit=3").json()["items"]
    assert [item["stats"]["total"] for item in listed] == [2, 2, 2]


def test_report_downloads_are_audited_and_limited_to_five_a_minute(alpha, desk):
    tag, _ = make_audience(alpha, 1)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag])
    client = desk["api"]["supervisor"]
    url = f"/api/v1/campaigns/{campaign.pk}/report.csv"

    answers = [client.get(url).status_code for _ in range(6)]

    assert answers == [200] * 5 + [429]
    with schema_context(alpha.schema_name):
        audited = AuditLog.objects.filter(action="campaign.report_exported", entity_id=str(campaign.pk))
        assert audited.count() == 5 and audited.first().actor_id == desk["people"]["supervisor"].pk
