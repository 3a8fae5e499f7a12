"""Issue 12, acceptance 5: the inbox built for triage in Chromium, in English, Spanish and Portuguese.

Previews in the rows, the tab one lands on, labels that fit at 1280 and 390 px, search without
accents (names and message text), the team filter and "My teams", the "New conversation" dialog and
the contacts page. Every assertion is on what the user sees.
"""

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from apps.contacts.services import contact_create
from apps.conversations.models import Conversation
from apps.conversations.services import conversation_transfer
from apps.teams.models import Team, TeamMember
from tests.fixtures.browser import DESKTOP, PHONE, off_loop, screenshot, sign_in
from tests.fixtures.messaging import make_template, new_phone

pytestmark = [pytest.mark.live, pytest.mark.browser]

LANGUAGES = ["en", "es", "pt-BR"]
SOON = 2000  # ms: a live update, no reload
WORKER = 5000  # ms: a round trip through the worker on a busy 2-core machine
WORDS = {
    "en": {"all": "All", "unassigned": "Unassigned", "unread": "unread", "new": "New conversation",
           "contacts": "Contacts", "start": "Start conversation"},
    "es": {"all": "Todas", "unassigned": "Sin asignar", "unread": "sin leer", "new": "Nueva conversación",
           "contacts": "Contactos", "start": "Iniciar conversación"},
    "pt-BR": {"all": "Todas", "unassigned": "Sem atribuição", "unread": "não lidas", "new": "Nova conversa",
              "contacts": "Contatos", "start": "Iniciar conversa"},
}

# Every label of the tabs and every select's chosen text, measured as drawn: a label cut off (or a
# select whose text is wider than its box, arrow included) is listed; and the page never scrolls
# sideways.
OVERFLOWS = """() => {
    const problems = [];
    for (const label of document.querySelectorAll('.tab-label, .tab-figures')) {
        const tab = label.closest('.tab').getBoundingClientRect();
        if (label.scrollWidth > label.clientWidth + 1 || label.getBoundingClientRect().right > tab.right) {
            problems.push(`tab: ${label.textContent.trim()}`);
        }
    }
    const canvas = document.createElement('canvas').getContext('2d');
    for (const select of document.querySelectorAll('#inbox-filters select')) {
        const style = getComputedStyle(select);
        canvas.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 16;
        for (const option of select.options) {
            if (!option.value || ['active', 'any', 'none'].includes(option.value)) {
                const width = canvas.measureText(option.text).width;
                if (width > room) problems.push(`${select.id}: "${option.text}" ${Math.round(width)}px`);
            }
        }
    }
    if (document.documentElement.scrollWidth > window.innerWidth) problems.push('page scrolls sideways');
    return problems;
}"""


def speak(page, language: str) -> None:
    """The signed-in user switches language on the profile page and comes back to the inbox."""
    if language == "en":
        return
    page.goto("/app/profile/")
    page.select_option("#id_language", language)
    page.click("main form button[type=submit]")
    page.goto("/app/profile/")
    expect(page.locator("html")).to_have_attribute("lang", language.lower())


def open_inbox(page, path: str = "/app/") -> None:
    page.goto(path)
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")


def row_named(page, name: str):
    return page.locator(".conversation-row", has_text=name)


def in_schema(team, fn):
    def run():
        with schema_context(team.company.schema_name):
            return fn()
    return off_loop(run)


# --- preview and landing tab ----------------------------------------------------------------------

# Each flow in one language (the three are spread over the tests; every screen's translations are
# checked without a browser in tests/web/test_i18n.py): a browser test costs seconds.
@pytest.mark.parametrize("language", ["es"])
def test_an_agent_lands_on_the_waiting_work_and_reads_each_rows_last_message(chromium, team, language):
    words = WORDS[language]
    ana = team.add_user("ana", name="Ana Agent")
    carla = new_phone()
    team.customer_says("Olá!\nQuero saber do meu pedido 4521", phone=carla, name="Carla Cliente")
    page = sign_in(chromium, team, ana)
    speak(page, language)
    open_inbox(page)
    # Nothing is hers yet: she lands on the unassigned tab, which has the work.
    checked = page.locator(".tab:has(input:checked)")
    expect(checked).to_contain_text(words["unassigned"])
    row = row_named(page, "Carla Cliente")
    expect(row.locator(".preview")).to_have_text("Olá! Quero saber do meu pedido 4521")
    # The unread badge says what it counts, next to the tab's count.
    expect(checked.locator(".badge.unread")).to_have_text(f"1 {words['unread']}")
    # A new message replaces the preview live.
    team.customer_says("Alguém aí?", phone=carla, name="Carla Cliente")
    expect(row.locator(".preview")).to_have_text("Alguém aí?", timeout=SOON)
    # The badge counts conversations with unread messages: still one.
    expect(checked.locator(".badge.unread")).to_have_text(f"1 {words['unread']}")
    # Her last tab is remembered while it has work.
    page.locator(".tab", has_text=words["all"]).click()
    page.wait_for_url("**tab=all**")
    open_inbox(page)
    expect(page.locator(".tab:has(input:checked)")).to_contain_text(words["all"])
    screenshot(page, f"triage-landing-{language}")


