"""One company's campaigns are invisible to every other company, on every door."""

import pytest
from django_tenants.utils import schema_context

from apps.campaigns.events import CAMPAIGN_PROGRESS, campaign_progress_frame
from apps.campaigns.models import Campaign
from apps.campaigns.tasks import campaign_send, campaign_start_due
from conversa.events import Event
from tests.campaigns.conftest import make_audience, make_campaign
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox

pytestmark = pytest.mark.django_db


def alpha_campaign_unknown_to_bravo(alpha, bravo, actor, inbox):
    """A campaign of alpha whose id bravo does not use (ids are per schema)."""
    with schema_context(bravo.schema_name):
        highest = Campaign.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    tag, _ = make_audience(alpha, 1)
    campaign = make_campaign(alpha, actor=actor, inbox=inbox, tags=[tag])
    while campaign.pk <= highest:
        campaign = make_campaign(alpha, actor=actor, inbox=inbox, tags=[tag])
    return campaign


def test_bravos_managers_cannot_read_or_change_alphas_campaigns(alpha, bravo, desk, api):
    campaign = alpha_campaign_unknown_to_bravo(alpha, bravo, desk["people"]["admin"], desk["inbox"])
    bravo_admin = make_user(bravo, role="admin")
    client = api(bravo, token=api(bravo).login(bravo_admin.email)["access"])
    url = f"/api/v1/campaigns/{campaign.pk}"

    assert campaign.pk not in [item["id"] for item in client.get("/api/v1/campaigns").json()["items"]]
    for call in (client.get(url), client.patch(url, {"name": "stolen"}), client.post(f"{url}/start"),
                 client.post(f"{url}/cancel"), client.post(f"{url}/duplicate"), client.get(f"{url}/report"),
                 client.get(f"{url}/report.csv"), client.get(f"{url}/recipients"),
                 client.get(f"{url}/preview?contact_id=1"), client.delete(url)):
        assert call.status_code == 404
    with schema_context(alpha.schema_name):
        unchanged = Campaign.objects.get(pk=campaign.pk)
    assert (unchanged.name, unchanged.status) == ("Spring sale", "draft")


def test_alphas_token_and_key_do_not_work_on_bravos_host(alpha, bravo, desk, api):
    _, key = make_api_key(alpha, scopes=["campaigns:read", "campaigns:write"])
    token = api(alpha).login(desk["people"]["admin"].email)["access"]
    for client in (api(bravo, headers={"X-Api-Key": key}), api(bravo, token=token)):
        assert client.get("/api/v1/campaigns").status_code == 401


def test_progress_frames_go_to_the_companys_managers_only(alpha, bravo, desk):
    campaign = alpha_campaign_unknown_to_bravo(alpha, bravo, desk["people"]["admin"], desk["inbox"])
    with schema_context(alpha.schema_name):
        data, audience = campaign_progress_frame(Event(CAMPAIGN_PROGRESS, alpha.schema_name,
                                                       {"campaign_id": campaign.pk}))
    assert data["id"] == campaign.pk and sorted(audience) == ["admins", "supervisors"]
    # the same event read in bravo's schema finds nothing to send
    with schema_context(bravo.schema_name):
        assert campaign_progress_frame(Event(CAMPAIGN_PROGRESS, bravo.schema_name,
                                             {"campaign_id": campaign.pk})) is None


def test_tasks_run_in_their_own_schema_only(alpha, bravo, desk):
    campaign = alpha_campaign_unknown_to_bravo(alpha, bravo, desk["people"]["admin"], desk["inbox"])
    make_inbox(bravo)
    # a task naming bravo's schema with alpha's id finds no campaign and sends nothing
    assert campaign_send.call_local(bravo.schema_name, campaign.pk) == "stopped"
    assert campaign_start_due.call_local(bravo.schema_name, campaign.pk) is False
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get(pk=campaign.pk).status == "draft"
    with pytest.raises(ValueError):
        campaign_send.call_local("public", campaign.pk)


def test_a_starting_worker_wakes_the_running_campaigns_of_each_company_in_its_own_schema(
    alpha, bravo, desk, monkeypatch,
):
    from apps.campaigns import tasks

    campaign = alpha_campaign_unknown_to_bravo(alpha, bravo, desk["people"]["admin"], desk["inbox"])
    with schema_context(alpha.schema_name):
        Campaign.objects.filter(pk=campaign.pk).update(status="running")
    woken = []
    monkeypatch.setattr(tasks, "campaign_send", lambda schema, pk: woken.append((schema, pk)))

    found = tasks.campaigns_recover()

    assert (alpha.schema_name, campaign.pk) in found and woken == found
    assert all(schema != bravo.schema_name for schema, _ in found)
