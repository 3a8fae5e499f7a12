"""Team chat in a real browser (issue 18): two agents chat in a group; the second sees the room,
its unread badge, the typing and the messages arrive live, and a mention picked from the list."""

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import off_loop, screenshot, sign_in

pytestmark = [pytest.mark.live, pytest.mark.browser]


def test_two_agents_chat_in_a_group_live_with_unread_badge_typing_and_mentions(chromium, team):
    ana = team.add_user("ana", name="Ana Lima")
    bruno = team.add_user("bruno", name="Bruno Barros")
    ana_page = sign_in(chromium, team, ana, path="/app/team-chat/")
    bruno_page = sign_in(chromium, team, bruno, path="/app/team-chat/")

    ana_page.get_by_text("New group").click()
    ana_page.fill("#tc-group-name", "Plantão")
    ana_page.locator("#tc-group-form").get_by_label("Bruno Barros").check()
    ana_page.get_by_role("button", name="Create").click()
    expect(ana_page.locator("#tc-room-name")).to_have_text("Plantão")

    # Bruno's list gains the room without a reload; Ana's message gives it an unread badge.
    room_button = bruno_page.locator(".tc-room-button", has_text="Plantão")
    expect(room_button).to_be_visible()
    ana_page.locator("#tc-text").press_sequentially("Who covers tonight, @Bru")
    expect(ana_page.locator("#tc-mentions")).to_contain_text("Bruno Barros")
    ana_page.locator("#tc-text").press("Enter")  # picks the mention
    ana_page.locator("#tc-text").press_sequentially("?")
    ana_page.locator("#tc-text").press("Enter")  # sends
    expect(ana_page.locator("#tc-messages")).to_contain_text("Who covers tonight, @Bruno Barros ?")
    expect(room_button.locator(".badge")).to_have_text("1")
    expect(bruno_page.locator("#team-chat-badge")).to_have_text("1")
    expect(bruno_page.locator("#notifications-badge")).to_have_text("1")

    room_button.click()
    expect(bruno_page.locator("#tc-messages")).to_contain_text("Who covers tonight, @Bruno Barros ?")
    expect(room_button.locator(".badge")).to_be_hidden()
    expect(bruno_page.locator("#team-chat-badge")).to_be_hidden()
    expect(bruno_page.locator(f"#tc-members .tc-dot[data-user-id='{ana.pk}']")).to_have_attribute(
        "data-online", "true")

    # Typing and the next message arrive while Bruno has the room open; his reply quotes it.
    ana_page.locator("#tc-text").press_sequentially("I can")
    expect(bruno_page.locator("#tc-typing")).to_have_text("Ana Lima is typing…")
    ana_page.locator("#tc-text").press(" ")
    ana_page.locator("#tc-text").press_sequentially("do it")
    ana_page.locator("#tc-text").press("Enter")
    last = bruno_page.locator(".tc-message", has_text="I can do it")
    expect(last).to_be_visible()
    last.get_by_role("button", name="Reply").click()
    bruno_page.locator("#tc-text").fill("Thanks, Ana!")
    bruno_page.get_by_role("button", name="Send").click()
    reply = ana_page.locator(".tc-message", has_text="Thanks, Ana!")
    expect(reply.locator(".quoted")).to_have_text("Ana Lima: I can do it")
    root = ana_page.locator(".tc-message.mine", has_text="I can do it")
    expect(root.locator("[data-action=thread]")).to_have_text("Thread (1)")
    expect(ana_page.locator(".tc-room-button", has_text="Plantão").locator(".badge")).to_be_hidden()
    screenshot(bruno_page, "team-chat")

    # A long room opens on its latest page; older messages come on request, in their place.
    off_loop(_many_messages, team, ana, 50)
    expect(bruno_page.locator("#tc-messages")).to_contain_text("filler 49")
    bruno_page.locator("#tc-search").fill("")
    bruno_page.locator(".tc-room-button", has_text="Plantão").click()
    expect(bruno_page.locator("#tc-messages .tc-message")).to_have_count(50)
    bruno_page.get_by_role("button", name="Older messages").click()
    expect(bruno_page.locator("#tc-messages .tc-message").first).to_contain_text("Who covers tonight")


def _many_messages(team, author, count):
    from django_tenants.utils import schema_context

    from apps.teamchat.models import Room
    from apps.teamchat.services import message_send

    with schema_context(team.company.schema_name):
        room = Room.objects.get(name="Plantão")
        for n in range(count):
            message_send(actor=author, room=room, text=f"filler {n}")
