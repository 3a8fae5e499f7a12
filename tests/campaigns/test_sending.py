"""The sender in-process (tasks inline, sandbox provider): every recipient once, the outbound limit,
provider statuses, opt-out replies and replies linked to the campaign."""

import datetime as dt
import random

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.campaigns import services
from apps.campaigns.events import CAMPAIGN_PROGRESS, campaign_progress_frame
from apps.campaigns.listeners import recipients_apply_statuses
from apps.campaigns.models import Campaign, CampaignRecipient
from apps.campaigns.sender import recipients_settle_unsettled
from apps.contacts.models import Contact
from apps.contacts.services import contact_update
from apps.conversations.models import DELIVERY_UNKNOWN, TimelineEvent
from apps.notifications.models import Notification
from apps.web.templatetags.web_tags import event_text
from conversa import events
from conversa.events import Event
from tenants.services import company_change_plan, plan_create
from tests.campaigns.conftest import make_audience, make_campaign
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db


def start(company, campaign, actor, capture):
    with schema_context(company.schema_name), capture(execute=True):
        services.campaign_start(actor=actor, campaign=campaign)
    with schema_context(company.schema_name):
        return Campaign.objects.get(pk=campaign.pk)


def test_a_started_campaign_sends_each_recipient_once_and_completes(
    alpha, desk, django_capture_on_commit_callbacks, monkeypatch,
):
    tag, contacts = make_audience(alpha, 5)
    with schema_context(alpha.schema_name):
        contact_update(contact=contacts[0], opted_out=True)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag])
    seen = []
    real_dispatch = events.dispatch
    monkeypatch.setattr(events, "dispatch", lambda event: (seen.append(event), real_dispatch(event)))

    done = start(alpha, campaign, desk["people"]["admin"], django_capture_on_commit_callbacks)

    assert done.status == Campaign.Status.COMPLETED and done.completed_at is not None
    with schema_context(alpha.schema_name):
        rows = list(CampaignRecipient.objects.filter(campaign=campaign).values_list(
            "status", "attempts", "provider_message_id"))
        frame, audience = campaign_progress_frame(Event(CAMPAIGN_PROGRESS, alpha.schema_name,
                                                        {"campaign_id": campaign.pk}))
    assert sorted(status for status, _, _ in rows) == ["sent"] * 4 + ["skipped"]
    assert all(attempts == 1 and provider_id for status, attempts, provider_id in rows if status == "sent")
    assert frame == {"id": campaign.pk, "status": "completed", "total": 5, "queued": 0, "sent": 4,
                     "delivered": 0, "read": 0, "failed": 0, "skipped": 1}
    assert sorted(audience) == ["admins", "supervisors"]
    assert [e.name for e in seen].count(CAMPAIGN_PROGRESS) >= 3  # started, while sending, completed
    with schema_context(alpha.schema_name):
        told = list(Notification.objects.filter(user=desk["people"]["admin"], kind="campaign_finished")
                    .values_list("title", "body"))
    assert told == [("Campaign “Spring sale” finished", "4 sent, 0 failed, 1 skipped.")]


def test_the_monthly_outbound_limit_pauses_the_campaign_and_tells_its_creator(
    make_company, django_capture_on_commit_callbacks,
):
    company = make_company()
    code = f"tiny-{random.randrange(10**9)}"
    plan_create(code=code, name="Tiny", max_monthly_outbound_messages=3, campaigns=True)
    company = company_change_plan(company=company, plan_code=code)
    creator = make_user(company, role="supervisor")
    inbox = make_inbox(company, rate=80)
    tag, _ = make_audience(company, 5)
    campaign = make_campaign(company, actor=creator, inbox=inbox, tags=[tag])

    paused = start(company, campaign, creator, django_capture_on_commit_callbacks)

    assert paused.status == Campaign.Status.PAUSED
    assert paused.pause_reason == Campaign.PauseReason.OUTBOUND_LIMIT
    with schema_context(company.schema_name):
        sent = CampaignRecipient.objects.filter(campaign=campaign, status="sent").count()
        notes = list(Notification.objects.filter(user=creator).values_list("kind", "data"))
    assert sent == 3
    assert notes == [("campaign_paused", {"campaign_id": campaign.pk, "reason": "outbound_limit"})]


def _recipient(company, campaign, **fields):
    with schema_context(company.schema_name):
        recipient = CampaignRecipient.objects.filter(campaign=campaign).first()
        CampaignRecipient.objects.filter(pk=recipient.pk).update(**fields)
        return CampaignRecipient.objects.get(pk=recipient.pk)


