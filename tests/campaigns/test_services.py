"""Campaign services: the transitions of SPEC §9, validation, materialisation and preview."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.campaigns import services
from apps.campaigns.errors import InvalidTransition
from apps.campaigns.materialize import recipients_materialize
from apps.campaigns.models import Campaign, CampaignRecipient
from apps.campaigns.selectors import campaign_preview, campaign_stats
from apps.contacts.services import contact_update
from conversa.errors import Forbidden, ValidationFailed
from tests.campaigns.conftest import make_audience, make_campaign, make_list
from tests.fixtures.contacts import make_custom_field
from tests.fixtures.messaging import make_template

pytestmark = pytest.mark.django_db

S = Campaign.Status
# (from, action) → to, or None when the action must be refused with 409.
TRANSITIONS = [
    (S.DRAFT, "schedule", S.SCHEDULED), (S.DRAFT, "start", S.RUNNING), (S.DRAFT, "pause", None),
    (S.DRAFT, "resume", None), (S.DRAFT, "cancel", S.CANCELLED),
    (S.SCHEDULED, "schedule", None), (S.SCHEDULED, "start", S.RUNNING), (S.SCHEDULED, "pause", None),
    (S.SCHEDULED, "cancel", S.CANCELLED),
    (S.RUNNING, "start", None), (S.RUNNING, "pause", S.PAUSED), (S.RUNNING, "resume", None),
    (S.RUNNING, "cancel", S.CANCELLED), (S.RUNNING, "schedule", None),
    (S.PAUSED, "resume", S.RUNNING), (S.PAUSED, "pause", None), (S.PAUSED, "start", None),
    (S.PAUSED, "cancel", S.CANCELLED),
    (S.COMPLETED, "start", None), (S.COMPLETED, "pause", None), (S.COMPLETED, "resume", None),
    (S.COMPLETED, "cancel", None), (S.COMPLETED, "schedule", None),
    (S.CANCELLED, "start", None), (S.CANCELLED, "resume", None), (S.CANCELLED, "cancel", None),
    (S.FAILED, "start", None), (S.FAILED, "resume", None), (S.FAILED, "cancel", None),
]


def _act(action, campaign, actor):
    if action == "schedule":
        return services.campaign_schedule(actor=actor, campaign=campaign,
                                          scheduled_at=timezone.now() + dt.timedelta(hours=1))
    return getattr(services, f"campaign_{action}")(actor=actor, campaign=campaign)


@pytest.mark.parametrize(("start", "action", "expected"), TRANSITIONS)
def test_transitions_follow_the_spec_and_refuse_the_rest_with_409(alpha, desk, start, action, expected):
    manager = desk["people"]["supervisor"]
    tag, _ = make_audience(alpha, 1)
    campaign = make_campaign(alpha, actor=manager, inbox=desk["inbox"], tags=[tag])
    with schema_context(alpha.schema_name):
        Campaign.objects.filter(pk=campaign.pk).update(status=start)
        if expected is None:
            with pytest.raises(InvalidTransition) as refused:
                _act(action, campaign, manager)
            assert refused.value.status == 409 and refused.value.code == "invalid_transition"
            assert Campaign.objects.get(pk=campaign.pk).status == start
        else:
            assert _act(action, campaign, manager).status == expected
            assert Campaign.objects.get(pk=campaign.pk).status == expected


def test_agents_may_not_build_campaigns(alpha, desk):
    tag, _ = make_audience(alpha, 1)
    with pytest.raises(Forbidden):
        make_campaign(alpha, actor=desk["people"]["agent"], inbox=desk["inbox"], tags=[tag])


@pytest.mark.parametrize(("fields", "field"), [
    ({"audience": {"list_ids": [999999]}}, "audience.list_ids"),
    ({"audience": {"segment_id": 999999}}, "audience.segment_id"),
    ({"text": "Hi {{contact.nickname}}"}, "message.text"),
    ({"text": "Hi {{contact.custom.unknown}}"}, "message.text"),
    ({"text": ""}, "message.text"),
    ({"message": {"template": {"name": "nope", "language": "en", "variables": []}}}, "message.template.name"),
    ({"scheduled_at": "2020-01-01T10:00:00"}, "scheduled_at"),
    ({"scheduled_at": (timezone.now() + dt.timedelta(days=400)).isoformat()}, "scheduled_at"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"send_window": {"days": ["mon"], "start": "18:00", "end": "09:00"}}, "send_window.end"),
    ({"send_window": {"days": ["someday"], "start": "09:00", "end": "18:00"}}, "send_window.days"),
    ({"rate_per_second": 0}, "rate_per_second"),
    ({"media_id": 999999}, "media_id"),
])
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(alpha, desk, fields, field):
    tag, _ = make_audience(alpha, 1)
    with schema_context(alpha.schema_name):
        before = Campaign.objects.count()
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag], **fields)
    assert refused.value.details[0]["field"] == field
    with schema_context(alpha.schema_name):
        assert Campaign.objects.count() == before


def test_an_empty_audience_is_refused(alpha, desk):
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=["nobody-has-this"])
    assert refused.value.details[0]["field"] == "audience"


def test_a_template_needs_its_number_of_variables(alpha, desk):
    make_template(alpha, desk["inbox"], name="promo", body="Hi {{1}}, {{2}} off!")
    tag, _ = make_audience(alpha, 1)
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag], message={
            "template": {"name": "promo", "language": "en", "variables": ["{{contact.first_name}}"]}})
    assert refused.value.details[0]["field"] == "message.template.variables"


def test_materialisation_is_unique_per_contact_counts_skipped_and_runs_once(alpha, desk):
    tag, contacts = make_audience(alpha, 6)
    listed = make_list(alpha, contacts[:4])  # in the list and tagged: still one recipient
    with schema_context(alpha.schema_name):
        contact_update(contact=contacts[0], opted_out=True)
        contact_update(contact=contacts[1], blocked=True)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag],
                             audience={"list_ids": [listed.pk]})
    with schema_context(alpha.schema_name):
        assert recipients_materialize(campaign_id=campaign.pk) == 6
        assert recipients_materialize(campaign_id=campaign.pk) is None  # a retried start adds nobody
        Campaign.objects.filter(pk=campaign.pk).update(materialized_at=None)
        assert recipients_materialize(campaign_id=campaign.pk) == 0  # and the constraint holds anyway
        stats = campaign_stats(campaign.pk)
        reasons = dict(CampaignRecipient.objects.filter(campaign=campaign, status="skipped")
                       .values_list("contact_id", "reason"))
    assert stats == {"total": 6, "queued": 4, "sent": 0, "delivered": 0, "read": 0, "failed": 0, "skipped": 2}
    assert reasons == {contacts[0].pk: "opted_out", contacts[1].pk: "blocked"}


def test_preview_fills_contact_and_custom_variables(alpha, desk):
    make_custom_field(alpha, key="plan")
    tag, contacts = make_audience(alpha, 1, custom_fields={"plan": "Gold"})
    campaign = make_campaign(
        alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag],
        text="Hi {{contact.first_name}} ({{ contact.name }}, {{contact.phone}}): {{contact.custom.plan}}",
    )
    with schema_context(alpha.schema_name):
        preview = campaign_preview(desk["people"]["admin"], campaign, contact_id=contacts[0].pk)
    assert preview == {"text": f"Hi Client (Client 0 Smith, {contacts[0].phone}): Gold"}


def test_duplicate_is_a_new_draft_with_the_same_message(alpha, desk):
    tag, _ = make_audience(alpha, 1)
    campaign = make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag],
                             rate_per_second=5)
    with schema_context(alpha.schema_name):
        services.campaign_cancel(actor=desk["people"]["admin"], campaign=campaign)
        copy = services.campaign_duplicate(actor=desk["people"]["admin"], campaign=campaign)
    assert copy.pk != campaign.pk and copy.status == S.DRAFT
    assert (copy.text, copy.audience, copy.rate_per_second) == (campaign.text, campaign.audience, 5)


@pytest.mark.parametrize(("language", "expected"), [
    ("es", "Variable desconocida {{contact.nickname}}."),
    ("pt-br", "Variável desconhecida {{contact.nickname}}."),
])
def test_errors_speak_the_users_language(alpha, desk, language, expected):
    from django.utils import translation

    tag, _ = make_audience(alpha, 1)
    with translation.override(language), pytest.raises(ValidationFailed) as refused:
        make_campaign(alpha, actor=desk["people"]["admin"], inbox=desk["inbox"], tags=[tag],
                      text="Hi {{contact.nickname}}")
    assert refused.value.details[0]["message"] == expected
    with translation.override(language):
        assert str(Campaign.Status.DRAFT.label) in ("Borrador", "Rascunho")
