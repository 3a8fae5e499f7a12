"""SPEC §11 notifications that come with this piece: a finished campaign tells its creator in the
creator's language (mentions have their own tests; import finished already did)."""

import pytest
from django_tenants.utils import schema_context

from apps.campaigns import services as campaigns
from apps.notifications.models import Notification
from tests.campaigns.conftest import make_audience, make_campaign
from tests.fixtures.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_finished_campaign_is_announced_to_its_creator_in_their_language(
    alpha, desk, django_capture_on_commit_callbacks
):
    creator = make_user(alpha, role="supervisor", name="Sofía Supervisora")
    with schema_context(alpha.schema_name):
        creator.language = "es"
        creator.save(update_fields=["language"])
    tag, _ = make_audience(alpha, 2)
    campaign = make_campaign(alpha, actor=creator, inbox=desk["inbox"], tags=[tag], name="Rebajas")
    with schema_context(alpha.schema_name), django_capture_on_commit_callbacks(execute=True):
        campaigns.campaign_start(actor=creator, campaign=campaign)
    with schema_context(alpha.schema_name):
        told = list(Notification.objects.filter(user=creator, kind="campaign_finished")
                    .values_list("title", "body"))
    assert told == [("Campaña «Rebajas» terminada", "2 enviados, 0 fallidos, 0 omitidos.")]
