"""`seed_demo` leaves a published welcome bot on the sandbox inbox, once: a menu, a question, a
hand-off to the team the customer chose."""

import io

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.flows.models import Flow
from apps.flows.simulate import simulate
from apps.inboxes.models import Inbox
from apps.teams.models import Team
from tenants.models import Company

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_published_menu_question_handoff_flow(companies):
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    demo = Company.objects.get(slug="demo")
    with schema_context(demo.schema_name):
        [flow] = Flow.objects.select_related("published_version")
        inbox = Inbox.objects.get(pk=flow.trigger_inbox_id)
        sales = Team.objects.get(name="Sales").pk
        played = simulate(
            flow.published_version.graph, inputs=["1", "ana@example.com"], contact={"name": "Ana Lima"}
        )
    assert (flow.trigger_type, inbox.provider, flow.published_version.number) == (
        "new_conversation",
        "sandbox",
        1,
    )
    assert played["path"] == ["welcome", "menu", "ask_email", "to_sales"]
    assert (played["ended_by"], played["handoff_team_id"]) == ("handoff", sales)
    assert played["transcript"][0]["text"] == "Hi Ana! Welcome to Demo Company."
