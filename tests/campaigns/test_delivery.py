"""What the sender sends and when (tasks inline, the fake Meta API in this process): templates and
media, the provider's refusals, the send window, scheduled starts, and the limiter's fairness."""

import datetime as dt
import hashlib
import threading
import time
import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.campaigns import services
from apps.campaigns.models import Campaign, CampaignRecipient
from apps.campaigns.sender import SenderLease, campaign_send_run
from apps.campaigns.tasks import campaigns_sweep
from apps.contacts.services import contact_update
from apps.inboxes.send_rate import bulk_slot_done, reserve_bulk_slot, wait_for_send_slot
from apps.media.models import MediaFile
from conversa.redis import get_redis
from tests.campaigns.conftest import make_audience, make_campaign
from tests.fixtures.live_tenant import PHONE_NUMBER_ID, TOKEN
from tests.fixtures.messaging import make_inbox, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def meta(alpha, fake):
    fake.reset()
    return make_inbox(alpha, provider="whatsapp_cloud", rate=80, credentials={
        "phone_number_id": PHONE_NUMBER_ID, "business_account_id": "waba", "access_token": TOKEN,
        "app_secret": "secret", "verify_token": "verify", "graph_base_url": fake.url})


def run(company, campaign, actor, capture):
    with schema_context(company.schema_name), capture(execute=True):
        services.campaign_start(actor=actor, campaign=campaign)
    with schema_context(company.schema_name):
        return Campaign.objects.get(pk=campaign.pk)


def test_a_template_is_sent_with_each_contacts_variables(alpha, desk, meta, fake,
                                                         django_capture_on_commit_callbacks):
    make_template(alpha, meta, name="promo", body="Hi {{1}}, use {{2}}")
    tag, contacts = make_audience(alpha, 2)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=meta, tags=[tag], message={
        "template": {"name": "promo", "language": "en", "variables": ["{{contact.name}}", "SPRING"]}})

    done = run(alpha, campaign, desk["people"]["admin"], django_capture_on_commit_callbacks)
    assert done.status == "completed"
    sent = {r.json["to"]: r.json["template"] for r in fake.accepted}
    assert sent[contacts[1].phone.lstrip("+")]["name"] == "promo"
    parameters = sent[contacts[1].phone.lstrip("+")]["components"][0]["parameters"]
    assert [p["text"] for p in parameters] == ["Client 1 Smith", "SPRING"]


def test_a_clean_file_goes_with_the_text_as_its_caption(alpha, desk, meta, fake,
                                                        django_capture_on_commit_callbacks):
    admin = desk["people"]["admin"]
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.create(kind="image", mime_type="image/png", size=10, filename="sale.png",
                                         sha256=hashlib.sha256(b"x").hexdigest(), status="clean",
                                         uploaded_by=admin, storage_name="x.png")
    tag, _ = make_audience(alpha, 1)
    campaign = make_campaign(alpha, actor=admin, inbox=meta, tags=[tag], media_id=media.pk,
                             text="Look {{contact.first_name}}")

    assert run(alpha, campaign, admin, django_capture_on_commit_callbacks).status == "completed"
    [request] = fake.accepted
    assert request.json["type"] == "image" and request.json["image"]["caption"] == "Look Client"
    assert str(media.key) in request.json["image"]["link"]


def test_a_file_still_scanning_is_refused(alpha, desk):
    admin = desk["people"]["admin"]
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.create(kind="image", mime_type="image/png", size=10, filename="x.png",
                                         sha256="0" * 64, status="scanning", uploaded_by=admin)
    tag, _ = make_audience(alpha, 1)
    from conversa.errors import ValidationFailed
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(alpha, actor=admin, inbox=desk["inbox"], tags=[tag], media_id=media.pk)
    assert refused.value.details[0]["field"] == "media_id"


def test_refusals_fail_with_the_providers_code_and_server_errors_wait_for_a_retry(
    alpha, desk, meta, fake, django_capture_on_commit_callbacks,
):
    tag, contacts = make_audience(alpha, 3)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=meta, tags=[tag])
    fake.fail_next(1, status=400, code=131026)
    fake.fail_next(1, status=500)

    still = run(alpha, campaign, desk["people"]["admin"], django_capture_on_commit_callbacks)

    with schema_context(alpha.schema_name):
        rows = {r.contact_id: r for r in CampaignRecipient.objects.filter(campaign=campaign)}
    first, second, third = (rows[c.pk] for c in contacts)
    assert (first.status, first.reason) == ("failed", "131026")
    assert second.status == "queued" and second.not_before > timezone.now() and second.attempts == 1
    assert third.status == "sent"
    assert still.status == "running"  # the retry is due later: not complete yet


