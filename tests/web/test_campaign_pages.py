"""Campaigns in the agents' UI (server side): who reaches the pages (roles, plan, companies), the
builder saving a draft and showing the services' errors per field, the live counts and preview,
the actions as the status allows, the report and its CSV."""

import datetime as dt
import re
from urllib.parse import urlencode

import pytest
from django_tenants.utils import schema_context

from apps.campaigns.models import Campaign, CampaignRecipient
from tests.campaigns.conftest import make_audience, make_campaign, make_list
from tests.fixtures.contacts import make_contact
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(alpha):
    admin = make_user(alpha, role="admin", name="Alice Admin")
    inbox = make_inbox(alpha, rate=40, name="Shop")
    tag, people = make_audience(alpha, 3)
    make_contact(alpha, name="Opted Out", tags=[tag], opted_out=True)
    return {"admin": admin, "inbox": inbox, "tag": tag, "people": people,
            "browser": signed_in(alpha, admin)}


def _query(path: str, params: dict) -> str:
    return f"{path}?{urlencode(params, doseq=True)}"


def _form(shop, **overrides) -> dict:
    data = {
        "name": "Spring sale", "inbox_id": shop["inbox"].pk, "tags": shop["tag"], "kind": "text",
        "text": "Hi {{contact.first_name}}!", "timezone": "America/Sao_Paulo", "scheduled_at": "",
        "window_days": ["mon", "tue"], "window_start": "09:00", "window_end": "18:00", "rate_per_second": "5",
    }
    data.update(overrides)
    return data


def test_the_builder_saves_a_draft_and_its_page_offers_the_draft_actions(alpha, shop):
    browser = shop["browser"]
    assert browser.get("/app/").content.count(b'href="/app/campaigns/"') == 1  # the nav link
    page = browser.get("/app/campaigns/new/").content.decode()
    assert 'data-rate="40"' in page and 'data-insert-variable="contact.first_name"' in page

    saved = browser.post("/app/campaigns/new/", _form(shop))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    with schema_context(alpha.schema_name):
        campaign = Campaign.objects.get(name="Spring sale")
    assert saved["Location"] == f"/app/campaigns/{campaign.pk}/"
    assert (campaign.status, campaign.audience["tags"], campaign.text) == (
        "draft", [shop["tag"]], "Hi {{contact.first_name}}!")
    assert campaign.send_window == {"days": ["mon", "tue"], "start": "09:00", "end": "18:00"}
    assert (campaign.rate_per_second, campaign.timezone) == (5, "America/Sao_Paulo")

    detail = browser.get(saved["Location"]).content.decode()
    for button in ("campaign-edit", "campaign-schedule", "campaign-start", "campaign-duplicate",
                   "campaign-cancel", "campaign-delete"):
        assert f'id="{button}"' in detail
    assert 'id="campaign-pause"' not in detail and 'id="campaign-report"' not in detail
    assert "Mon, Tue 09:00–18:00 (America/Sao_Paulo)" in detail and f"Tags: {shop['tag']}." in detail
    listing = browser.get("/app/campaigns/").content.decode()
    assert "Spring sale" in listing and "0 of 0 sent" in listing

    # Editing keeps what is not changed and shows it in the form.
    edit = browser.get(f"/app/campaigns/{campaign.pk}/edit/").content.decode()
    assert 'value="Spring sale"' in edit and 'value="09:00"' in edit
    edited = browser.post(f"/app/campaigns/{campaign.pk}/edit/", _form(shop, name="Autumn sale"))
    assert edited.status_code == 302
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get(pk=campaign.pk).name == "Autumn sale"


def test_service_errors_show_next_to_their_fields_and_nothing_is_saved(alpha, shop):
    browser = shop["browser"]
    refused = browser.post("/app/campaigns/new/", _form(shop, text="Hi {{contact.shoe_size}}"))
    assert refused.status_code == 422
    page = refused.content.decode()
    assert re.search(r'id="id_text_error">Unknown variable \{\{contact.shoe_size\}\}', page)

    empty = browser.post("/app/campaigns/new/", _form(shop, tags="nobody-has-this"))
    assert empty.status_code == 422 and 'id="id_list_ids_error"' in empty.content.decode()
    window = browser.post("/app/campaigns/new/", _form(shop, window_start="18:00", window_end="09:00"))
    assert window.status_code == 422 and 'id="id_window_end_error"' in window.content.decode()
    past = browser.post("/app/campaigns/new/", _form(shop, scheduled_at="2020-01-01T10:00"))
    assert past.status_code == 422 and 'id="id_scheduled_at_error"' in past.content.decode()
    with schema_context(alpha.schema_name):
        assert not Campaign.objects.exists()


