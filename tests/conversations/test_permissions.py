"""Every action × role × door gets the verdict of one rule table (SPEC §3, issue 11).

The expected verdicts are written here from the product's rules, not computed by the code under
test: agents see conversations assigned to them and unassigned ones; supervisors and admins see
all; a conversation someone may not see is 404 on every door; handing a conversation to someone
else is for its holder, supervisors and admins. The API, the agents' UI and the websocket must agree.
"""

import io

import pytest
from django.db import connection, transaction
from django_tenants.utils import schema_context

from apps.conversations import outbound
from apps.conversations.models import Conversation
from apps.conversations.selectors import conversation_audience
from apps.conversations.services import conversation_assign
from apps.media import services as media_services
from apps.media.models import MediaFile
from apps.teams.models import Team
from apps.teams.services import team_create
from conversa.files.sniffing import sniff_file
from conversa.realtime import topics
from conversa.realtime.audiences import audiences_of
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db

ALLOWED, FORBIDDEN, NOT_FOUND = "allowed", "forbidden", "not_found"
ROLES = ("admin", "supervisor", "owner", "other_agent")
CONVERSATIONS = ("owned", "colleagues", "unassigned")

# Which conversations each role may see ("owned" is assigned to the owner, "colleagues" to an agent
# who is none of the roles, "unassigned" to nobody).
SEES = {
    "admin": set(CONVERSATIONS),
    "supervisor": set(CONVERSATIONS),
    "owner": {"owned", "unassigned"},
    "other_agent": {"unassigned"},
}


def expected(action: str, role: str, conversation: str) -> str:
    if conversation not in SEES[role]:
        return NOT_FOUND
    if action in ("hand_over", "transfer", "transfer_to_team"):
        # Giving it to someone else: its holder, or whoever routes (supervisors, admins).
        holds = role == "owner" and conversation == "owned"
        return ALLOWED if holds or role in ("admin", "supervisor") else FORBIDDEN
    return ALLOWED


class Rollback(Exception):
    pass


def _attached_file(company, conversation_id: int) -> int:
    """A clean file carried by an outbound message of the conversation."""
    with schema_context(company.schema_name):
        data = io.BytesIO(b"order confirmation\n" * 10)
        media = media_services._quarantine(
            fileobj=data, size=len(data.getvalue()), sniffed=sniff_file(data, filename="order.txt"),
            filename="order.txt", source=MediaFile.Source.UPLOAD,
        )
        media_services.media_mark_clean(media=media)
        conversation = Conversation.objects.get(pk=conversation_id)
        outbound.message_send(conversation=conversation, author=None, media_id=media.pk)
        return media.pk


@pytest.fixture
def world(alpha, api):
    inbox = make_inbox(alpha)
    users = {
        "admin": make_user(alpha, role="admin"),
        "supervisor": make_user(alpha, role="supervisor"),
        "owner": make_user(alpha),
        "other_agent": make_user(alpha),
    }
    colleague, receiver = make_user(alpha), make_user(alpha)
    conversations = {name: receive(alpha, inbox).conversation_id for name in CONVERSATIONS}
    with schema_context(alpha.schema_name):
        for name, holder in (("owned", users["owner"]), ("colleagues", colleague)):
            conversation_assign(
                conversation=Conversation.objects.get(pk=conversations[name]), assignee=holder, actor=None
            )
    files = {name: _attached_file(alpha, pk) for name, pk in conversations.items()}
    with schema_context(alpha.schema_name):
        # A team none of the roles belongs to: handing a conversation to it is routing.
        team = team_create(actor=None, name="Receiving desk")
    tokens = {role: api(alpha).login(user.email)["access"] for role, user in users.items()}
    return {
        "company": alpha, "users": users, "receiver": receiver, "team": team, "conversations": conversations,
        "files": files, "api": {role: api(alpha, token=token) for role, token in tokens.items()},
        "ui": {role: signed_in(alpha, user) for role, user in users.items()},
    }


def _api_verdict(response) -> str:
    if response.status_code == 404:
        return NOT_FOUND
    if response.status_code == 403:
        return FORBIDDEN
    assert response.status_code in (200, 201, 204), response.content
    return ALLOWED


def _ui_verdict(response) -> str:
    if response.status_code == 404:
        return NOT_FOUND
    if response.status_code == 403:
        return FORBIDDEN  # a page whose existence is no secret (Settings → Teams) says why it refuses
    assert response.status_code == 200, response.content
    # A refused action answers with its reason, retargeted at the page's flash line.
    return FORBIDDEN if response.get("HX-Retarget") else ALLOWED


