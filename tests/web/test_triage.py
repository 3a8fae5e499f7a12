"""The inbox built for triage through Django's test client: a reply takes the conversation, the tab
one lands on, the team filter and "My teams" (the API's selector, with its visibility rule)."""

import pytest
from django_tenants.utils import schema_context

from apps.audit.models import AuditLog
from apps.conversations.models import Conversation, TimelineEvent
from apps.conversations.services import conversation_assign, conversation_transfer
from apps.teams.models import Team, TeamMember
from tenants.models import Company
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(alpha):
    inbox = make_inbox(alpha)
    return {"inbox": inbox, "admin": make_user(alpha, role="admin"), "ana": make_user(alpha, name="Ana"),
            "bruno": make_user(alpha, name="Bruno")}


def conversation(company, pk) -> Conversation:
    with schema_context(company.schema_name):
        return Conversation.objects.get(pk=pk)


# --- a reply assigns ----------------------------------------------------------------------------

def test_replying_to_an_unassigned_conversation_assigns_it_to_the_replier(alpha, desk):
    pk = receive(alpha, desk["inbox"], text="Anyone there?").conversation_id
    ana = signed_in(alpha, desk["ana"])
    assert ana.post(f"/app/c/{pk}/send/", {"text": "Yes, Ana here"}).status_code == 200
    taken = conversation(alpha, pk)
    assert taken.assignee_id == desk["ana"].pk and taken.status == "open"
    with schema_context(alpha.schema_name):
        assert TimelineEvent.objects.filter(conversation_id=pk, kind="assigned").count() == 1
    # Now it is Ana's, in her "Mine" tab.
    assert "Yes, Ana here" in ana.get("/app/?tab=mine").content.decode()


def test_a_reply_never_takes_a_conversation_someone_else_holds(alpha, desk):
    pk = receive(alpha, desk["inbox"], text="Hi").conversation_id
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=Conversation.objects.get(pk=pk), assignee=desk["bruno"], actor=None)
    admin = signed_in(alpha, desk["admin"])
    assert admin.post(f"/app/c/{pk}/send/", {"text": "Admin chiming in"}).status_code == 200
    assert conversation(alpha, pk).assignee_id == desk["bruno"].pk


def test_an_admin_can_turn_reply_assignment_off_and_an_agent_cannot(alpha, desk):
    ana, admin = signed_in(alpha, desk["ana"]), signed_in(alpha, desk["admin"])
    assert ana.post("/app/settings/conversations/", {}).status_code == 404
    page = admin.get("/app/settings/branding/").content.decode()
    assert 'name="reply_assigns" checked' in page
    try:
        assert admin.post("/app/settings/conversations/", {}).status_code == 302
        with schema_context("public"):
            assert Company.objects.get(pk=alpha.pk).reply_assigns is False
        assert 'name="reply_assigns" >' in admin.get("/app/settings/branding/").content.decode()
        with schema_context(alpha.schema_name):
            assert AuditLog.objects.filter(action="company.settings_changed", actor=desk["admin"]).exists()
        pk = receive(alpha, desk["inbox"], text="Hello?").conversation_id
        assert ana.post(f"/app/c/{pk}/send/", {"text": "Hi!"}).status_code == 200
        left = conversation(alpha, pk)
        assert left.assignee_id is None and left.status == "open"
    finally:
        with schema_context("public"):
            Company.objects.filter(pk=alpha.pk).update(reply_assigns=True)
    assert admin.post("/app/settings/conversations/", {"reply_assigns": "on"}).status_code == 302


# --- the tab one lands on -------------------------------------------------------------------------

def checked_tab(html: str) -> str:
    import re

    return re.search(r'name="tab" value="(\w+)" checked', html).group(1)


def test_an_agent_with_nothing_of_their_own_lands_on_the_unassigned_work(alpha, desk):
    receive(alpha, desk["inbox"], text="Waiting", name="Wanda Waiting")
    ana = signed_in(alpha, desk["ana"])
    page = ana.get("/app/").content.decode()
    assert checked_tab(page) == "unassigned" and "Wanda Waiting" in page


def test_the_last_tab_is_remembered_while_it_has_work(alpha, desk):
    pk = receive(alpha, desk["inbox"], text="Mine soon").conversation_id
    receive(alpha, desk["inbox"], text="Still waiting")
    with schema_context(alpha.schema_name):
        conversation_assign(conversation=Conversation.objects.get(pk=pk), assignee=desk["ana"], actor=None)
    ana = signed_in(alpha, desk["ana"])
    assert checked_tab(ana.get("/app/").content.decode()) == "mine"
    assert checked_tab(ana.get("/app/?tab=all").content.decode()) == "all"
    assert checked_tab(ana.get("/app/").content.decode()) == "all"


