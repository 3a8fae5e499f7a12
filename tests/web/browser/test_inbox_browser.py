"""The agents' UI in a real browser (issue 5's acceptance): Debian's Chromium, the live server, a worker.

Every assertion is on what the user sees; `expect(...)` waits, with the timeout the issue allows.
"""

import datetime as dt
import io
import re
import time
from urllib.parse import urlencode

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from PIL import Image
from playwright.sync_api import expect

from tenants.services import company_update
from tests.fixtures.browser import PHONE, make_team, off_loop, screenshot, sign_in
from tests.fixtures.clamd import EICAR
from tests.fixtures.messaging import make_template, new_phone, receive

pytestmark = [pytest.mark.live, pytest.mark.browser]

LIVE = 1000  # ms: "within 1 s without reload"
SOON = 2000  # ms: other live updates, for which the issue sets no figure (still without a reload)
WORKER = 5000  # ms: a round trip through the worker (send, scan) on a busy 2-core machine


def row_named(page, name: str):
    return page.locator(".conversation-row", has_text=name)


def outbox(team) -> list[dict]:
    """What the sandbox provider was given to send, newest first (the provider's side)."""
    response = team.api("get", f"/inboxes/{team.inbox.pk}/sandbox/outbox?limit=100")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def photo() -> bytes:
    image = Image.new("RGB", (640, 480), (30, 120, 200))
    for x in range(0, 640, 4):
        image.putpixel((x, (x * 7) % 480), (255, 220, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def record_attachment_states(page) -> None:
    """Keep every state the composer's attachment shows, however briefly it shows it."""
    page.evaluate("""() => {
        window.attachmentStates = [];
        const state = document.querySelector('#composer-form .attachment-state');
        new MutationObserver(() => {
            const last = window.attachmentStates[window.attachmentStates.length - 1];
            const now = state.dataset.state;
            if (now && now !== last) window.attachmentStates.push(now);
        }).observe(state, {attributes: true, attributeFilter: ['data-state']});
    }""")


# --- acceptance 1: a customer message, live; the reply and its ticks --------------------------------


def test_a_customer_message_from_the_sandbox_page_appears_live_and_the_reply_ticks_to_read(chromium, team):
    ana = team.add_user("ana", name="Ana Agent")
    # Whoever plays the customer signs in too; an admin, who still sees the conversation once Ana's
    # reply has made it hers (a company's default since issue 12).
    player = team.add_user("paula", role="admin", name="Paula Player")
    phone = new_phone()
    chat = urlencode({"inbox": team.inbox.pk, "phone": phone, "name": "Carla Cliente"})
    customer = sign_in(chromium, team, player, path=f"/app/sandbox/?{chat}")
    expect(customer.locator("#chat-heading")).to_have_text("Carla Cliente writing to Sandbox")
    agent = sign_in(chromium, team, ana, path="/app/?tab=unassigned")
    expect(agent.locator("[data-unread=unassigned]")).to_be_hidden()

    customer.fill("#id_text", "Oi, meu pedido não chegou")
    with customer.expect_response(lambda response: response.url.endswith("/send/")) as posted:
        customer.press("#id_text", "Enter")
    assert posted.value.ok

    # from the moment the message is posted: 1 s, no reload
    row = row_named(agent, "Carla Cliente")
    expect(row).to_be_visible(timeout=LIVE)
    expect(row).to_have_class(re.compile(r"\bunread\b"))
    expect(row.locator(".badge.unread")).to_have_text("1")
    expect(agent.locator("[data-unread=unassigned]")).to_have_text("1")
    expect(agent.locator("[data-count=unassigned]")).to_have_text("1")
    assert agent.url.endswith("/app/?tab=unassigned")
    said = customer.locator(".sandbox-message.inbound .bubble p").first
    expect(said).to_have_text("Oi, meu pedido não chegou")

    row.locator("a").click()
    expect(agent.locator("#timeline li.message.inbound .text")).to_have_text(["Oi, meu pedido não chegou"])
    composer = agent.locator("#composer-text")
    composer.fill("Vou verificar agora mesmo!")
    composer.press("Enter")

    reply = agent.locator("#timeline li.message.outbound", has_text="Vou verificar agora mesmo!")
    expect(reply).to_be_visible(timeout=SOON)
    on_phone = customer.locator(".sandbox-message.outbound", has_text="Vou verificar agora mesmo!")
    expect(on_phone).to_be_visible(timeout=WORKER)  # the page polls its thread every second
    # the customer's page acknowledges it (delivered, then read while visible): both sides show it
    expect(reply.locator(".ticks")).to_have_attribute("data-status", "read", timeout=WORKER)
    expect(on_phone).to_have_attribute("data-status", "read", timeout=WORKER)
    expect(agent.locator("#timeline li.message.outbound")).to_have_count(1)  # shown once
    screenshot(customer, "sandbox")
    sent = [item for item in outbox(team) if item["text"] == "Vou verificar agora mesmo!"]
    assert len(sent) == 1 and sent[0]["status"] == "read"
    agent.context.close()
    customer.context.close()


# --- acceptance 2: assignment moves conversations live; agents can't open others' --------------------


def test_a_message_that_comes_before_the_pages_socket_is_listening_still_shows(chromium, team):
    """Its frames went out before the socket subscribed: the page catches up when it connects."""
    ana = team.add_user("ana", name="Ana Agent")
    agent = sign_in(chromium, team, ana, path="/app/?tab=unassigned")
    said = []

    def late_token(route):  # the socket's token, fetched after the page rendered
        if not said:
            said.append(team.customer_says("Cheguei antes do socket", name="Rita Rapida"))
            wait_for_conversation(team, "Rita Rapida")
        route.continue_()

    agent.route("**/app/realtime-token/", late_token)
    agent.goto("/app/?tab=unassigned")
    expect(row_named(agent, "Rita Rapida")).to_be_visible(timeout=WORKER)
    expect(agent.locator("[data-count=unassigned]")).to_have_text("1")
    assert said


def wait_for_conversation(team, name: str) -> None:
    from apps.conversations.models import Conversation

    def exists():
        with schema_context(team.company.schema_name):
            return Conversation.objects.filter(contact__name=name).exists()

    deadline = time.monotonic() + WORKER / 1000
    while not off_loop(exists):
        assert time.monotonic() < deadline, "the worker never drained the message"
        time.sleep(0.05)


def test_assigning_to_b_moves_the_conversation_live_and_a_cannot_open_it(chromium, team):
    ana = team.add_user("ana", name="Ana Agent")
    bruno = team.add_user("bruno", name="Bruno Agent")
    sara = team.add_user("sara", role="supervisor", name="Sara Supervisor")
    team.customer_says("Preciso de ajuda com a fatura", name="Diego Cliente")
    a = sign_in(chromium, team, ana, path="/app/?tab=unassigned")
    b = sign_in(chromium, team, bruno, path="/app/?tab=mine")
    a_row = row_named(a, "Diego Cliente")
    expect(a_row).to_be_visible()
    expect(b.locator(".conversation-row")).to_have_count(0)
    expect(b.locator("[data-count=mine]")).to_have_text("0")
    conversation_id = a_row.get_attribute("data-id")

    supervisor = sign_in(chromium, team, sara, path=f"/app/c/{conversation_id}/")
    supervisor.get_by_text("Assign", exact=True).first.click()  # the "Assign" menu
    supervisor.select_option("#assignee", label="Bruno Agent")
    supervisor.locator("#conversation .menu-body button[type=submit]", has_text="Assign").click()

    expect(a_row).to_have_count(0, timeout=SOON)
    expect(a.locator("[data-count=unassigned]")).to_have_text("0", timeout=SOON)
    b_row = row_named(b, "Diego Cliente")
    expect(b_row).to_be_visible(timeout=SOON)
    expect(b.locator("[data-count=mine]")).to_have_text("1", timeout=SOON)
    expect(b_row.locator(".assignee")).to_have_text("Bruno Agent")

    response = a.goto(f"/app/c/{conversation_id}/")
    assert response.status == 404
    expect(a.locator("h1")).to_have_text("Not found")
    expect(a.get_by_text("Diego Cliente")).to_have_count(0)
    expect(a.get_by_text("Preciso de ajuda com a fatura")).to_have_count(0)
    for page in (a, b, supervisor):
        page.context.close()


# --- acceptance 3: attachments are scanned before they can be sent ----------------------------------


def open_new_conversation(chromium, team, customer: str):
    agent = sign_in(chromium, team, team.users["ana"], path="/app/?tab=unassigned")
    team.customer_says("Segue a foto do produto", name=customer)
    row_named(agent, customer).locator("a").click()
    expect(agent.locator("#composer-form")).to_be_visible()
    return agent


def test_an_attached_image_shows_scanning_then_its_thumbnail_and_is_sent(chromium, team):
    team.add_user("ana", name="Ana Agent")
    agent = open_new_conversation(chromium, team, "Elisa Cliente")
    record_attachment_states(agent)

    agent.set_input_files("#attach-file", files=[
        {"name": "produto.jpg", "mimeType": "image/jpeg", "buffer": photo()},
    ])

    state = agent.locator("#composer-form .attachment-state")
    expect(state).to_have_attribute("data-state", "clean", timeout=WORKER)
    expect(state).to_have_text("Ready to send")
    states = agent.evaluate("window.attachmentStates")
    assert "scanning" in states and states.index("scanning") < states.index("clean"), states
    agent.locator("#composer-text").press("Enter")

    image = agent.locator("#timeline li.message.outbound .media[data-media-state=clean] img")
    expect(image).to_be_visible(timeout=WORKER)
    expect(image).to_have_attribute("alt", "produto.jpg")
    # the thumbnail really loaded (a broken image has no natural size)
    assert agent.wait_for_function(
        "img => img.complete && img.naturalWidth > 0 && img.naturalWidth <= 320", arg=image.element_handle()
    )
    expect(agent.locator("#timeline li.message.outbound .ticks")).to_have_attribute(
        "data-status", "sent", timeout=WORKER
    )
    assert [item["kind"] for item in outbox(team)] == ["image"]
    agent.context.close()


def test_an_infected_attachment_shows_infected_removed_and_is_never_sent(chromium, team):
    team.add_user("ana", name="Ana Agent")
    agent = open_new_conversation(chromium, team, "Fabio Cliente")
    record_attachment_states(agent)

    agent.set_input_files("#attach-file", files=[
        {"name": "boleto.txt", "mimeType": "text/plain", "buffer": EICAR},
    ])

    state = agent.locator("#composer-form .attachment-state")
    expect(state).to_have_attribute("data-state", "infected", timeout=WORKER)
    expect(state).to_have_text("Infected, removed")
    assert "scanning" in agent.evaluate("window.attachmentStates")
    composer = agent.locator("#composer-text")
    composer.press("Enter")  # nothing left to send
    composer.fill("Não consegui enviar o arquivo")
    composer.press("Enter")

    reply = agent.locator("#timeline li.message.outbound")
    expect(reply).to_have_count(1)
    expect(reply.locator(".ticks")).to_have_attribute("data-status", "sent", timeout=WORKER)
    expect(reply.locator(".media")).to_have_count(0)
    time.sleep(0.5)  # a wrongly queued media send would have reached the provider by now
    sent = outbox(team)
    assert [(item["kind"], item["text"]) for item in sent] == [("text", "Não consegui enviar o arquivo")]
    agent.context.close()


# --- acceptance 4: outside the 24-hour window only templates ----------------------------------------


def test_with_the_window_closed_only_templates_are_offered_and_one_is_sent(chromium, team):
    ana = team.add_user("ana", name="Ana Agent")
    off_loop(make_template, team.company, team.inbox)
    long_ago = timezone.now() - dt.timedelta(hours=25)
    message = off_loop(receive, team.company, team.inbox, text="Quando chega?", name="Gilda Antiga",
                       at=long_ago)

    agent = sign_in(chromium, team, ana, path=f"/app/c/{message.conversation_id}/")

    expect(agent.locator("#timeline li.message.inbound")).to_have_count(1)
    expect(agent.locator("#composer-form")).to_have_count(0)
    expect(agent.locator("#composer-text")).to_have_count(0)
    expect(agent.locator("#attach-file")).to_have_count(0)
    expect(agent.locator(".window-closed [role=status]")).to_contain_text("24-hour window is closed")
    form = agent.locator("#template-form")
    expect(form).to_be_visible()
    expect(form.locator("[data-template-preview]")).to_have_text("Hi {{1}}, your order {{2}} shipped.")
    form.locator("input[name=var1]").fill("Gilda")
    form.locator("input[name=var2]").fill("#4711")
    form.get_by_role("button", name="Send template").click()

    sent = agent.locator("#timeline li.message.outbound")
    expect(sent).to_have_count(1, timeout=SOON)
    expect(sent.locator(".template-name")).to_contain_text("order_update")
    expect(sent.locator(".ticks")).to_have_attribute("data-status", "sent", timeout=WORKER)
    assert [item["kind"] for item in outbox(team)] == ["template"]
    agent.context.close()


# --- acceptance 6: sessions are per company; each host has its own branding --------------------------


def test_a_session_cookie_of_one_company_is_not_signed_in_on_another(chromium, team, asgi_server,
                                                                    make_live_company):
    other = make_team(asgi_server, make_live_company)
    off_loop(company_update, company=team.company, brand_name="Alfa Calçados", primary_color="#7c2d12")
    off_loop(company_update, company=other.company, brand_name="Bravo Móveis", primary_color="#166534")
    ana = team.add_user("ana", name="Ana Agent")
    a = sign_in(chromium, team, ana)
    expect(a.locator(".brand-text")).to_have_text("Alfa Calçados")
    session = next(c for c in a.context.cookies() if c["name"] == "sessionid")

    context = chromium.new_context(base_url=other.origin)
    context.add_cookies([{"name": "sessionid", "value": session["value"], "domain": other.host, "path": "/"}])
    page = context.new_page()
    page.goto("/app/")

    assert "/app/login/" in page.url
    expect(page.locator("#id_email")).to_be_visible()
    expect(page.locator(".brand-name")).to_have_text("Bravo Móveis")
    expect(page).to_have_title("Sign in · Bravo Móveis")
    expect(page.get_by_text("Alfa Calçados")).to_have_count(0)
    color = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--brand').trim()")
    assert color == "#166534"
    context.close()
    a.context.close()


# --- keyboard and ordering -------------------------------------------------------------------------


def test_j_and_k_move_the_selection_and_enter_sends_while_shift_enter_adds_a_line(chromium, team):
    ana = team.add_user("ana", name="Ana Agent")
    for name in ("Hugo Um", "Iris Dois", "Joao Tres"):
        team.customer_says(f"Olá, aqui é {name}", name=name)
    agent = sign_in(chromium, team, ana, path="/app/?tab=unassigned")
    rows = agent.locator(".conversation-row .name")
    expect(rows).to_have_text(["Joao Tres", "Iris Dois", "Hugo Um"])  # newest activity first

    agent.keyboard.press("j")
    expect(agent.locator(".conversation-row.selected .name")).to_have_text("Joao Tres")
    expect(agent.locator("#conversation h2")).to_have_text("Joao Tres")
    agent.keyboard.press("j")
    expect(agent.locator(".conversation-row.selected .name")).to_have_text("Iris Dois")
    expect(agent.locator("#conversation h2")).to_have_text("Iris Dois")
    agent.keyboard.press("j")
    expect(agent.locator("#conversation h2")).to_have_text("Hugo Um")
    agent.keyboard.press("k")
    expect(agent.locator(".conversation-row.selected .name")).to_have_text("Iris Dois")
    expect(agent.locator("#conversation h2")).to_have_text("Iris Dois")
    expect(agent.locator("#timeline li.message.inbound .text")).to_have_text(["Olá, aqui é Iris Dois"])
    # keys pressed quickly end on the highlighted row's conversation, never an earlier, slower answer
    for key in "kjjkk":
        agent.keyboard.press(key)
    expect(agent.locator(".conversation-row.selected .name")).to_have_text("Joao Tres")
    expect(agent.locator("#conversation h2")).to_have_text("Joao Tres")
    time.sleep(0.5)  # what was still in flight has landed by now
    assert agent.locator("#conversation h2").inner_text() == "Joao Tres"
    assert agent.locator(".conversation-row.selected .name").all_inner_texts() == ["Joao Tres"]

    composer = agent.locator("#composer-text")
    composer.click()
    composer.press_sequentially("Primeira linha")
    composer.press("Shift+Enter")
    composer.press_sequentially("Segunda linha")
    expect(composer).to_have_value("Primeira linha\nSegunda linha")
    expect(agent.locator("#timeline li.message.outbound")).to_have_count(0)
    composer.press("Enter")

    sent = agent.locator("#timeline li.message.outbound .text")
    expect(sent).to_have_count(1, timeout=SOON)
    expect(sent).to_have_text("Primeira linha\nSegunda linha", use_inner_text=True)
    expect(composer).to_have_value("")
    agent.context.close()


def test_a_message_received_while_on_the_inbox_bumps_its_row_to_the_top(chromium, team):
    ana = team.add_user("ana", name="Ana Agent")
    phones = {}
    for name in ("Kiko Velho", "Lara Meio", "Mario Novo"):
        phones[name] = new_phone()
        team.customer_says(f"Olá, aqui é {name}", name=name, phone=phones[name])
    agent = sign_in(chromium, team, ana, path="/app/?tab=unassigned")
    names = agent.locator(".conversation-row .name")
    expect(names).to_have_text(["Mario Novo", "Lara Meio", "Kiko Velho"])

    team.customer_says("Ainda estou esperando!", name="Kiko Velho", phone=phones["Kiko Velho"])

    expect(names).to_have_text(["Kiko Velho", "Mario Novo", "Lara Meio"], timeout=LIVE)
    expect(row_named(agent, "Kiko Velho").locator(".badge.unread")).to_have_text("2")
    agent.context.close()


# --- acceptance 8: screenshots of the main screens, on every run ------------------------------------


def test_full_page_screenshots_of_the_main_screens_are_saved(chromium, team):
    admin = team.add_user("alice", role="admin", name="Alice Admin")
    for name in ("Nina Cliente", "Otto Cliente"):
        team.customer_says(f"Bom dia! Sou {name} e tenho uma dúvida sobre o pedido.", name=name)
    context = chromium.new_context(base_url=team.origin, viewport={"width": 1280, "height": 800})
    login = context.new_page()
    login.goto("/app/login/")
    expect(login.locator(".brand-name")).to_be_visible()
    saved = [screenshot(login, "login")]
    context.close()

    page = sign_in(chromium, team, admin, path="/app/?tab=all")
    expect(page.locator(".conversation-row")).to_have_count(2)
    saved.append(screenshot(page, "inbox"))
    row_named(page, "Otto Cliente").locator("a").click()
    expect(page.locator("#timeline li.message.inbound")).to_have_count(1)
    saved.append(screenshot(page, "conversation"))
    settings = page.goto("/app/settings/")
    assert settings.status == 200
    expect(page.locator("main h1")).to_be_visible()
    saved.append(screenshot(page, "settings"))
    page.context.close()

    phone = sign_in(chromium, team, admin, viewport=PHONE, path="/app/?tab=all")
    expect(phone.locator(".conversation-row")).to_have_count(2)
    saved.append(screenshot(phone, "inbox-phone"))
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the phone inbox scrolls sideways ({width} px)"
    phone.context.close()

    for path in saved:
        assert path.stat().st_size > 5000, path


def test_a_refused_click_says_why_instead_of_doing_nothing(chromium, team):
    """A rate limit (429 with Retry-After), a server error or a lost connection on an htmx action
    is said in the page's alert region, in the user's language."""
    ana = team.add_user("ana", role="admin", name="Ana Admin")
    page = sign_in(chromium, team, ana)
    flash = page.locator("#flash")
    bell = page.locator("#notifications-menu button")

    page.route("**/app/notifications/**", lambda route: route.fulfill(
        status=429, headers={"Retry-After": "42"}, body="Too many requests."))
    bell.click()
    expect(flash).to_have_text("Too many requests: try again in 42 s.", timeout=SOON)
    expect(flash).to_have_attribute("role", "alert")

    page.unroute("**/app/notifications/**")
    page.route("**/app/notifications/**", lambda route: route.fulfill(status=500, body="boom"))
    bell.click()
    expect(flash).to_have_text(re.compile("Something went wrong on our side"), timeout=SOON)

    page.unroute("**/app/notifications/**")
    page.route("**/app/notifications/**", lambda route: route.abort())
    bell.click()
    expect(flash).to_have_text(re.compile("No connection"), timeout=SOON)
    page.context.close()