def test_live_audience_count_and_preview(alpha, shop):
    browser = shop["browser"]
    first = shop["people"][0]
    listed = make_list(alpha, shop["people"][:2])
    count = browser.get(_query("/app/campaigns/audience-count/", {"tags": shop["tag"]}), HX_Request="true")
    assert re.search(r'data-field="audience-total">4<', count.content.decode())
    assert re.search(r'data-field="audience-skipped">1<', count.content.decode())
    only_list = browser.get(_query("/app/campaigns/audience-count/", {"list_ids": [listed.pk]}))
    only_list = only_list.content.decode()
    assert 'data-field="audience-total">2<' in only_list
    preview = browser.get(_query("/app/campaigns/preview/", {
        "kind": "text", "text": "Hello {{contact.first_name}}, from {{contact.phone}}",
        "inbox_id": shop["inbox"].pk, "preview_contact": first.pk,
    })).content.decode()
    assert f"Hello Client, from {first.phone}" in preview


def _run(alpha, campaign, statuses):
    """Recipients as the sender would have left them (the sender itself is the engine's, tested there)."""
    with schema_context(alpha.schema_name):
        campaign = Campaign.objects.get(pk=campaign.pk)
        contacts = [make_contact(alpha, name=f"R{i}") for i in range(len(statuses))]
        CampaignRecipient.objects.bulk_create([
            CampaignRecipient(campaign=campaign, contact=contact, status=status,
                              reason="131026" if status == "failed" else "",
                              sent_at=None if status in ("failed", "queued") else campaign.created_at)
            for contact, status in zip(contacts, statuses, strict=True)
        ])
        return campaign


def test_actions_follow_the_status_and_the_report_shows_once_over(
    alpha, shop, django_capture_on_commit_callbacks,
):
    browser = shop["browser"]
    campaign = make_campaign(alpha, actor=shop["admin"], inbox=shop["inbox"], tags=[shop["tag"]])
    url = f"/app/campaigns/{campaign.pk}/"
    with schema_context(alpha.schema_name):
        Campaign.objects.filter(pk=campaign.pk).update(status="running")
    _run(alpha, campaign, ["read", "delivered", "sent", "failed", "queued"])
    running = browser.get(url).content.decode()
    assert 'id="campaign-pause"' in running and 'id="campaign-start"' not in running
    assert 'data-field="sent">3<' in running and 'value="80"' in running  # 4 of 5 done
    assert 'class="bar"' in running  # the chart has a minute with sends

    with django_capture_on_commit_callbacks(execute=False):
        paused = browser.post(f"{url}pause/")
    assert paused.status_code == 302
    page = browser.get(url).content.decode()
    assert 'id="campaign-resume"' in page and "Campaign paused." in page
    # A move the status does not allow is refused on the page, not with a crash.
    browser.post(f"{url}pause/")
    assert "cannot become" in browser.get(url).content.decode()

    with django_capture_on_commit_callbacks(execute=False):
        assert browser.post(f"{url}cancel/", HX_Request="true")["HX-Redirect"] == url
    report = browser.get(url).content.decode()
    assert 'id="campaign-report"' in report and 'id="campaign-pause"' not in report
    assert re.search(r'<td>131026</td><td>1</td>', report)
    assert 'data-rate="delivery">66.7%' in report
    failed_only = browser.get(_query(url, {"status": "failed"})).content.decode()
    assert failed_only.count('class="recipient-row"') == 1
    csv_text = b"".join(browser.get(f"{url}report.csv").streaming_content).decode()
    assert csv_text.startswith(f"campaign,{campaign.pk},Spring sale,cancelled")
    assert "failures,131026,1" in csv_text and csv_text.count("\n") > 20

    copied = browser.post(f"{url}duplicate/")
    with schema_context(alpha.schema_name):
        copy = Campaign.objects.exclude(pk=campaign.pk).get()
    assert copied["Location"] == f"/app/campaigns/{copy.pk}/" and copy.status == "draft"


def test_schedule_and_start_from_the_page(alpha, shop, django_capture_on_commit_callbacks):
    browser = shop["browser"]
    campaign = make_campaign(alpha, actor=shop["admin"], inbox=shop["inbox"], tags=[shop["tag"]],
                             timezone="America/Sao_Paulo")
    url = f"/app/campaigns/{campaign.pk}/"
    with django_capture_on_commit_callbacks(execute=False):
        browser.post(f"{url}schedule/", {"scheduled_at": "2020-05-01T10:00", "timezone": "America/Sao_Paulo"})
    assert "The time is in the past." in browser.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        browser.post(f"{url}schedule/", {"scheduled_at": "2099-05-01T10:00"})
        assert "At most one year ahead." in browser.get(url).content.decode()
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get(pk=campaign.pk).status == "draft"
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    with django_capture_on_commit_callbacks(execute=False):
        browser.post(f"{url}schedule/", {"scheduled_at": soon, "timezone": "UTC"})
    with schema_context(alpha.schema_name):
        scheduled = Campaign.objects.get(pk=campaign.pk)
    assert scheduled.status == "scheduled"
    assert scheduled.scheduled_at.strftime("%Y-%m-%dT%H:%M") == soon
    page = browser.get(url).content.decode()
    assert 'id="campaign-start"' in page and 'id="campaign-schedule"' not in page
    with django_capture_on_commit_callbacks(execute=False):
        browser.post(f"{url}start/")
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get(pk=campaign.pk).status == "running"