@pytest.mark.parametrize("language", ["pt-BR"])  # the longest labels
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_tabs_and_filters_fit_their_labels(chromium, team, language, viewport):
    ana = team.add_user("ana", name="Ana Agent")

    def teams():
        sales = Team.objects.create(name="Vendas")
        TeamMember.objects.create(team=sales, user=ana)
        make_template(team.company, team.inbox)
    in_schema(team, teams)
    team.customer_says("Oi", name="Carla Cliente")
    page = sign_in(chromium, team, ana, viewport=viewport)
    speak(page, language)
    open_inbox(page)
    expect(page.locator(".tab")).to_have_count(4)
    screenshot(page, f"triage-filters-{language}-{viewport['width']}")
    assert page.evaluate(OVERFLOWS) == []


# --- search ---------------------------------------------------------------------------------------

def test_search_ignores_accents_and_finds_message_text(chromium, team):
    admin = team.add_user("alice", role="admin", name="Alice Admin")
    team.customer_says("Bom dia", name="João Araújo")
    team.customer_says("O código é ÁGUA-42 e não chegou", name="Maria Silva")
    team.customer_says("hello", name="Pedro Paz")
    page = sign_in(chromium, team, admin, path="/app/?tab=all")
    expect(page.locator(".conversation-row")).to_have_count(3)
    page.fill("#filter-q", "joao araujo")
    expect(page.locator(".conversation-row")).to_have_count(1)
    expect(row_named(page, "João Araújo")).to_be_visible()
    page.fill("#filter-q", "agua-42")
    expect(page.locator(".conversation-row")).to_have_count(1)
    expect(row_named(page, "Maria Silva")).to_be_visible()
    page.fill("#filter-q", "nao chegou")
    page.wait_for_url("**q=nao%20chegou**")  # the search is in the address, to share or reload
    expect(row_named(page, "Maria Silva")).to_be_visible()
    expect(page.locator(".conversation-row")).to_have_count(1)
    page.fill("#filter-q", "chegou joao")
    page.wait_for_url("**q=chegou%20joao**")
    expect(page.locator(".empty-list")).to_be_visible()


# --- teams --------------------------------------------------------------------------------------

def test_the_team_filter_and_my_teams(chromium, team):
    ana = team.add_user("ana", name="Ana Agent")
    admin = team.add_user("alice", role="admin", name="Alice Admin")
    names = {"Sam Sales": "Vendas", "Sue Support": "Suporte", "Nora Semtime": None}
    for name in names:
        team.customer_says("oi", name=name)

    def arrange():
        teams = {title: Team.objects.create(name=title) for title in ("Vendas", "Suporte")}
        TeamMember.objects.create(team=teams["Vendas"], user=ana)
        for name, title in names.items():
            if title:
                conversation = Conversation.objects.get(contact__name=name)
                conversation_transfer(conversation=conversation, actor=None, team=teams[title])
        return {title: t.pk for title, t in teams.items()}
    ids = in_schema(team, arrange)

    page = sign_in(chromium, team, ana, path="/app/?tab=teams")
    expect(page.locator(".conversation-row")).to_have_count(1)
    expect(row_named(page, "Sam Sales")).to_be_visible()
    expect(row_named(page, "Sam Sales").locator(".team-chip")).to_have_text("Vendas")
    # Her filter offers her own team only.
    expect(page.locator("#filter-team option")).to_have_text(["All", "No team", "Vendas"])

    boss = sign_in(chromium, team, admin, path="/app/?tab=all")
    expect(boss.locator(".conversation-row")).to_have_count(3)
    boss.select_option("#filter-team", str(ids["Suporte"]))
    expect(boss.locator(".conversation-row")).to_have_count(1)
    expect(row_named(boss, "Sue Support")).to_be_visible()
    boss.select_option("#filter-team", "none")
    expect(boss.locator(".conversation-row")).to_have_count(1)
    expect(row_named(boss, "Nora Semtime")).to_be_visible()


