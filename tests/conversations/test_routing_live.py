"""Auto-assignment end to end: a signed webhook, the server, a Huey worker and an agent's socket."""

import pytest
from django_tenants.utils import schema_context

from apps.inboxes.models import Inbox
from tests.fakes import webhooks
from tests.fixtures.live_tenant import PHONE_NUMBER_ID, socket_frames
from tests.fixtures.routing import make_agent, make_team

pytestmark = [pytest.mark.live]


def test_a_customer_writing_to_a_routed_inbox_lands_on_an_available_members_screen(tenant, fake, worker):
    inbox = tenant.meta_inbox(fake)
    team = make_team(tenant.company)
    ana = make_agent(tenant.company, team)
    elsewhere = make_agent(tenant.company, make_team(tenant.company))
    with schema_context(tenant.company.schema_name):
        Inbox.objects.filter(pk=inbox["id"]).update(default_team=team)
    body = webhooks.meta_text_message(PHONE_NUMBER_ID, "5511987651234", "Where is my order?", name="Rui")

    frames = socket_frames(
        tenant, tenant.login(ana.email), lambda: tenant.post_meta(inbox["id"], body),
        want="conversation.assigned", timeout=10,
    )

    assigned = [frame["data"] for frame in frames if frame["type"] == "conversation.assigned"]
    assert assigned and assigned[0]["assignee_id"] == ana.pk
    assert (assigned[0]["status"], assigned[0]["team_id"]) == ("open", team.pk)
    conversation_id = assigned[0]["id"]
    shown = tenant.api("get", f"/conversations/{conversation_id}", token=tenant.login(ana.email))
    assert shown.status_code == 200 and shown.json()["assignee_id"] == ana.pk
    # An available agent of another team was never a candidate, and never sees it.
    other = tenant.login(elsewhere.email)
    assert tenant.api("get", f"/conversations/{conversation_id}", token=other).status_code == 404