def test_agents_get_the_403_page_and_no_link(alpha):
    agent = signed_in(alpha, make_user(alpha, role="agent"))
    refused = agent.get("/app/campaigns/")
    assert refused.status_code == 403 and b'id="campaigns-forbidden"' in refused.content
    assert agent.get("/app/campaigns/new/").status_code == 403
    assert b'href="/app/campaigns/"' not in agent.get("/app/").content


def test_a_plan_without_campaigns_gets_a_page_saying_so(make_company):
    company = make_company(plan="free")
    admin = signed_in(company, make_user(company, role="admin"))
    refused = admin.get("/app/campaigns/")
    assert refused.status_code == 403 and b'id="campaigns-not-in-plan"' in refused.content
    assert admin.post("/app/campaigns/new/", {"name": "x"}).status_code == 403


def test_another_company_cannot_open_or_change_a_campaign(alpha, bravo, shop):
    campaign = make_campaign(alpha, actor=shop["admin"], inbox=shop["inbox"], tags=[shop["tag"]])
    stranger = signed_in(bravo, make_user(bravo, role="admin"))
    url = f"/app/campaigns/{campaign.pk}/"
    for path in ("", "edit/", "report.csv"):
        assert stranger.get(url + path).status_code == 404
    for action in ("start", "cancel", "delete", "duplicate", "schedule"):
        assert stranger.post(f"{url}{action}/").status_code == 404
    assert "Spring sale" not in stranger.get("/app/campaigns/").content.decode()
    # Company A's tag and list ids count nothing in company B.
    listed = make_list(alpha, shop["people"])
    counted = stranger.get(_query("/app/campaigns/audience-count/", {"tags": shop["tag"]})).content.decode()
    assert 'data-field="audience-total">0<' in counted
    refused = stranger.get(_query("/app/campaigns/audience-count/", {"list_ids": [listed.pk]}))
    refused = refused.content.decode()
    assert "No such list" in refused
    preview = stranger.get(_query("/app/campaigns/preview/", {
        "kind": "text", "text": "{{contact.phone}}", "preview_contact": shop["people"][0].pk}))
    assert shop["people"][0].phone not in preview.content.decode()
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get(pk=campaign.pk).status == "draft"


def test_a_file_is_attached_once_clean_and_another_users_upload_is_not(alpha, shop):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.media.models import MediaFile
    from apps.media.services import media_mark_clean
    from tests.fixtures.media_files import png

    browser = shop["browser"]
    uploaded = browser.post("/app/campaigns/media/", {"file": SimpleUploadedFile("promo.png", png(),
                                                                                  "image/png")})
    page = uploaded.content.decode()
    media_id = int(re.search(r'name="media_id" value="(\d+)"', page).group(1))
    assert 'data-status="scanning"' in page and f'hx-get="/app/campaigns/media/{media_id}/"' in page
    still_scanning = browser.post("/app/campaigns/new/", _form(shop, media_id=media_id))
    assert still_scanning.status_code == 422 and 'id="media-error"' in still_scanning.content.decode()

    with schema_context(alpha.schema_name):
        media_mark_clean(media=MediaFile.objects.get(pk=media_id))
    assert 'data-status="clean"' in browser.get(f"/app/campaigns/media/{media_id}/").content.decode()
    assert browser.post("/app/campaigns/new/", _form(shop, media_id=media_id)).status_code == 302
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get().media_id == media_id

    # Another manager cannot see that upload nor attach it to a campaign of theirs.
    other = signed_in(alpha, make_user(alpha, role="supervisor"))
    assert 'id="media-error"' in other.get(f"/app/campaigns/media/{media_id}/").content.decode()
    assert other.post("/app/campaigns/new/", _form(shop, name="Other", media_id=media_id)).status_code == 422
    refused = other.post("/app/campaigns/media/", {"file": SimpleUploadedFile("x.exe", b"MZ\x90\x00" * 50)})
    assert 'id="media-error"' in refused.content.decode()


def test_a_template_with_variables_is_previewed_and_saved(alpha, shop):
    from tests.fixtures.messaging import make_template

    make_template(alpha, shop["inbox"], name="promo", body="Oi {{1}}, cupom {{2}}.", language="pt_BR")
    browser = shop["browser"]
    builder = browser.get("/app/campaigns/new/").content.decode()
    assert 'value="promo|pt_BR"' in builder
    template_fields = {"kind": "template", "template": "promo|pt_BR",
                       "template_variables": "{{contact.first_name}}\nBF10", "text": ""}
    preview = browser.get(_query("/app/campaigns/preview/", {
        **template_fields, "inbox_id": shop["inbox"].pk, "preview_contact": shop["people"][0].pk,
    })).content.decode()
    assert "Oi Client, cupom BF10." in preview
    wrong = browser.post("/app/campaigns/new/", _form(shop, **{**template_fields, "template_variables": "x"}))
    assert wrong.status_code == 422 and 'id="id_template_variables_error"' in wrong.content.decode()
    assert browser.post("/app/campaigns/new/", _form(shop, **template_fields)).status_code == 302
    with schema_context(alpha.schema_name):
        assert Campaign.objects.get().template == {
            "name": "promo", "language": "pt_BR", "variables": ["{{contact.first_name}}", "BF10"]}
