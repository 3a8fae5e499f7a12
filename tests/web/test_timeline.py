"""The inbox and timeline queries of the agents' UI: their results and their query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_tenants.utils import schema_context

from apps.conversations import services
from apps.conversations.models import Conversation, Message
from apps.web.inbox_query import tab_counts
from apps.web.templatetags.web_tags import display, event_text
from apps.web.timeline import timeline_page
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive

pytestmark = pytest.mark.django_db


def test_assignment_events_name_their_assignees_in_one_query(alpha):
    # Given a conversation handed from agent to agent five times
    inbox = make_inbox(alpha)
    admin = make_user(alpha, role="admin", name="Alice Admin")
    agents = [make_user(alpha, name=f"Agent {i}") for i in range(5)]
    conversation = receive(alpha, inbox).conversation
    with schema_context(alpha.schema_name):
        for agent in agents:
            services.conversation_assign(conversation=conversation, assignee=agent, actor=admin)

        # When the timeline is read and its events put into words
        with CaptureQueriesContext(connection) as queries:
            page = timeline_page(conversation)
            texts = [event_text(item.obj) for item in page.items
                     if item.kind == "event" and item.obj.kind != "status_changed"]

    # Then every assignee is named, with one query for all of them (not one per event)
    assert texts[0] == "Alice Admin assigned it to Agent 0"
    assert texts[1:] == [f"Alice Admin transferred it to Agent {i}" for i in range(1, 5)]
    assert len(queries) == 4  # messages, notes, events, their assignees


def test_an_event_read_on_its_own_still_names_its_assignee(alpha):
    inbox = make_inbox(alpha)
    agent = make_user(alpha, name="Ana Agent")
    conversation = receive(alpha, inbox).conversation
    with schema_context(alpha.schema_name):
        services.conversation_assign(conversation=conversation, assignee=agent, actor=None)
        event = conversation.timeline.get(kind="assigned")
        assert event_text(event) == "System assigned it to Ana Agent"


def test_an_assignment_by_routing_says_so(alpha):
    inbox = make_inbox(alpha)
    agent = make_user(alpha, name="Ana Agent")
    conversation = receive(alpha, inbox).conversation
    with schema_context(alpha.schema_name):
        services.conversation_assign(conversation=conversation, assignee=agent, actor=None, by="routing")
        event = conversation.timeline.get(kind="assigned")
        assert event_text(event) == "Auto-assigned to Ana Agent by the team's routing"


def test_tab_counts_count_active_conversations_by_role(alpha):
    # Given an unassigned unread conversation, one of the agent's, one of a colleague's, a closed one
    inbox = make_inbox(alpha)
    ana, bruno = make_user(alpha, name="Ana"), make_user(alpha, name="Bruno")
    admin = make_user(alpha, role="admin")
    receive(alpha, inbox)
    mine, theirs, closed = (receive(alpha, inbox).conversation for _ in range(3))
    with schema_context(alpha.schema_name):
        services.conversation_assign(conversation=mine, assignee=ana, actor=ana)
        services.conversation_assign(conversation=theirs, assignee=bruno, actor=bruno)
        services.conversation_close(conversation=closed, actor=admin)

        # Then the agent counts only what she may see, the admin everything active
        assert tab_counts(ana) == {"mine": {"count": 1, "unread": 1},
                                   "unassigned": {"count": 1, "unread": 1},
                                   "all": {"count": 2, "unread": 2}}
        assert tab_counts(admin) == {"mine": {"count": 0, "unread": 0},
                                     "unassigned": {"count": 1, "unread": 1},
                                     "all": {"count": 3, "unread": 3}}


OPEN = {"en": "Open", "es": "Abierta", "pt-br": "Aberta"}


@pytest.mark.parametrize("language", ["en", "es", "pt-br"])
def test_the_rows_choice_labels_are_djangos_in_the_readers_language(language):
    # Given the labels already looked up once in English (the filter keeps them per field)
    for value, _label in Message.Status.choices:
        display(Message(status=value), "status")

    # When a reader in `language` sees every status of conversations, messages and senders
    with translation.override(language):
        for model, field in ((Conversation, "status"), (Conversation, "priority"), (Message, "status"),
                             (Message, "sender_type"), (Message, "kind")):
            for value, _label in model._meta.get_field(field).flatchoices:
                obj = model(**{field: value})

                # Then each label is the one Django's get_FOO_display gives, translated
                assert display(obj, field) == getattr(obj, f"get_{field}_display")()
        assert display(Conversation(status="open"), "status") == OPEN[language]

    # And a value that is not (or no longer) a choice shows as stored
    assert display(Conversation(status="gone"), "status") == "gone"
