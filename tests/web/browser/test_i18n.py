"""Issue 5, acceptance 5: switching to Español or Português shows no English string on the inbox,
conversation and settings screens.

An admin switches language on the profile page; on each screen Chromium's visible text (innerText,
line by line, with every menu opened and the notifications dropdown loaded) and the placeholder,
aria-label, title, alt and confirm texts of rendered elements are compared with the catalogue (see
tests/web/test_i18n.py): a line that is an English msgid whose translation differs fails the test,
which lists each such string per screen.
"""

import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from apps.conversations import outbound, services
from apps.conversations.models import Conversation
from apps.inboxes.models import Inbox
from tests.fixtures.browser import off_loop, screenshot, sign_in
from tests.fixtures.messaging import make_template, receive
from tests.web.test_i18n import LANGUAGES, EnglishFinder, english_strings, require_compiled

pytestmark = [pytest.mark.live, pytest.mark.browser]

COLLECT = """() => {
    const texts = document.body.innerText.split('\\n');
    texts.push(document.title);
    const attributes = ['placeholder', 'aria-label', 'title', 'alt', 'hx-confirm'];
    for (const element of document.querySelectorAll(attributes.map((a) => `[${a}]`).join(','))) {
        const rendered = element.checkVisibility() || element.hasAttribute('hx-confirm');
        if (!rendered) continue;
        for (const name of attributes) {
            const value = element.getAttribute(name);
            if (value) texts.push(value);
        }
    }
    return texts.map((text) => text.trim()).filter(Boolean);
}"""


def seed(team, admin) -> dict:
    """Conversations as an agent's day leaves them: one open with a reply, a note and events, one
    waiting, one closed. Inbox, names and texts are user data, never msgids ("Loja Centro")."""
    company = team.company

    def run():
        with schema_context(company.schema_name):
            Inbox.objects.filter(pk=team.inbox.pk).update(name="Loja Centro")
            inbox = Inbox.objects.get(pk=team.inbox.pk)
            make_template(company, inbox)
            services.quick_reply_create(actor=None, shortcut="ola", content="Olá {{contact.name}}!")
            active = receive(company, inbox, name="Carla Cliente",
                             text="Olá, meu pedido não chegou").conversation
            services.conversation_assign(conversation=active, assignee=admin, actor=admin)
            outbound.message_send(conversation=active, author=admin, text="Oi Carla, vou verificar")
            services.note_add(conversation=active, author=admin, text="Cliente fiel")
            services.conversation_set_priority(conversation=active, priority="high", actor=admin)
            services.conversation_set_labels(conversation=active, add=["vip"], actor=admin)
            receive(company, inbox, name="Davi Dias", text="Qual o horário de vocês?")
            closed = receive(company, inbox, name="Elisa Era", text="Obrigada!").conversation
            services.conversation_assign(conversation=closed, assignee=admin, actor=admin)
            services.conversation_close(conversation=Conversation.objects.get(pk=closed.pk), actor=admin,
                                        reason="resolvido", outcome="information")
            return {"active": active.pk, "closed": closed.pk, "inbox": inbox.pk}

    return off_loop(run)


def switch_language(page, language: str) -> None:
    page.goto("/app/profile/")
    page.select_option("#id_language", language)
    page.click("main form button[type=submit]")
    page.goto("/app/profile/")
    expect(page.locator("html")).to_have_attribute("lang", language.lower())


def shown_texts(page) -> list[str]:
    page.evaluate("() => document.querySelectorAll('details').forEach((menu) => { menu.open = true; })")
    return page.evaluate(COLLECT)


# One language in Chromium (what only a browser shows: the scripts' strings, live updates); every
# screen is checked in both languages without a browser in tests/web/test_i18n.py.
@pytest.mark.parametrize("language", ["pt-BR"])
def test_no_english_string_on_the_inbox_conversation_and_settings_screens(chromium, team, language):
    directory = LANGUAGES[language]
    require_compiled(directory)
    finder = EnglishFinder(english_strings(directory))
    admin = team.add_user("alice", role="admin", name="Alice Admin")
    ids = seed(team, admin)
    page = sign_in(chromium, team, admin)
    switch_language(page, language)

    screens = {
        "inbox": "/app/",
        "inbox, unassigned": "/app/?tab=unassigned",
        "conversation": f"/app/c/{ids['active']}/",
        "closed conversation": f"/app/c/{ids['closed']}/?tab=all&status=any",
        "settings": "/app/settings/",
        "settings, inboxes": "/app/settings/inboxes/",
        "settings, one inbox": f"/app/settings/inboxes/{ids['inbox']}/",
        "settings, quick replies": "/app/settings/quick-replies/",
        "settings, API keys": "/app/settings/api-keys/",
        "settings, branding": "/app/settings/branding/",
    }
    english = {}
    for name, path in screens.items():
        page.goto(path)
        # the script's own words: the connection state, once live
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        if name == "inbox":
            page.click("[data-toggle=notifications-panel]")
            expect(page.locator("#notifications-panel .notifications")).to_be_visible()
        if name == "conversation":
            page.click(".reply-button")  # the reply preview, written by the script
            expect(page.locator(".reply-preview")).to_be_visible()
        found = sorted({msgid for text in shown_texts(page) for msgid in finder.find(text)})
        if found:
            english[name] = found
            screenshot(page, f"i18n-{language}-{name.replace(', ', '-').replace(' ', '-')}")
    assert not english, f"English strings on the {language} screens:\n" + "\n".join(
        f"  {name}: {found}" for name, found in english.items()
    )