def test_outside_its_send_window_the_campaign_waits_for_it(alpha, desk, meta, fake,
                                                           django_capture_on_commit_callbacks):
    now = timezone.now().astimezone(dt.UTC)
    closed_today = [d for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
                    if d != now.strftime("%a").lower()]
    tag, _ = make_audience(alpha, 2)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=meta, tags=[tag], timezone="UTC",
                             send_window={"days": closed_today, "start": "00:00", "end": "23:59"})

    waiting = run(alpha, campaign, desk["people"]["admin"], django_capture_on_commit_callbacks)

    assert waiting.status == "running" and fake.accepted == []
    with schema_context(alpha.schema_name):
        assert campaign_send_run(schema_name=alpha.schema_name, campaign_id=campaign.pk) == "outside_window"


def test_a_scheduled_campaign_starts_when_due_and_one_that_cannot_fails(alpha, desk, meta):
    admin = desk["people"]["admin"]
    tag, contacts = make_audience(alpha, 1)
    due = make_campaign(alpha, actor=admin, inbox=meta, tags=[tag])
    gone_tag, gone = make_audience(alpha, 1)
    broken = make_campaign(alpha, actor=admin, inbox=meta, tags=[gone_tag])
    soon = timezone.now() + dt.timedelta(minutes=5)
    with schema_context(alpha.schema_name):
        for campaign in (due, broken):
            services.campaign_schedule(actor=admin, campaign=campaign, scheduled_at=soon)
        contact_update(contact=gone[0], tags=[])  # its audience is empty by the time it is due
        Campaign.objects.filter(pk__in=[due.pk, broken.pk]).update(
            scheduled_at=timezone.now() - dt.timedelta(seconds=1))
        campaigns_sweep.call_local(alpha.schema_name)
        started, failed = Campaign.objects.get(pk=due.pk), Campaign.objects.get(pk=broken.pk)
    assert started.status in ("running", "completed") and started.started_at is not None
    assert failed.status == "failed" and failed.failure_reason.startswith("audience")


def test_a_waiting_reply_goes_before_the_campaigns_next_send():
    schema, inbox = f"fair_{uuid.uuid4().hex[:8]}", 1
    redis = get_redis()
    stop, bulk = threading.Event(), []

    def campaign():
        while not stop.is_set():
            token = uuid.uuid4().hex
            wait = reserve_bulk_slot(redis=redis, schema_name=schema, inbox_id=inbox, per_second=20,
                                     token=token)
            if wait:
                time.sleep(wait)
                continue
            bulk.append(time.monotonic())
            bulk_slot_done(redis=redis, schema_name=schema, inbox_id=inbox, token=token)

    sender = threading.Thread(target=campaign)
    sender.start()
    try:
        time.sleep(1.2)  # the campaign is using the whole budget
        asked = time.monotonic()
        assert wait_for_send_slot(schema_name=schema, inbox_id=inbox, per_second=20, timeout=2)
        waited = time.monotonic() - asked
    finally:
        stop.set()
        sender.join()
    assert len(bulk) >= 20
    assert waited < 0.2  # about one interval (50 ms) and the log's turn, not the campaign's backlog


def test_at_most_the_configured_number_of_senders_work_at_once(settings):
    settings.CAMPAIGN_SENDERS_MAX = 2
    redis = get_redis()
    leases = [SenderLease(redis, f"sem_{uuid.uuid4().hex[:6]}", n) for n in range(3)]
    try:
        got = [lease.acquire() for lease in leases]
        assert got == ["ok", "ok", "full"]
        schema = leases[0].lock.name.split(":")[-2]
        assert SenderLease(redis, schema, 0).acquire() == "busy"  # one sender per campaign
    finally:
        for lease, taken in zip(leases, got, strict=False):
            if taken == "ok":
                lease.release()


def test_a_waiting_campaign_has_one_wake_queued_however_often_it_is_woken(monkeypatch):
    from apps.campaigns import sender, tasks

    scheduled = []
    monkeypatch.setattr(tasks.campaign_send, "schedule", lambda **kw: scheduled.append(kw["eta"]))
    schema = f"wake_{uuid.uuid4().hex[:8]}"
    opening = timezone.now() + dt.timedelta(hours=2)
    for _ in range(5):  # the minute sweep finds it outside its window, again and again
        sender.queue_sender(schema, 1, eta=opening)
    sender.queue_sender(schema, 1, delay=30)  # something due sooner is still queued
    assert len(scheduled) == 2 and scheduled[0] > scheduled[1]