def _status(inbox, recipient, status, *, provider_id="", with_key=True, error=""):
    return {"inbox_id": inbox.pk, "provider_message_id": provider_id,
            "send_key": str(recipient.send_key) if with_key else "", "status": status,
            "timestamp": timezone.now().isoformat(), "error_code": error, "error_message": ""}


def test_provider_statuses_settle_a_send_left_in_doubt_and_never_move_backwards(alpha, desk):
    tag, _ = make_audience(alpha, 1)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag])
    with schema_context(alpha.schema_name):
        from apps.campaigns.materialize import recipients_materialize
        recipients_materialize(campaign_id=campaign.pk)
    recipient = _recipient(alpha, campaign, status="sending", attempts=1)
    inbox = desk["inbox"]

    with schema_context(alpha.schema_name):
        recipients_apply_statuses([_status(inbox, recipient, "delivered", provider_id="wamid.X")])
        recipients_apply_statuses([_status(inbox, recipient, "sent", provider_id="wamid.X", with_key=False)])
        settled = CampaignRecipient.objects.get(pk=recipient.pk)
    assert (settled.status, settled.provider_message_id) == ("delivered", "wamid.X")
    assert settled.sent_at is not None and settled.delivered_at is not None


def test_a_send_nobody_heard_of_is_queued_again_then_given_up(alpha, desk):
    tag, _ = make_audience(alpha, 1)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag])
    with schema_context(alpha.schema_name):
        from apps.campaigns.materialize import recipients_materialize
        recipients_materialize(campaign_id=campaign.pk)
    past = timezone.now() - dt.timedelta(seconds=1)
    recipient = _recipient(alpha, campaign, status="sending", attempts=1, claimed_until=past)
    with schema_context(alpha.schema_name):
        assert recipients_settle_unsettled(campaign_id=campaign.pk) == {"requeued": 1, "failed": 0}
        assert CampaignRecipient.objects.get(pk=recipient.pk).status == "queued"
        CampaignRecipient.objects.filter(pk=recipient.pk).update(status="sending", attempts=3,
                                                                 claimed_until=past)
        assert recipients_settle_unsettled(campaign_id=campaign.pk) == {"requeued": 0, "failed": 1}
        gone = CampaignRecipient.objects.get(pk=recipient.pk)
        assert (gone.status, gone.reason) == ("failed", DELIVERY_UNKNOWN)
        # the provider's word, late, still wins over our doubt
        recipients_apply_statuses([_status(desk["inbox"], gone, "read", provider_id="wamid.Y")])
        assert CampaignRecipient.objects.get(pk=recipient.pk).status == "read"


@pytest.mark.parametrize("text", ["STOP", " stop ", "Parar", "BAJA!", "baja."])
def test_an_opt_out_word_alone_opts_the_contact_out(alpha, desk, text, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, desk["inbox"], text=text)
    with schema_context(alpha.schema_name):
        assert Contact.objects.get(pk=message.conversation.contact_id).opted_out


@pytest.mark.parametrize("text", ["please stop calling at night", "stopping by later", "¿baja el precio?"])
def test_other_messages_do_not_opt_out(alpha, desk, text, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = receive(alpha, desk["inbox"], text=text)
    with schema_context(alpha.schema_name):
        assert not Contact.objects.get(pk=message.conversation.contact_id).opted_out


def test_a_reply_lands_as_a_conversation_linked_to_the_campaign(
    alpha, desk, django_capture_on_commit_callbacks,
):
    tag, contacts = make_audience(alpha, 2)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag],
                             text="Hello {{contact.first_name}}, 20% off today")
    start(alpha, campaign, desk["people"]["admin"], django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        reply = receive(alpha, desk["inbox"], phone=contacts[1].phone, text="Interested!")

    with schema_context(alpha.schema_name):
        recipient = CampaignRecipient.objects.get(campaign=campaign, contact=contacts[1])
        entry = TimelineEvent.objects.get(conversation_id=reply.conversation_id, kind="campaign_reply")
        other = CampaignRecipient.objects.get(campaign=campaign, contact=contacts[0])
    assert recipient.conversation_id == reply.conversation_id and recipient.replied_at is not None
    assert entry.data == {"campaign_id": campaign.pk, "campaign_name": "Spring sale",
                          "text": "Hello Client, 20% off today"}
    assert other.conversation_id is None
    assert event_text(entry) == "Reply to the campaign “Spring sale”, which said: Hello Client, 20% off today"
