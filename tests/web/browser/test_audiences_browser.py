"""Contact lists, segments and merging in a real browser (issue 13): a supervisor creates a list,
adds ticked contacts to it from the contacts page, builds a segment watching its live count, and
merges a duplicate contact into another."""

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.messaging import new_phone

pytestmark = [pytest.mark.live, pytest.mark.browser]


def _contact(team, **fields) -> int:
    response = team.api("post", "/contacts", json={"phone": new_phone(), **fields})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_a_supervisor_builds_a_list_and_a_segment_and_merges_two_contacts(chromium, team):
    sara = team.add_user("sara", role="supervisor", name="Sara Supervisor")
    ana = _contact(team, name="Ana Lima", tags=["vip"], lead_status="qualified")
    bruno = _contact(team, name="Bruno Reis", tags=["vip"])
    duplicate = _contact(team, name="Ana L.", email="ana@lima.example", tags=["vip"], lead_status="qualified")

    page = sign_in(chromium, team, sara, path="/app/contacts/lists/")
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm asks before merging
    page.fill("#id_name", "Clientes VIP")
    page.get_by_role("button", name="Create list").click()
    expect(page.get_by_role("heading", name="Clientes VIP")).to_be_visible()
    expect(page.locator("#list-member-count")).to_have_text("0 members")

    # Contacts page: tick two contacts and add them to the list.
    page.get_by_role("navigation", name="Contacts sections").get_by_role("link", name="Contacts").click()
    page.get_by_label("Select Ana Lima").check()
    page.get_by_label("Select Bruno Reis").check()
    page.select_option("#add-to-list-select", label="Clientes VIP")
    page.get_by_role("button", name="Add to list").click()
    expect(page.locator(".flash.ok")).to_have_text("2 added to Clientes VIP.")
    page.select_option("#contact-list-filter", label="Clientes VIP")
    expect(page.locator(".contact-row")).to_have_count(2)
    expect(page.locator(f'.contact-row[data-id="{bruno}"]')).to_have_count(1)
    expect(page.locator(f'.contact-row[data-id="{duplicate}"]')).to_have_count(0)

    # Segments: the count follows the filters as they are typed.
    page.get_by_role("navigation", name="Contacts sections").get_by_role("link", name="Segments").click()
    page.fill("#id_name", "VIP qualificados")
    page.fill("#id_tags", "vip")
    expect(page.locator("#segment-count")).to_have_text("3 contacts match")
    page.select_option("#id_lead_status", "qualified")
    expect(page.locator("#segment-count")).to_have_text("2 contacts match")
    page.get_by_role("button", name="Create segment").click()
    expect(page.get_by_role("heading", name="VIP qualificados")).to_be_visible()
    expect(page.locator("#segment-saved-count")).to_have_text("2 contacts")
    screenshot(page, "segment")

    # Merge the duplicate into Ana: her page then shows its email, and the duplicate is gone.
    page.goto(f"/app/contacts/{ana}/")
    page.fill("#merge-q", "Ana L.")
    page.get_by_label("Ana L. ·", exact=False).check()
    page.get_by_role("button", name="Merge into this contact").click()
    expect(page.locator(".flash.ok")).to_have_text("Contacts merged.")
    expect(page.locator(".contact-facts")).to_contain_text("ana@lima.example")
    page.goto("/app/contacts/?q=Ana")
    expect(page.locator(".contact-row")).to_have_count(1)
    expect(page.locator(f'.contact-row[data-id="{ana}"]')).to_have_count(1)
