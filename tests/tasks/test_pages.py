"""Tasks in the agents' UI: the Tasks page's tabs, creating and completing a task with notes,
comments, the panels of a conversation and a contact, and what other people and companies see."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.tasks.models import Task
from apps.tasks.services import task_create
from apps.teams.services import team_create, team_member_set
from tenants.models import Company
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


def test_an_agent_creates_completes_and_comments_a_task_from_the_tasks_page(alpha):
    # Times are typed and shown in the company's time zone (rolled back with the test).
    Company.objects.filter(pk=alpha.pk).update(time_zone="America/Sao_Paulo")
    agent = make_user(alpha, name="Ana Agent")
    browser = signed_in(alpha, agent)
    assert b'href="/app/tasks/"' in browser.get("/app/").content
    created = browser.post("/app/tasks/?tab=mine", {
        "title": "Send the catalogue", "due_at": "2030-05-01T10:00", "priority": "high",
        "assignee_id": agent.pk,
    })
    assert created.status_code == 302
    with schema_context(alpha.schema_name):
        task = Task.objects.get(title="Send the catalogue")
    assert task.assignee_id == agent.pk
    assert task.due_at == dt.datetime(2030, 5, 1, 13, 0, tzinfo=dt.UTC)
    listed = browser.get("/app/tasks/").content.decode()
    assert "Send the catalogue" in listed and 'datetime="2030-05-01T10:00:00-03:00"' in listed

    browser.post(f"/app/tasks/{task.pk}/comments/", {"text": "Asked for prices"})
    browser.post(f"/app/tasks/{task.pk}/status/done/", {"completion_notes": "Sent by email"})
    page = browser.get(f"/app/tasks/{task.pk}/").content.decode()
    assert "Asked for prices" in page and "Sent by email" in page and 'id="complete-form"' not in page
    with schema_context(alpha.schema_name):
        task.refresh_from_db()
    assert (task.status, task.completion_notes) == ("done", "Sent by email")


def test_overdue_and_team_tabs_and_the_panels_show_what_each_person_may_see(alpha):
    inbox = make_inbox(alpha)
    agent, supervisor, outsider = (make_user(alpha), make_user(alpha, role="supervisor"),
                                   make_user(alpha))
    conversation_id = receive(alpha, inbox, text="Where is my order?").conversation_id
    with schema_context(alpha.schema_name):
        team = team_create(actor=None, name="Panel team")
        team_member_set(actor=None, team=team, user=agent)
        team_member_set(actor=None, team=team, user=supervisor)
        late = task_create(actor=supervisor, title="Late follow-up", assignee_id=agent.pk,
                           conversation_id=conversation_id,
                           due_at=timezone.now() - dt.timedelta(hours=1))
    agent_browser = signed_in(alpha, agent)
    assert "Late follow-up" in agent_browser.get("/app/tasks/?tab=overdue").content.decode()
    assert "Late follow-up" in signed_in(alpha, supervisor).get("/app/tasks/?tab=team").content.decode()
    panel = agent_browser.get(f"/app/tasks/panel/?conversation={conversation_id}").content.decode()
    assert "Late follow-up" in panel
    contact_panel = agent_browser.get(f"/app/tasks/panel/?contact={late.contact_id}").content.decode()
    assert "Late follow-up" in contact_panel

    outsider_browser = signed_in(alpha, outsider)
    assert "Late follow-up" not in outsider_browser.get(
        f"/app/tasks/panel/?contact={late.contact_id}").content.decode()
    assert outsider_browser.get(f"/app/tasks/{late.pk}/").status_code == 404
    assert outsider_browser.post(f"/app/tasks/{late.pk}/status/done/").status_code == 404


def test_another_companys_user_cannot_open_or_change_a_task(alpha, bravo):
    agent = make_user(alpha)
    with schema_context(alpha.schema_name):
        task = task_create(actor=agent, title="Alpha task")
    browser = signed_in(bravo, make_user(bravo, role="admin"))
    assert browser.get(f"/app/tasks/{task.pk}/").status_code == 404
    assert browser.post(f"/app/tasks/{task.pk}/comments/", {"text": "x"}).status_code == 404
    assert "Alpha task" not in browser.get("/app/tasks/?tab=mine").content.decode()