def api_door(world, role, action, conversation_id, media_id):
    client = world["api"][role]
    url = f"/api/v1/conversations/{conversation_id}"
    me, receiver = world["users"][role].pk, world["receiver"].pk
    return _api_verdict({
        "read": lambda: client.get(url),
        "read_messages": lambda: client.get(f"{url}/messages"),
        "take": lambda: client.post(f"{url}/assign", {"assignee_id": me}),
        "hand_over": lambda: client.post(f"{url}/assign", {"assignee_id": receiver}),
        "transfer": lambda: client.post(f"{url}/transfer", {"agent_id": receiver, "reason": "shift"}),
        "transfer_to_team": lambda: client.post(
            f"{url}/transfer", {"team_id": world["team"].pk, "reason": "shift"}
        ),
        "priority": lambda: client.post(f"{url}/priority", {"priority": "high"}),
        "note": lambda: client.post(f"{url}/notes", {"text": "Call back after 5"}),
        "media": lambda: client.get(f"/api/v1/media/{media_id}"),
        "media_download": lambda: client.get(f"/api/v1/media/{media_id}/download"),
    }[action]())


def ui_door(world, role, action, conversation_id, media_id):
    browser = world["ui"][role]
    url = f"/app/c/{conversation_id}"
    receiver = world["receiver"].pk
    return _ui_verdict({
        "read": lambda: browser.get(f"{url}/"),
        "read_messages": lambda: browser.get(f"{url}/older/"),
        "take": lambda: browser.post(f"{url}/assign_me/"),
        "hand_over": lambda: browser.post(f"{url}/assign/", {"assignee_id": receiver}),
        "transfer": lambda: browser.post(f"{url}/assign/", {"assignee_id": receiver, "reason": "shift"}),
        "transfer_to_team": lambda: browser.post(
            f"{url}/transfer/", {"target": f"team:{world['team'].pk}", "reason": "shift"}
        ),
        "priority": lambda: browser.post(f"{url}/priority/", {"priority": "high"}),
        "note": lambda: browser.post(f"{url}/send/", {"mode": "note", "text": "Call back after 5"}),
        "media": lambda: browser.get(f"/app/media/{media_id}/original/"),
        "media_download": lambda: browser.get(f"/app/media/{media_id}/original/"),
    }[action]())


def websocket_door(world, role, action, conversation_id, media_id):
    """Subscribing to the conversation's topic, and receiving its frames (the groups the user's
    sockets join meet the conversation's audience)."""
    company, user = world["company"], world["users"][role]
    subscribed = topics.authorize(company.schema_name, user.pk, "conversation", str(conversation_id))
    with schema_context(company.schema_name):
        conversation = Conversation.objects.get(pk=conversation_id)
        receives = bool(set(conversation_audience(conversation)) & set(audiences_of(user)))
    assert bool(subscribed) == receives, "the topic and the frames disagree"
    return ALLOWED if subscribed else NOT_FOUND


DOORS = {"api": api_door, "ui": ui_door}
READS = ("read", "read_messages", "media", "media_download")
WRITES = ("take", "hand_over", "transfer", "transfer_to_team", "priority", "note")


def _verdict_without_trace(door, world, role, action, name) -> str:
    """The door's verdict; whatever it changed is rolled back so the next door sees the same world."""
    verdict = None
    try:
        with transaction.atomic():
            verdict = door(world, role, action, world["conversations"][name], world["files"][name])
            raise Rollback
    except Rollback:
        pass
    connection.set_schema_to_public()
    return verdict


@pytest.mark.parametrize("action", READS + WRITES)
def test_every_door_gives_each_role_the_verdict_of_the_rule_table(world, action):
    doors = dict(DOORS, websocket=websocket_door) if action == "read" else DOORS
    found = {}
    for role in ROLES:
        for name in CONVERSATIONS:
            for door_name, door in doors.items():
                found[(role, name, door_name)] = _verdict_without_trace(door, world, role, action, name)
    wrong = {
        key: verdict for key, verdict in found.items() if verdict != expected(action, key[0], key[1])
    }
    assert not wrong, f"{action}: verdicts that break the rule table (role, conversation, door): {wrong}"


def test_an_api_key_needs_the_scope_and_then_sees_every_conversation(world, api):
    from tests.fixtures.factories import make_api_key

    company = world["company"]
    _key, reader = make_api_key(company, scopes=("conversations:read",))
    client = api(company, headers={"X-Api-Key": reader})
    conversation_id = world["conversations"]["colleagues"]
    assert client.get(f"/api/v1/conversations/{conversation_id}").status_code == 200
    assert client.get(f"/api/v1/media/{world['files']['colleagues']}").status_code == 200
    refused = client.post(f"/api/v1/conversations/{conversation_id}/priority", {"priority": "high"})
    assert refused.status_code == 403 and "conversations:write" in refused.json()["error"]["message"]
    _key, contacts_only = make_api_key(company, scopes=("contacts:read",))
    stranger = api(company, headers={"X-Api-Key": contacts_only})
    for path in (f"/api/v1/conversations/{conversation_id}", "/api/v1/conversations",
                 f"/api/v1/media/{world['files']['colleagues']}"):
        refused = stranger.get(path)
        assert refused.status_code == 403 and "conversations:read" in refused.json()["error"]["message"]


