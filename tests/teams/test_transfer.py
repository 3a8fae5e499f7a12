"""Transfer to an agent or a team, with a reason: the timeline says so and the receiver is notified,
on the API and in the conversation's menu alike (issue 12, "Transfer")."""

import pytest
from django_tenants.utils import schema_context

from apps.accounts.services import user_set_status
from apps.conversations.models import Conversation
from apps.notifications.models import Notification
from apps.teams import services as teams
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor(alpha, api):
    """A Billing team with its supervisor, an available and an offline agent; an agent outside it."""
    people = {
        "sara": make_user(alpha, role="supervisor", name="Sara Supervisor"),
        "ana": make_user(alpha, name="Ana Agent"),
        "olga": make_user(alpha, name="Olga Offline"),
        "bruno": make_user(alpha, name="Bruno Agent"),
    }
    with schema_context(alpha.schema_name):
        user_set_status(user=people["ana"], status="available")
        billing = teams.team_create(actor=None, name="Billing")
        for member in ("sara", "ana", "olga"):
            teams.team_member_set(actor=None, team=billing, user=people[member])
    inbox = make_inbox(alpha)
    conversation_id = receive(alpha, inbox, name="Diego Cliente").conversation_id
    token = api(alpha).login(people["sara"].email)["access"]
    return {**people, "billing": billing, "conversation_id": conversation_id, "api": api(alpha, token=token)}


def _notifications(company, user, kind="transfer"):
    with schema_context(company.schema_name):
        return list(Notification.objects.filter(user=user, kind=kind).values("title", "body", "data"))


def test_an_api_transfer_to_a_team_notifies_its_available_members_with_the_reason(alpha, floor):
    url = f"/api/v1/conversations/{floor['conversation_id']}/transfer"
    response = floor["api"].post(url, {"team_id": floor["billing"].pk, "reason": "Invoice question"})
    assert response.status_code == 200, response.content
    assert response.json()["team_id"] == floor["billing"].pk and response.json()["assignee_id"] is None
    [notice] = _notifications(alpha, floor["ana"])
    assert notice["title"] == "Conversation with Diego Cliente transferred to Billing"
    assert notice["body"] == "Invoice question"
    assert notice["data"]["conversation_id"] == floor["conversation_id"]
    assert notice["data"]["team_id"] == floor["billing"].pk
    # Offline members and people outside the team are not disturbed; nor is who transferred it.
    assert _notifications(alpha, floor["olga"]) == []
    assert _notifications(alpha, floor["bruno"]) == []
    assert _notifications(alpha, floor["sara"]) == []


def test_an_api_transfer_to_an_agent_notifies_that_agent_once(alpha, floor):
    url = f"/api/v1/conversations/{floor['conversation_id']}/transfer"
    moved = floor["api"].post(url, {"agent_id": floor["bruno"].pk, "reason": "Speaks Spanish"})
    assert moved.status_code == 200
    # Transferring again to the one who holds it changes nothing and notifies nobody.
    assert floor["api"].post(url, {"agent_id": floor["bruno"].pk}).status_code == 200
    [notice] = _notifications(alpha, floor["bruno"])
    assert notice["title"] == "Conversation with Diego Cliente transferred to you"
    assert notice["body"] == "Speaks Spanish"


def test_a_team_with_nobody_available_tells_its_supervisors(alpha, floor):
    lead = make_user(alpha, role="supervisor", name="Lia Lead")
    with schema_context(alpha.schema_name):
        user_set_status(user=floor["ana"], status="paused", reason="lunch")
        teams.team_member_set(actor=None, team=floor["billing"], user=lead)
    url = f"/api/v1/conversations/{floor['conversation_id']}/transfer"
    assert floor["api"].post(url, {"team_id": floor["billing"].pk}).status_code == 200
    assert _notifications(alpha, floor["ana"]) == []
    assert len(_notifications(alpha, lead)) == 1


def test_the_notification_speaks_the_receivers_language(alpha, floor):
    with schema_context(alpha.schema_name):
        floor["bruno"].language = "es"
        floor["bruno"].save(update_fields=["language"])
    url = f"/api/v1/conversations/{floor['conversation_id']}/transfer"
    assert floor["api"].post(url, {"agent_id": floor["bruno"].pk}).status_code == 200
    [notice] = _notifications(alpha, floor["bruno"])
    assert notice["title"] == "Conversación con Diego Cliente transferida a ti"


def test_the_conversation_menu_offers_teams_and_the_timeline_shows_the_transfer_with_its_reason(
    alpha, floor,
):
    sara = signed_in(alpha, floor["sara"])
    url = f"/app/c/{floor['conversation_id']}"
    page = sara.get(f"{url}/").content.decode()
    assert f'value="team:{floor["billing"].pk}"' in page and "Team Billing" in page
    assert f'value="agent:{floor["bruno"].pk}"' in page

    moved = sara.post(
        f"{url}/transfer/", {"target": f"team:{floor['billing'].pk}", "reason": "Invoice question"}
    )
    assert moved.status_code == 200 and not moved.get("HX-Retarget")
    assert "Sara Supervisor transferred it to team Billing: Invoice question" in moved.content.decode()
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=floor["conversation_id"])
        assert conversation.team_id == floor["billing"].pk and conversation.status == "queued"
    assert len(_notifications(alpha, floor["ana"])) == 1

    # Ana (a member) now sees it and the notification links to it.
    ana = signed_in(alpha, floor["ana"])
    assert ana.get(f"{url}/").status_code == 200
    assert f'href="/app/c/{floor["conversation_id"]}/"' in ana.get("/app/notifications/").content.decode()


def test_a_bad_transfer_target_is_refused_on_the_page_and_changes_nothing(alpha, floor):
    sara = signed_in(alpha, floor["sara"])
    url = f"/app/c/{floor['conversation_id']}/transfer/"
    for target in ("team:987654", "team:", "nobody", "agent:987654"):
        refused = sara.post(url, {"target": target, "reason": "x"})
        assert refused.status_code == 200 and refused["HX-Retarget"] == "#flash", target
    with schema_context(alpha.schema_name):
        conversation = Conversation.objects.get(pk=floor["conversation_id"])
        assert conversation.team_id is None and conversation.assignee_id is None
        assert not Notification.objects.filter(kind="transfer").exists()


def test_an_agent_who_is_not_the_holder_cannot_move_someone_elses_conversation_to_a_team(alpha, floor):
    bruno = signed_in(alpha, floor["bruno"])
    url = f"/app/c/{floor['conversation_id']}/transfer/"
    refused = bruno.post(url, {"target": f"team:{floor['billing'].pk}", "reason": "not mine"})
    assert refused.status_code == 200 and refused["HX-Retarget"] == "#flash"
    with schema_context(alpha.schema_name):
        assert Conversation.objects.get(pk=floor["conversation_id"]).team_id is None


def test_a_holder_who_hands_it_to_another_team_loses_sight_of_it(alpha, floor):
    with schema_context(alpha.schema_name):
        from apps.conversations.services import conversation_assign

        conversation_assign(conversation=Conversation.objects.get(pk=floor["conversation_id"]),
                            assignee=floor["bruno"], actor=None)
    bruno = signed_in(alpha, floor["bruno"])
    url = f"/app/c/{floor['conversation_id']}"
    moved = bruno.post(f"{url}/transfer/", {"target": f"team:{floor['billing'].pk}", "reason": "billing"})
    assert moved.status_code == 200 and moved["HX-Redirect"] == "/app/"
    assert bruno.get(f"{url}/").status_code == 404
    assert len(_notifications(alpha, floor["ana"])) == 1
