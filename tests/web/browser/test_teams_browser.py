"""Teams in a real browser (issue 12): a supervisor sets up a team on Settings → Teams and transfers a
conversation to it with a reason; the team's available agent is told, live, and sees why."""

import pytest
from playwright.sync_api import expect

from apps.accounts.services import user_set_status
from tests.fixtures.browser import off_loop, screenshot, sign_in

pytestmark = [pytest.mark.live, pytest.mark.browser]

SOON = 3000  # ms: a frame through the live server, on a busy 2-core machine


def _available(team, user):
    from django_tenants.utils import schema_context

    with schema_context(team.company.schema_name):
        user_set_status(user=user, status="available")


def test_a_supervisor_sets_up_a_team_transfers_to_it_and_its_agent_is_notified(chromium, team):
    sara = team.add_user("sara", role="supervisor", name="Sara Supervisor")
    bruno = team.add_user("bruno", name="Bruno Barros")
    off_loop(_available, team, bruno)
    team.customer_says("Meu boleto venceu, podem reenviar?", name="Diego Cliente")

    page = sign_in(chromium, team, sara, path="/app/settings/")
    page.get_by_role("navigation", name="Settings sections").get_by_role("link", name="Teams").click()
    expect(page).to_have_url(f"{team.origin}/app/settings/teams/")
    page.fill("#id_name", "Cobrança")
    page.select_option("#id_routing", "manual")
    page.get_by_role("button", name="Create team").click()
    expect(page.get_by_role("heading", name="Cobrança")).to_be_visible()

    # Business hours: Monday 09:00–18:00 in São Paulo, Christmas off; the Sandbox inbox; an SLA.
    page.select_option("#id_timezone", "America/Sao_Paulo")
    page.fill("#id_mon_start1", "09:00")
    page.fill("#id_mon_end1", "18:00")
    page.fill("#id_holidays", "2026-12-25")
    page.get_by_label("Sandbox").check()
    page.fill("#id_offline_message", "Voltamos às 9h")
    page.fill("#id_sla_first_response_minutes", "15")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash.ok")).to_have_text("Team saved.")
    expect(page.locator("#id_mon_start1")).to_have_value("09:00")
    expect(page.locator("#id_timezone")).to_have_value("America/Sao_Paulo")

    page.select_option("#id_user_id", label="Bruno Barros (Agent)")
    page.fill("#id_capacity", "3")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(".flash.ok")).to_have_text("Bruno Barros added to the team.")
    expect(page.locator(f"#member-{bruno.pk}")).to_contain_text("Bruno Barros")
    expect(page.locator(f"#capacity-{bruno.pk}")).to_have_value("3")
    # The supervisor joins too: a supervisor sees the conversations of their teams.
    page.select_option("#id_user_id", label="Sara Supervisor (Supervisor)")
    page.get_by_role("button", name="Add member").click()
    expect(page.locator(f"#member-{sara.pk}")).to_contain_text("Sara Supervisor")
    screenshot(page, "team-settings")

    agent = sign_in(chromium, team, bruno, path="/app/?tab=unassigned")
    expect(agent.locator("#notifications-badge")).to_be_hidden()

    # The supervisor transfers the customer's conversation to the team.
    page.goto("/app/?tab=unassigned")
    page.locator(".conversation-row", has_text="Diego Cliente").locator("a").click()
    page.get_by_text("Assign", exact=True).first.click()
    page.select_option("#assignee", label="Team Cobrança")
    page.fill("#transfer-reason", "Segunda via do boleto")
    page.get_by_role("button", name="Assign or transfer").click()
    expect(page.locator("#timeline")).to_contain_text(
        "Sara Supervisor transferred it to team Cobrança: Segunda via do boleto", timeout=SOON
    )

    # The receiving agent sees the notification arrive, live, with the reason; it leads to the chat.
    expect(agent.locator("#notifications-badge")).to_have_text("1", timeout=SOON)
    agent.locator("#notifications-menu button").first.click()
    panel = agent.locator("#notifications-panel")
    expect(panel).to_contain_text("Conversation with Diego Cliente transferred to Cobrança")
    expect(panel).to_contain_text("Segunda via do boleto")
    screenshot(agent, "team-transfer-notification")
    panel.get_by_role("link", name="Conversation with Diego Cliente transferred to Cobrança").click()
    expect(agent.locator("#timeline")).to_contain_text("Meu boleto venceu, podem reenviar?")
    transferred = "transferred it to team Cobrança: Segunda via do boleto"
    expect(agent.locator("#timeline")).to_contain_text(transferred)
    for opened in (page, agent):
        opened.context.close()