# Company settings: what each role may manage, through the API and through the settings pages
# (a page someone may not use does not exist for them: 404).
COMPANY_ACTIONS = {
    "inboxes.manage": (
        lambda client: client.post("/api/v1/inboxes", {"name": "Second line", "provider": "sandbox"}),
        "/app/settings/inboxes/",
    ),
    "users.manage": (
        lambda client: client.post("/api/v1/users", {"email": "new@example.com", "password": "long-pass-1"}),
        "/app/settings/users/",
    ),
    "api_keys.manage": (lambda client: client.get("/api/v1/api-keys"), "/app/settings/api-keys/"),
    "company.manage": (None, "/app/settings/branding/"),
    "quick_replies.use": (
        lambda client: client.post("/api/v1/quick-replies", {"shortcut": "bye", "content": "Bye!"}),
        "/app/settings/quick-replies/",
    ),
    "teams.manage": (
        lambda client: client.post("/api/v1/teams", {"name": "Night shift", "routing": "round_robin"}),
        "/app/settings/teams/",
    ),
    # Everyone reads the teams (to transfer); there is no page of its own.
    "teams.read": (lambda client: client.get("/api/v1/teams"), None),
}
MANAGES = {
    "admin": set(COMPANY_ACTIONS),
    "supervisor": {"quick_replies.use", "teams.manage", "teams.read"},
    "owner": {"quick_replies.use", "teams.read"},
    "other_agent": {"quick_replies.use", "teams.read"},
}


@pytest.mark.parametrize("action", sorted(COMPANY_ACTIONS))
def test_company_settings_get_the_same_verdict_on_the_api_and_the_pages(world, action):
    call_api, page = COMPANY_ACTIONS[action]
    for role in ROLES:
        want = ALLOWED if action in MANAGES[role] else FORBIDDEN
        verdicts = {}
        if call_api is not None:
            verdicts["api"] = _verdict_without_trace(
                lambda world, role, *_: _api_verdict(call_api(world["api"][role])),
                world, role, action, "owned",
            )
        if page is not None:
            ui = _verdict_without_trace(
                lambda world, role, *_: _ui_verdict(world["ui"][role].get(page)), world, role, action, "owned"
            )
            verdicts["ui"] = FORBIDDEN if ui == NOT_FOUND else ui
        assert set(verdicts.values()) == {want}, (role, action, verdicts)


def test_another_companys_admin_gets_not_found_on_every_door(world, bravo, api):
    """The table's rows for a stranger: an admin of another company sees none of it, on its own
    host (with alpha's ids) and with its token on alpha's host."""
    with schema_context(bravo.schema_name):
        # Ids are per schema: this means something only while bravo has no rows with alpha's ids.
        assert not Conversation.objects.filter(pk__in=world["conversations"].values()).exists()
        assert not MediaFile.objects.filter(pk__in=world["files"].values()).exists()
    stranger = make_user(bravo, role="admin")
    token = api(bravo).login(stranger.email)["access"]
    own_host, alpha_host = api(bravo, token=token), api(world["company"], token=token)
    browser = signed_in(bravo, stranger)
    for name in CONVERSATIONS:
        conversation_id, media_id = world["conversations"][name], world["files"][name]
        for path in (f"/api/v1/conversations/{conversation_id}", f"/api/v1/media/{media_id}",
                     f"/api/v1/media/{media_id}/download"):
            assert own_host.get(path).status_code == 404, path
            assert alpha_host.get(path).status_code == 401, path  # its token is bound to bravo
        assert browser.get(f"/app/c/{conversation_id}/").status_code == 404
        assert browser.get(f"/app/media/{media_id}/original/").status_code == 404
        assert not topics.authorize(bravo.schema_name, stranger.pk, "conversation", str(conversation_id))
    team_id = world["team"].pk
    with schema_context(bravo.schema_name):
        assert not Team.objects.filter(pk=team_id).exists()
    assert own_host.get(f"/api/v1/teams/{team_id}").status_code == 404
    assert alpha_host.get(f"/api/v1/teams/{team_id}").status_code == 401
    assert browser.get(f"/app/settings/teams/{team_id}/").status_code == 404
