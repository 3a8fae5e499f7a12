"""@mentions in internal notes notify the colleague named, once, and only if they may see the
conversation; the note reads `@Name`."""

import pytest
from django_tenants.utils import schema_context

from apps.conversations.mentions import mentioned_user_ids, plain
from apps.conversations.services import conversation_assign
from apps.notifications.models import Notification
from apps.teams.models import TeamMember
from apps.web.templatetags.web_tags import with_mentions
from tests.automation.conftest import fresh
from tests.conversations.test_sla import make_team
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import receive

pytestmark = pytest.mark.django_db


def mention(user) -> str:
    return f"@[{user.name}](user:{user.pk})"


def test_a_mentioned_colleague_is_notified_once_in_their_language(alpha, desk):
    supervisor = desk["people"]["supervisor"]
    with schema_context(alpha.schema_name):
        supervisor.language = "es"
        supervisor.save(update_fields=["language"])
    message = receive(alpha, desk["inbox"], name="Carla Cliente", text="hello")
    text = f"{mention(supervisor)} can you check? {mention(supervisor)} please"
    url = f"/api/v1/conversations/{message.conversation_id}/notes"
    response = desk["api"]["agent"].post(url, {"text": text})
    assert response.status_code == 201, response.content

    with schema_context(alpha.schema_name):
        notifications = list(Notification.objects.filter(user=supervisor, kind="mention"))
        assert len(notifications) == 1
        assert notifications[0].title == (
            "Ana Agent te mencionó en una nota de la conversación con Carla Cliente")
        assert notifications[0].body == "@Sara Supervisor can you check? @Sara Supervisor please"
        assert notifications[0].data["conversation_id"] == message.conversation_id
        # the author mentioning themselves is not told about it
        assert not Notification.objects.filter(user=desk["people"]["agent"], kind="mention").exists()


def test_a_colleague_who_cannot_see_the_conversation_is_not_notified(alpha, desk):
    agent = desk["people"]["agent"]
    outsider = make_user(alpha, name="Olga Outsider")
    team = make_team(alpha)
    message = receive(alpha, desk["inbox"], text="hello")
    with schema_context(alpha.schema_name):
        TeamMember.objects.create(team=team, user=outsider)
        TeamMember.objects.create(team=team, user=agent)
        conversation_assign(conversation=fresh(alpha, message.conversation_id), assignee=agent, actor=None)
    text = f"{mention(outsider)} and {mention(desk['people']['admin'])}, look"
    assert desk["api"]["agent"].post(f"/api/v1/conversations/{message.conversation_id}/notes",
                                     {"text": text}).status_code == 201
    with schema_context(alpha.schema_name):
        notified = set(Notification.objects.filter(kind="mention").values_list("user_id", flat=True))
    assert notified == {desk["people"]["admin"].pk}


def test_a_mention_is_stored_with_the_id_and_shown_as_the_name():
    text = "Hi @[Ana <b>](user:7), see @ana too\nthanks"
    assert mentioned_user_ids(text) == [7]
    assert plain(text) == "Hi @Ana <b>, see @ana too\nthanks"
    assert with_mentions(text) == (
        'Hi <span class="mention" data-user-id="7">@Ana &lt;b&gt;</span>, see @ana too<br>thanks')
