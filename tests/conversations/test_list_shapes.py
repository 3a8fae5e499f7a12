"""The conversation list compiles its statement once per shape of filters (`PreparedPages`): every
caller still gets exactly the rows the visibility rule and the filters give through the ORM, page by
page, however the callers' requests interleave."""

import datetime as dt
import itertools

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.conversations.models import Conversation
from apps.conversations.selectors import conversation_list
from apps.teams.services import team_create, team_member_set
from conversa.prepared import filter_key
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowd(alpha, api):
    """Two teams, five readers of every role and membership, 40 conversations across teams, assignees,
    statuses and labels; a quarter without any message yet (NULL `last_message_at`), and ties."""
    inbox = make_inbox(alpha)
    readers = {
        "admin": make_user(alpha, role="admin"),
        "supervisor_a": make_user(alpha, role="supervisor"),
        "agent_a": make_user(alpha, name="Ana"),
        "agent_ab": make_user(alpha, name="Bia"),
        "agent_b": make_user(alpha, name="Beto"),  # the shape of agent_a's filters, other values
        "agent_none": make_user(alpha, name="Caio"),
    }
    with schema_context(alpha.schema_name):
        team_a, team_b = team_create(actor=None, name="A"), team_create(actor=None, name="B")
        for key in ("supervisor_a", "agent_a", "agent_ab"):
            team_member_set(actor=None, team=team_a, user=readers[key])
        for key in ("agent_ab", "agent_b"):
            team_member_set(actor=None, team=team_b, user=readers[key])
        now = timezone.now().replace(microsecond=0)
        assignees = [None, *(readers[key] for key in ("agent_a", "agent_ab", "agent_none", "supervisor_a",
                                                      "agent_b"))]
        for n in range(40):
            contact = Contact.objects.create(phone=f"+5511977{n:05d}", name=f"Cliente {n}")
            Conversation.objects.create(
                contact=contact, inbox=inbox,
                team=[None, team_a, team_b][n % 3],
                assignee=assignees[n % 6],
                status=["open", "queued", "pending", "closed"][n % 4],
                labels=["vip"] if n % 6 == 0 else [],
                priority="high" if n % 7 == 0 else "normal",
                unread_count=n % 2,
                # Every fourth has no message yet; the others come in pairs with the same moment.
                last_message_at=None if n % 4 == 3 else now - dt.timedelta(minutes=n // 2),
                last_message_preview=f"message {n}",
            )
    clients = {key: api(alpha, token=api(alpha).login(user.email)["access"]) for key, user in readers.items()}
    return {"readers": readers, "clients": clients, "teams": (team_a, team_b)}


FILTERS = [
    {}, {"status": "open"}, {"status": "closed"}, {"status": "open,queued"},
    {"assignee": "me"}, {"assignee": "none"}, {"team": "mine"}, {"team": "none"}, {"team": "TEAM_A"},
    {"unread": "true"}, {"label": "vip"},
    {"priority": "high", "status": "open,queued,pending,closed"}, {"q": "Cliente 1"},
]


def _walk(client, filters: dict, limit: int) -> list[int]:
    seen, cursor = [], None
    while True:
        query = {**filters, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/conversations?" + "&".join(f"{k}={v}" for k, v in query.items()))
        assert response.status_code == 200, response.content
        page = response.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_every_reader_gets_the_rows_of_the_visibility_rule_and_filters_page_by_page(alpha, crowd):
    team_a = crowd["teams"][0]
    combinations = list(itertools.product(FILTERS, crowd["readers"], (3, 7)))
    # Readers take turns on each filter: a statement compiled for one must never answer another.
    for filters, reader, limit in combinations:
        filters = {k: str(team_a.pk) if v == "TEAM_A" else v for k, v in filters.items()}
        listed = _walk(crowd["clients"][reader], filters, limit)
        with schema_context(alpha.schema_name):
            orm_filters = {k: (v == "true") if k == "unread" else v for k, v in filters.items()}
            expected = list(
                conversation_list(crowd["readers"][reader], **orm_filters)
                .order_by("-last_message_at", "-id").values_list("pk", flat=True)
            )
        assert listed == expected, (reader, filters, limit)
    # The walks saw something: the comparison is not between empty lists.
    assert len(_walk(crowd["clients"]["admin"], {}, 10)) == 40
    assert 0 < len(_walk(crowd["clients"]["agent_a"], {}, 10)) < 40


def test_a_cursor_that_is_not_ours_is_a_422_that_names_it(crowd):
    import base64
    import json

    forged = base64.urlsafe_b64encode(json.dumps(["yesterday", 5]).encode()).decode().rstrip("=")
    response = crowd["clients"]["admin"].get(f"/api/v1/conversations?cursor={forged}")
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [{"field": "cursor", "message": "Invalid cursor."}]


def test_keys_tell_apart_readers_teams_and_filter_values(alpha, crowd):
    readers = crowd["readers"]
    with schema_context(alpha.schema_name):
        def key(reader, **filters):
            return filter_key(conversation_list(readers[reader], **filters))

        assert key("agent_a") == key("agent_a")
        assert key("agent_a") != key("agent_ab")  # other user, other teams
        assert key("admin") != key("agent_a")
        assert key("agent_a", status="open") != key("agent_a", status="closed")
        assert key("agent_a", unread=True) != key("agent_a", unread=False)
        assert key("admin", q="Cliente") is None  # subqueries: read through the ORM

        # One table joined through two foreign keys: the same column and value, different rows.
        admin = readers["admin"]
        by_assignee = filter_key(conversation_list(admin).filter(assignee__name="Ana"))
        by_handback = filter_key(conversation_list(admin).filter(handed_back_by__name="Ana"))
        assert by_assignee is not None and by_assignee != by_handback
