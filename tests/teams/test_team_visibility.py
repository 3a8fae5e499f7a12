"""Isolation of the teams doors (issue 12, acceptance 1): another company never reaches our teams, and
an agent of team A never sees a conversation of team B on any door (API, UI, websocket, media)."""

import io

import pytest
from django_tenants.utils import schema_context

from apps.conversations import outbound
from apps.conversations.models import Conversation
from apps.conversations.selectors import conversation_audience
from apps.conversations.services import conversation_transfer
from apps.media import services as media_services
from apps.media.models import MediaFile
from apps.teams.models import Team
from apps.teams.services import team_create, team_delete, team_member_set
from conversa.files.sniffing import sniff_file
from conversa.realtime import topics
from conversa.realtime.audiences import audiences_of
from tests.fixtures.factories import make_api_key, make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


def _attach_file(company, conversation: Conversation) -> int:
    data = io.BytesIO(b"boleto 2041\n" * 20)
    media = media_services._quarantine(
        fileobj=data, size=len(data.getvalue()), sniffed=sniff_file(data, filename="boleto.txt"),
        filename="boleto.txt", source=MediaFile.Source.UPLOAD,
    )
    media_services.media_mark_clean(media=media)
    outbound.message_send(conversation=conversation, author=None, media_id=media.pk)
    return media.pk


@pytest.fixture
def two_teams(alpha, api):
    """Teams Vendas (agent Ana) and Cobrança (agent Bruno), each with an unassigned conversation in
    its queue that carries a file."""
    inbox = make_inbox(alpha)
    ana, bruno = make_user(alpha, name="Ana Vendas"), make_user(alpha, name="Bruno Cobranca")
    found = {"ana": ana, "bruno": bruno, "conversations": {}, "files": {}}
    with schema_context(alpha.schema_name):
        for key, name, member in (("a", "Vendas", ana), ("b", "Cobrança", bruno)):
            team = team_create(actor=None, name=name)
            team_member_set(actor=None, team=team, user=member)
            found[f"team_{key}"] = team
    for key in ("a", "b"):
        conversation_id = receive(alpha, inbox, name=f"Cliente {key.upper()}").conversation_id
        with schema_context(alpha.schema_name):
            conversation = Conversation.objects.get(pk=conversation_id)
            conversation_transfer(conversation=conversation, actor=None, team=found[f"team_{key}"])
            found["files"][key] = _attach_file(alpha, conversation)
        found["conversations"][key] = conversation_id
    found["ana_api"] = api(alpha, token=api(alpha).login(ana.email)["access"])
    return found


def test_an_agent_of_team_a_never_sees_team_bs_conversation_on_the_api(two_teams):
    ana, theirs, mine = two_teams["ana_api"], two_teams["conversations"]["b"], two_teams["conversations"]["a"]
    listed = {c["id"] for c in ana.get("/api/v1/conversations?limit=100").json()["items"]}
    assert mine in listed and theirs not in listed
    by_team = ana.get(f"/api/v1/conversations?team={two_teams['team_b'].pk}").json()["items"]
    assert by_team == []
    file_b = two_teams["files"]["b"]
    for path in (f"/api/v1/conversations/{theirs}", f"/api/v1/conversations/{theirs}/messages",
                 f"/api/v1/media/{file_b}", f"/api/v1/media/{file_b}/download"):
        assert ana.get(path).status_code == 404, path
    taking = ana.post(f"/api/v1/conversations/{theirs}/assign", {"assignee_id": two_teams["ana"].pk})
    assert taking.status_code == 404
    # Her own team's conversation and file are hers to see.
    assert ana.get(f"/api/v1/conversations/{mine}").status_code == 200
    assert ana.get(f"/api/v1/media/{two_teams['files']['a']}").status_code == 200


def test_an_agent_of_team_a_never_sees_team_bs_conversation_in_the_ui(alpha, two_teams):
    browser = signed_in(alpha, two_teams["ana"])
    theirs, mine = two_teams["conversations"]["b"], two_teams["conversations"]["a"]
    for tab in ("unassigned", "all"):
        page = browser.get(f"/app/?tab={tab}&status=any").content.decode()
        assert f'data-id="{mine}"' in page and f'data-id="{theirs}"' not in page, tab
        assert "Cliente B" not in page
    assert browser.get(f"/app/c/{theirs}/").status_code == 404
    assert browser.get(f"/app/c/{theirs}/row/").content == b""
    assert browser.post(f"/app/c/{theirs}/assign_me/").status_code == 404
    assert browser.get(f"/app/media/{two_teams['files']['b']}/original/").status_code == 404
    assert browser.get(f"/app/c/{mine}/").status_code == 200