# --- the "New conversation" dialog ------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en"])
def test_an_agent_starts_a_conversation_from_the_dialog(chromium, team, language):
    words = WORDS[language]
    ana = team.add_user("ana", name="Ana Agent")
    off_loop(make_template, team.company, team.inbox)
    in_schema(team, lambda: contact_create(phone=new_phone(), name="João Araújo"))
    page = sign_in(chromium, team, ana)
    speak(page, language)
    open_inbox(page)
    page.get_by_role("button", name=words["new"]).click()
    dialog = page.locator("#new-conversation-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("#new-contact-q").fill("joao")
    dialog.get_by_label("João Araújo").check()
    preview = dialog.locator("#new-template-preview")
    expect(preview).to_have_text("Hi {{1}}, your order {{2}} shipped.")
    dialog.locator("#new-var1").fill("João")
    dialog.locator("#new-var2").fill("#4521")
    expect(preview).to_have_text("Hi João, your order #4521 shipped.")
    screenshot(page, f"triage-new-conversation-{language}")
    dialog.get_by_role("button", name=words["start"]).click()
    page.wait_for_url("**/app/c/*/")
    started = page.url.removeprefix(team.origin)
    expect(page.locator("#timeline")).to_contain_text("Hi João, your order #4521 shipped.")
    # It is hers, in her "Mine" tab, with the template as its preview.
    open_inbox(page, "/app/?tab=mine")
    preview_in_row = row_named(page, "João Araújo").locator(".preview")
    expect(preview_in_row).to_have_text("Hi João, your order #4521 shipped.")
    # A second one to the same contact is refused, with a way to the one in progress.
    page.get_by_role("button", name=words["new"]).click()
    dialog.locator("#new-contact-q").fill("araujo")
    dialog.get_by_label("João Araújo").check()
    dialog.locator("#new-var1").fill("x")
    dialog.locator("#new-var2").fill("y")
    dialog.get_by_role("button", name=words["start"]).click()
    expect(dialog.locator("#new-conversation-error")).to_be_visible()
    expect(dialog.locator("#new-conversation-error a")).to_have_attribute("href", started)


# --- contacts -------------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["pt-BR"])
def test_the_contacts_page_searches_filters_and_opens_a_contact(chromium, team, language):
    words = WORDS[language]
    ana = team.add_user("ana", name="Ana Agent")
    bruno = team.add_user("bruno", name="Bruno Agent")
    phone = new_phone()
    in_schema(team, lambda: contact_create(phone=phone, name="João Araújo", tags=["vip"],
                                           lead_status="qualified"))
    in_schema(team, lambda: contact_create(phone=new_phone(), name="Maria Souza", tags=["atacado"]))
    team.customer_says("Preciso de ajuda", phone=phone, name="João Araújo")
    page = sign_in(chromium, team, ana)
    speak(page, language)
    open_inbox(page)
    page.get_by_role("navigation").get_by_role("link", name=words["contacts"]).click()
    page.wait_for_url("**/app/contacts/")
    expect(page.locator(".contact-row")).to_have_count(2)
    page.fill("#contact-q", "joao araujo")
    expect(page.locator(".contact-row")).to_have_count(1)
    page.fill("#contact-q", "")
    expect(page.locator(".contact-row")).to_have_count(2)
    page.select_option("#contact-tag", "atacado")
    expect(page.locator(".contact-row")).to_have_count(1)
    expect(page.locator(".contact-row")).to_contain_text("Maria Souza")
    page.select_option("#contact-tag", "")
    expect(page.locator(".contact-row")).to_have_count(2)
    page.select_option("#contact-lead-status", "qualified")
    # One row is also what the tag filter left: wait for the lead status's own answer.
    expect(page.locator(".contact-row")).to_have_count(1)
    expect(page.locator(".contact-row")).to_contain_text("João Araújo")
    page.get_by_role("link", name="João Araújo").click()
    expect(page.locator("#contact-name")).to_have_text("João Araújo")
    expect(page.locator(".contact-conversations")).to_contain_text("Preciso de ajuda")
    screenshot(page, f"triage-contact-{language}")
    # Bruno takes it: Ana no longer sees that conversation on the contact's page.

    def take():
        from apps.conversations.services import conversation_assign
        conversation = Conversation.objects.get(contact__phone=phone)
        conversation_assign(conversation=conversation, assignee=bruno, actor=None)
    in_schema(team, take)
    page.reload()
    expect(page.locator(".contact-conversations")).to_have_count(0)
