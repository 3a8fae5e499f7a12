"""The knowledge base and tasks in a real browser (issue 18 acceptance 2 and 4): a supervisor
writes an article whose Markdown tries every way to run script, watches the live preview render it
inert, publishes it and opens it on the public help centre, where no dialog ever opens and the
feedback buttons work under the CSP; an agent creates a task and completes it with notes."""

import re

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from apps.knowledge.services import category_create
from tests.fixtures.browser import off_loop, screenshot, sign_in

pytestmark = [pytest.mark.live, pytest.mark.browser]

EVIL = """## Returns

You have **30 days**.

<script>alert('script')</script>
<img src=x onerror="alert('img')">
[Click me](javascript:alert('link'))
<a href="javascript:alert(1)" onclick="alert(2)">raw link</a>
"""


def warm_up(team) -> None:
    """The first pages a fresh server renders compile their templates: on a busy machine that alone
    can outlast the browser's 5 s, which is not what these tests are about."""
    with team.server.client(team.host) as http:
        for path in ("/app/login/", "/help/"):
            http.get(path, timeout=30)


def watch(page) -> tuple[list, list]:
    dialogs, problems = [], []

    def on_dialog(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" or "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return dialogs, problems


def test_an_article_with_script_in_its_markdown_is_previewed_published_and_read_inert(chromium, team):
    supervisor = team.add_user("sofia", role="supervisor", name="Sofia Supervisor")

    def make_category():
        with schema_context(team.company.schema_name):
            return category_create(actor=supervisor, name="Returns")

    off_loop(make_category)
    warm_up(team)
    page = sign_in(chromium, team, supervisor, path="/app/knowledge/new/")
    dialogs, problems = watch(page)
    page.fill("#id_title", "Returning an order")
    page.fill("#id_body", EVIL)
    preview = page.locator("#article-preview")
    expect(preview.locator("strong")).to_have_text("30 days")
    expect(preview).to_contain_text("<script>alert('script')</script>")  # shown as text
    assert preview.locator("script, img, a").count() == 0
    screenshot(page, "knowledge-editor")
    page.locator("#article-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r".*/app/knowledge/\d+/$"))
    page.locator("#publish").click()
    expect(page.locator("#article-status")).to_have_text("Published")

    public_url = page.locator("#public-link").get_attribute("href")
    page.goto(public_url)
    expect(page.locator("h1")).to_have_text("Returning an order")
    expect(page.locator(".article-body strong")).to_have_text("30 days")
    assert page.locator(".article-body script, .article-body img, .article-body a").count() == 0
    page.locator(".article-body").click()
    page.locator('[data-helpful="true"]').click()
    expect(page.locator(".feedback-result")).to_have_text("Thanks for your feedback!")
    screenshot(page, "help-centre-article")
    assert dialogs == []
    assert problems == []


def test_an_agent_creates_and_completes_a_task(chromium, team):
    agent = team.add_user("ana", name="Ana Agent")
    warm_up(team)
    page = sign_in(chromium, team, agent, path="/app/tasks/")
    _dialogs, problems = watch(page)
    expect(page.locator("#task-rows")).to_contain_text("No tasks here.")
    page.fill("#id_title", "Call Carla about the invoice")
    page.fill("#id_due_at", "2031-01-15T10:30")
    page.select_option("#id_priority", "high")
    page.locator("#new-task-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r".*/app/tasks/\d+/$"))
    expect(page.locator("h1")).to_have_text("Call Carla about the invoice")
    page.fill("#id_completion_notes", "She paid by card.")
    page.locator("#complete-form button[type=submit]").click()
    expect(page.locator("#task-status")).to_have_text("Done")
    expect(page.locator("#completion-notes")).to_contain_text("She paid by card.")
    page.goto("/app/tasks/?tab=mine")
    expect(page.locator(".task-closed .task-title")).to_have_text("Call Carla about the invoice")
    screenshot(page, "tasks-page")
    assert problems == []