def test_an_agent_of_team_a_receives_no_frame_of_team_bs_conversation(alpha, two_teams):
    ana = two_teams["ana"]
    theirs, mine = two_teams["conversations"]["b"], two_teams["conversations"]["a"]
    assert not topics.authorize(alpha.schema_name, ana.pk, "conversation", str(theirs))
    assert topics.authorize(alpha.schema_name, ana.pk, "conversation", str(mine))
    with schema_context(alpha.schema_name):
        groups = set(audiences_of(ana))
        assert not groups & set(conversation_audience(Conversation.objects.get(pk=theirs)))
        assert groups & set(conversation_audience(Conversation.objects.get(pk=mine)))


def test_joining_team_b_opens_its_queue_to_the_agent(alpha, two_teams, api):
    """The other side of the rule: membership, not anything else, is what keeps it out of reach."""
    with schema_context(alpha.schema_name):
        team_member_set(actor=None, team=two_teams["team_b"], user=two_teams["ana"])
    ana = api(alpha, token=api(alpha).login(two_teams["ana"].email)["access"])
    assert ana.get(f"/api/v1/conversations/{two_teams['conversations']['b']}").status_code == 200


def test_another_companys_admin_never_reaches_our_teams(alpha, bravo, api, two_teams):
    with schema_context(alpha.schema_name):
        alphas = set(Team.objects.values_list("pk", flat=True))
    with schema_context(bravo.schema_name):
        # Ids are per schema: bravo's team must not share an id with one of alpha's to mean anything.
        theirs = team_create(actor=None, name="Bravo Sales")
        while theirs.pk in alphas:
            team_delete(actor=None, team=theirs)
            theirs = team_create(actor=None, name="Bravo Sales")
    stranger = make_user(bravo, role="admin")
    token = api(bravo).login(stranger.email)["access"]
    alpha_host, own_host = api(alpha, token=token), api(bravo, token=token)
    ours = two_teams["team_a"].pk
    # Its token is bound to bravo: refused on alpha's host, whatever the route.
    for call in (lambda c: c.get("/api/v1/teams"), lambda c: c.get(f"/api/v1/teams/{ours}"),
                 lambda c: c.patch(f"/api/v1/teams/{ours}", {"name": "Taken"}),
                 lambda c: c.delete(f"/api/v1/teams/{ours}"),
                 lambda c: c.post(f"/api/v1/teams/{ours}/members", {"user_id": stranger.pk})):
        response = call(alpha_host)
        assert response.status_code == 401 and response.json()["error"]["code"] == "token_invalid"
    # Nor does its API key (a key works only on its own company's host).
    _key, secret = make_api_key(bravo, scopes=("conversations:read",))
    for path in ("/api/v1/teams", f"/api/v1/teams/{ours}"):
        assert api(alpha, headers={"X-Api-Key": secret}).get(path).status_code == 401
    assert api(bravo, headers={"X-Api-Key": secret}).get(f"/api/v1/teams/{ours}").status_code == 404
    # On its own host our teams do not exist; its list holds only its own.
    assert [t["name"] for t in own_host.get("/api/v1/teams").json()["items"]] == ["Bravo Sales"]
    with schema_context(bravo.schema_name):
        assert not Team.objects.filter(pk=ours).exists()
    assert own_host.get(f"/api/v1/teams/{ours}").status_code == 404
    assert own_host.delete(f"/api/v1/teams/{ours}").status_code == 404
    # And bravo's team ids mean nothing on alpha, for alpha's own admin either.
    admin = api(alpha, token=api(alpha).login(f"admin@{alpha.slug}.example.com")["access"])
    assert admin.get(f"/api/v1/teams/{theirs.pk}").status_code == 404
    joining = admin.post(f"/api/v1/teams/{theirs.pk}/members", {"user_id": two_teams["ana"].pk})
    assert joining.status_code == 404
    transfer = admin.post(f"/api/v1/conversations/{two_teams['conversations']['a']}/transfer",
                          {"team_id": theirs.pk})
    assert transfer.status_code == 404
    with schema_context(alpha.schema_name):
        assert Team.objects.get(pk=ours).name == "Vendas"
        assert Conversation.objects.get(pk=two_teams["conversations"]["a"]).team_id == ours
