"""Settings → Audit log through Django's test client: admins only, filters, from → to, CSV export,
and one company's entries never on another's page."""

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.audit.models import AuditLog
from apps.conversations.services import conversation_assign, conversation_set_priority
from apps.exports.models import Export
from tests.conftest import host_of
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(alpha):
    return make_user(alpha, role="admin", name="Alice Admin")


def prioritised(company, admin, agent):
    """A conversation assigned to `agent` and raised to high priority by `admin`."""
    message = receive(company, make_inbox(company))
    with schema_context(company.schema_name):
        conversation = message.conversation
        conversation_assign(conversation=conversation, assignee=agent, actor=admin)
        conversation_set_priority(conversation=conversation, priority="high", actor=admin)
    return conversation


def test_an_admin_filters_by_action_and_reads_each_change_from_to(alpha, admin):
    agent = make_user(alpha, name="Bruno Agent")
    conversation = prioritised(alpha, admin, agent)
    browser = signed_in(alpha, admin)

    page = browser.get("/app/settings/audit/?action=conversation.priority_changed").content.decode()
    assert 'href="/app/settings/audit/" aria-current="page"' in page
    assert "conversation.priority_changed" in page and f"conversation #{conversation.pk}" in page
    assert '<span class="audit-from">normal</span> → <span class="audit-to">high</span>' in page
    assert "Alice Admin" in page and "conversation.assigned</code>" not in page

    assigned = browser.get("/app/settings/audit/?action=conversation.assigned").content.decode()
    # Ids of people are shown as their names.
    assert '<span class="audit-from">—</span> → <span class="audit-to">Bruno Agent</span>' in assigned


def test_a_bad_filter_says_why_and_shows_nothing(alpha, admin):
    prioritised(alpha, admin, make_user(alpha))
    page = signed_in(alpha, admin).get("/app/settings/audit/?from=2026-02-30").content.decode()
    assert "Use a date (YYYY-MM-DD)" in page and "No entries match these filters." in page


def test_the_page_is_paginated_newest_first(alpha, admin, monkeypatch):
    monkeypatch.setattr("apps.web.views.audit.PAGE_SIZE", 2)
    prioritised(alpha, admin, make_user(alpha))
    browser = signed_in(alpha, admin)  # its login is the newest entry
    with schema_context(alpha.schema_name):
        newest = list(AuditLog.objects.order_by("-id").values_list("pk", flat=True)[:3])
    first = browser.get("/app/settings/audit/").content.decode()
    assert f'id="audit-{newest[0]}"' in first and f'id="audit-{newest[2]}"' not in first
    assert f"before={newest[1]}" in first
    second = browser.get(f"/app/settings/audit/?before={newest[1]}").content.decode()
    assert f'id="audit-{newest[2]}"' in second and f'id="audit-{newest[0]}"' not in second


def test_export_csv_starts_an_export_with_the_filters_shown(alpha, admin, django_capture_on_commit_callbacks):
    browser = signed_in(alpha, admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/app/settings/audit/export/",
                                {"action": "login", "from": "2026-01-01", "success": "true"})
    assert response.status_code == 302 and response["Location"] == "/app/exports/"
    with schema_context(alpha.schema_name):
        export = Export.objects.filter(created_by=admin).latest("id")
    assert (export.entity, export.format, export.status) == ("audit_logs", "csv", "completed")
    assert export.filters == {"action": "login", "from": "2026-01-01", "success": "true"}

    refused = browser.post("/app/settings/audit/export/", {"to": "someday"})
    assert refused.status_code == 302 and "/app/settings/audit/" in refused["Location"]


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_agents_and_supervisors_neither_see_nor_open_the_audit_log(alpha, role):
    browser = signed_in(alpha, make_user(alpha, role=role))
    assert browser.get("/app/settings/audit/").status_code == 404
    assert browser.post("/app/settings/audit/export/", {}).status_code == 404
    assert "/app/settings/audit/" not in browser.get("/app/settings/quick-replies/").content.decode()


def test_an_admin_sees_only_the_entries_of_their_own_company(alpha, bravo, admin):
    bravo_admin = make_user(bravo, role="admin", name="Bravo Boss")
    prioritised(bravo, bravo_admin, make_user(bravo, name="Bravo Agent"))
    browser = signed_in(alpha, admin)
    page = browser.get("/app/settings/audit/?action=conversation.priority_changed").content.decode()
    assert "Bravo Boss" not in page and "Bravo Agent" not in page
    # A session of company A is no session on company B's host: it is sent to B's login.
    elsewhere = browser.client.get("/app/settings/audit/", HTTP_HOST=host_of(bravo))
    connection.set_schema_to_public()
    assert elsewhere.status_code == 302 and elsewhere["Location"].startswith("/app/login/")