def test_the_unread_badge_says_what_it_counts(alpha, desk):
    receive(alpha, desk["inbox"], text="Unread one")
    page = signed_in(alpha, desk["ana"]).get("/app/?tab=unassigned").content.decode()
    badge = page[page.index('data-unread="unassigned"'):]
    assert "unread" in badge[:200]


# --- teams ----------------------------------------------------------------------------------------

@pytest.fixture
def teams(alpha, desk):
    with schema_context(alpha.schema_name):
        sales, support = Team.objects.create(name="Sales"), Team.objects.create(name="Helpdesk")
        TeamMember.objects.create(team=sales, user=desk["ana"])
        TeamMember.objects.create(team=support, user=desk["bruno"])
    ids = {}
    for name, team in (("Sam Sales", sales), ("Sue Support", support), ("Nora Noteam", None)):
        pk = receive(alpha, desk["inbox"], text="hello", name=name).conversation_id
        ids[name] = pk
        if team is not None:
            with schema_context(alpha.schema_name):
                conversation_transfer(conversation=Conversation.objects.get(pk=pk), actor=None, team=team)
    return {"sales": sales, "support": support, "ids": ids}


def test_my_teams_tab_lists_the_conversations_of_the_agents_teams_only(alpha, desk, teams):
    page = signed_in(alpha, desk["ana"]).get("/app/?tab=teams").content.decode()
    assert "Sam Sales" in page and "Sue Support" not in page and "Nora Noteam" not in page
    assert 'data-count="teams"' in page


def test_the_team_filter_narrows_the_list_and_offers_only_ones_own_teams(alpha, desk, teams):
    ana = signed_in(alpha, desk["ana"])
    page = ana.get(f"/app/?tab=all&team={teams['sales'].pk}").content.decode()
    assert "Sam Sales" in page and "Nora Noteam" not in page
    assert ">Sales</option>" in page and ">Helpdesk</option>" not in page
    page = ana.get("/app/?tab=all&team=none").content.decode()
    assert "Nora Noteam" in page and "Sam Sales" not in page
    # Another team's id shows nothing: the filter narrows what the visibility rule allows.
    page = ana.get(f"/app/?tab=all&team={teams['support'].pk}").content.decode()
    assert "Sue Support" not in page
    admin = signed_in(alpha, desk["admin"]).get(f"/app/?tab=all&team={teams['support'].pk}").content.decode()
    assert "Sue Support" in admin and ">Helpdesk</option>" in admin


def test_an_agent_without_teams_has_no_my_teams_tab(alpha, desk):
    loner = make_user(alpha)
    assert 'value="teams"' not in signed_in(alpha, loner).get("/app/").content.decode()



# --- in Spanish and Portuguese ------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["es", "pt-BR"])
def test_the_triage_screens_have_no_english(alpha, desk, teams, language):
    from apps.contacts.services import contact_create
    from tests.fixtures.messaging import make_template, new_phone
    from tests.web.test_i18n import LANGUAGES, EnglishFinder, english_on, english_strings, require_compiled

    directory = LANGUAGES[language]
    require_compiled(directory)
    finder = EnglishFinder(english_strings(directory))
    make_template(alpha, desk["inbox"])
    with schema_context(alpha.schema_name):
        contact = contact_create(phone=new_phone(), name="Joana Lima", tags=["atacado"])
    agent = signed_in(alpha, desk["ana"])
    assert agent.post("/app/profile/", {"name": "Ana", "language": language}).status_code == 200
    admin = signed_in(alpha, desk["admin"])
    assert admin.post("/app/profile/", {"name": "Alice", "language": language}).status_code == 200
    pk = teams["ids"]["Sam Sales"]
    pages = {
        "inbox": agent.get("/app/"),
        "my teams": agent.get(f"/app/?tab=teams&team={teams['sales'].pk}"),
        "contacts": agent.get("/app/contacts/"),
        "no contacts": agent.get("/app/contacts/?q=ninguem-aqui"),
        "contact": agent.get(f"/app/contacts/{contact.pk}/"),
        "dialog": agent.get("/app/new/"),
        "dialog choices": agent.get("/app/new/contacts/?contact_q=zzz"),
        "dialog refused": agent.post("/app/new/", {"inbox_id": desk["inbox"].pk, "phone": "12",
                                                   "var1": "a", "var2": "b"}),
        "conversation": agent.get(f"/app/c/{pk}/"),
        "branding": admin.get("/app/settings/branding/"),
    }
    assert {"es": "Mis equipos", "pt-BR": "Minhas equipes"}[language] in pages["inbox"].content.decode()
    english = {name: sorted(english_on(page.content.decode(), finder)) for name, page in pages.items()}
    english = {name: found for name, found in english.items() if found}
    assert not english, english
