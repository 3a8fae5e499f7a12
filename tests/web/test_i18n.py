"""Español and Português (Brasil): no English string of the catalogue on the agents' screens.

Each page is rendered through Django's test client for an admin whose language is set on the profile
page; its text nodes and the attributes people read (placeholder, aria-label, title, alt, confirm
prompts) and the words the page script shows (`ui-strings`) are compared with the catalogue: a text
that is an English msgid whose translation differs means a string was not translated (or not
compiled). User data (names, messages) never equals a msgid, so it passes.

The browser test (tests/web/browser/test_i18n.py) makes the same check on what Chromium shows.
"""

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.conversations.models import Conversation
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, make_template, new_phone, receive
from tests.web.test_pages import signed_in

LOCALE = Path(__file__).resolve().parents[2] / "locale"
# The language as users choose it on their profile → the catalogue's directory.
LANGUAGES = {"es": "es", "pt-BR": "pt_BR"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
VARIABLE = re.compile(r"\{\{[^}]*\}\}")  # {{1}}, {{contact.name}}: kept as they are
# Read by people: shown, spoken by screen readers, or asked in a confirm dialog.
READ_ATTRIBUTES = ("placeholder", "aria-label", "title", "alt", "hx-confirm")
# Pieces of one text: "Inbox · Acme", "Template: order_update", "⏳ Scanning: photo.jpg".
SEPARATORS = re.compile(r"\s+[·—|]\s+|:\s+|\n")
SYMBOLS = " \t\u00a0·—–-|:←→×⏳⛔📎🔔✓•"


# --- the catalogue ----------------------------------------------------------------------------------

def _unquote(text: str) -> str:
    return json.loads(text)  # a .po string literal is a JSON string for everything msgfmt writes


def read_po(path: Path) -> list[dict]:
    """The entries of a .po file: msgctxt, msgid, msgid_plural, msgstr (a list), flags."""
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip()):
        entry = {"msgctxt": None, "msgid": None, "msgid_plural": None, "msgstr": [], "flags": set()}
        field = None
        for line in block.splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif match := re.match(r"(msgctxt|msgid_plural|msgid|msgstr)(?:\[\d+\])?\s+(\".*\")$", line):
                key, value = match.groups()
                if key == "msgstr":
                    entry["msgstr"].append(_unquote(value))
                    field = ("msgstr", len(entry["msgstr"]) - 1)
                else:
                    entry[key] = _unquote(value)
                    field = (key, None)
            elif line.startswith('"') and field:
                key, index = field
                if index is None:
                    entry[key] += _unquote(line)
                else:
                    entry[key][index] += _unquote(line)
        if entry["msgid"] is not None:
            entries.append(entry)
    return entries


def po_path(directory: str) -> Path:
    return LOCALE / directory / "LC_MESSAGES" / "django.po"


def require_compiled(directory: str) -> None:
    po = po_path(directory)
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        pytest.fail(f"{mo.relative_to(LOCALE.parent)} is missing or older than its .po: the pages would "
                    "show English. Run deploy/bootstrap.sh (it compiles the translations with msgfmt).")


def english_strings(directory: str) -> dict[str, str]:
    """English text → its translation, for every msgid (and plural) whose translation differs.

    An untranslated or fuzzy entry counts as translated to "": Django shows the English then."""
    english = {}
    for entry in read_po(po_path(directory))[1:]:
        usable = "fuzzy" not in entry["flags"]
        forms = [entry["msgid"]] + ([entry["msgid_plural"]] if entry["msgid_plural"] else [])
        for index, text in enumerate(forms):
            translated = entry["msgstr"][min(index, len(entry["msgstr"]) - 1)] if usable else ""
            if text and translated != text:
                english[text] = translated
    return english


class EnglishFinder:
    def __init__(self, english: dict[str, str]):
        self.exact = {text for text in english if not PLACEHOLDER.search(text)}
        self.patterns = [
            (re.compile(".+".join(re.escape(part) for part in PLACEHOLDER.split(text))), text)
            for text in english if PLACEHOLDER.search(text)
        ]

    def find(self, text: str) -> set[str]:
        found = set()
        candidates = {text.strip(), *SEPARATORS.split(text)}
        for candidate in candidates:
            candidate = " ".join(candidate.split()).strip(SYMBOLS)
            if not candidate:
                continue
            if candidate in self.exact:
                found.add(candidate)
            found.update(msgid for pattern, msgid in self.patterns if pattern.fullmatch(candidate))
        return found


# --- what a page shows ------------------------------------------------------------------------------

class ReadableText(HTMLParser):
    """Text nodes (not scripts or styles), read attributes, and the `ui-strings` the script shows."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self.skip = 0
        self.ui_strings = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in READ_ATTRIBUTES:
            if attrs.get(name):
                self.texts.append(attrs[name])
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.texts.append(attrs["value"])
        if tag in ("script", "style"):
            self.skip += 1
            self.ui_strings = attrs.get("id") == "ui-strings"

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
            self.ui_strings = False

    def handle_data(self, data):
        if self.ui_strings:
            self.texts.extend(str(value) for value in json.loads(data).values())
        elif not self.skip and data.strip():
            self.texts.append(data)


def readable_texts(html: str) -> list[str]:
    parser = ReadableText()
    parser.feed(html)
    parser.close()
    return parser.texts


def english_on(html: str, finder: EnglishFinder) -> set[str]:
    return {found for text in readable_texts(html) for found in finder.find(text)}


# --- the catalogues themselves ------------------------------------------------------------------------

@pytest.mark.parametrize("directory", sorted(LANGUAGES.values()))
def test_every_string_is_translated_and_compiled(directory):
    require_compiled(directory)
    entries = read_po(po_path(directory))
    header = entries[0]["msgstr"][0]
    expected_plural = {"es": "nplurals=2; plural=(n != 1);", "pt_BR": "nplurals=2; plural=(n > 1);"}
    assert f"Plural-Forms: {expected_plural[directory]}" in header
    assert f"Language: {directory}" in header
    problems = []
    for entry in entries[1:]:
        if "fuzzy" in entry["flags"]:
            problems.append(f"fuzzy: {entry['msgid']!r}")
        if not entry["msgstr"] or not all(entry["msgstr"]):
            problems.append(f"untranslated: {entry['msgid']!r}")
        wanted = set(PLACEHOLDER.findall(entry["msgid"] + (entry["msgid_plural"] or "")))
        for translated in filter(None, entry["msgstr"]):
            if not set(PLACEHOLDER.findall(translated)) <= wanted:
                problems.append(f"placeholders differ: {entry['msgid']!r} → {translated!r}")
            if VARIABLE.findall(translated) != VARIABLE.findall(entry["msgid"]):
                problems.append(f"{{{{variables}}}} differ: {entry['msgid']!r} → {translated!r}")
    assert not problems, "\n".join(problems)


def test_the_finder_tells_english_from_translations():
    finder = EnglishFinder({"Inbox": "Bandeja de entrada", "%(actor)s assigned it to %(user)s": "x",
                            "Scanning": "Analizando"})
    assert finder.find("Inbox · Acme") == {"Inbox"}
    assert finder.find("Alice assigned it to Bruno · 10:02") == {"%(actor)s assigned it to %(user)s"}
    assert finder.find("⏳ Scanning: photo.jpg") == {"Scanning"}
    assert finder.find("Bandeja de entrada · Acme") == set()
    assert finder.find("Hi, my inbox is full") == set()


# --- the screens ----------------------------------------------------------------------------------------

@pytest.fixture
def screens(alpha, django_capture_on_commit_callbacks):
    """A company with conversations in every state the screens show, and an admin to look at them.

    Names and texts are user data that must not be msgids ("Loja Centro", not "Sandbox")."""
    inbox = make_inbox(alpha, name="Loja Centro")
    cloud = make_inbox(alpha, name="Loja Cloud", provider="whatsapp_cloud", credentials={
        "phone_number_id": "1098765", "business_account_id": "2098765", "access_token": "EAAG-secret",
        "app_secret": "shh",
    })
    twilio = make_inbox(alpha, name="Loja Twilio", provider="twilio", credentials={
        "account_sid": "AC123", "auth_token": "tw-secret", "from_number": "+5511999990000",
    })
    make_template(alpha, inbox)
    admin = make_user(alpha, role="admin", name="Alice Admin")
    make_user(alpha, role="agent", name="Bruno Barros")
    phone = new_phone()
    active = receive(alpha, inbox, phone=phone, name="Carla Cliente",
                     text="Olá, meu pedido não chegou").conversation_id
    receive(alpha, inbox, name="Davi Dias", text="Qual o horário de vocês?")
    closed = receive(alpha, inbox, name="Elisa Era", text="Obrigada!").conversation_id
    old = receive(alpha, inbox, name="Fábio Antigo", text="Oi?").conversation_id
    with schema_context(alpha.schema_name):
        two_days_ago = timezone.now() - dt.timedelta(days=2)
        Conversation.objects.filter(pk=old).update(last_inbound_at=two_days_ago)
    connection.set_schema_to_public()
    return {"alpha": alpha, "admin": admin, "inbox": inbox, "cloud": cloud, "twilio": twilio,
            "active": active, "closed": closed, "old": old, "capture": django_capture_on_commit_callbacks}


def visit_every_screen(alpha, browser, s) -> dict[str, str]:
    """path → HTML of the inbox, the conversations, the settings pages (also after writes and with
    errors), the profile, the sandbox and the notifications."""
    active, closed = s["active"], s["closed"]
    # The conversation gets messages, a note and events of every kind the timeline shows.
    for path, data in [
        (f"/app/c/{active}/assign_me/", {}),
        (f"/app/c/{active}/send/", {"text": "Oi Carla, vou verificar"}),
        (f"/app/c/{active}/send/", {"text": "Cliente fiel", "mode": "note"}),
        (f"/app/c/{active}/priority/", {"priority": "high"}),
        (f"/app/c/{active}/add_label/", {"label": "vip"}),
        (f"/app/c/{active}/status/", {"status": "pending"}),
        (f"/app/c/{active}/assign/", {"assignee_id": s["admin"].pk, "reason": ""}),
        (f"/app/c/{closed}/assign_me/", {}),
        (f"/app/c/{closed}/close/", {"reason": "resolvido", "outcome": "information"}),
    ]:
        assert browser.post(path, data).status_code == 200, path
    pages = {}

    def get(path):
        response = browser.get(path)
        assert response.status_code == 200, (path, response.status_code)
        pages[path] = response.content.decode()

    def post(name, path, data, status=(200,)):
        response = browser.post(path, data)
        assert response.status_code in status, (path, response.status_code)
        pages[name] = response.content.decode()

    for path in ("/app/", "/app/?tab=unassigned", "/app/?tab=all&status=any", f"/app/c/{active}/",
                 f"/app/c/{closed}/", f"/app/c/{s['old']}/", "/app/notifications/", "/app/profile/",
                 "/app/sandbox/", f"/app/sandbox/?inbox={s['inbox'].pk}&phone=%2B5511987654321&name=Gil",
                 "/app/profile/security/", "/app/team-chat/"):
        get(path)
    # Security: the authenticator set-up (QR code, key) and a wrong code's refusal.
    browser.post("/app/profile/security/", {"step": "start"})
    get("/app/profile/security/")
    post("two-factor wrong code", "/app/profile/security/", {"step": "enable", "code": "12"},
         status=(422,))
    # Refused actions explain why, in the user's language.
    post("refused status", f"/app/c/{active}/status/", {"status": "archived"})
    post("refused send", f"/app/c/{active}/send/", {"text": "x" * 4097})
    post("refused label", f"/app/c/{active}/add_label/", {"label": ""})
    # Settings: each page, with data, after each write, and with a form's errors.
    post("user created", "/app/settings/users/",
         {"email": "nova@example.com", "name": "Nova", "role": "agent"})
    post("user form errors", "/app/settings/users/", {"email": "not-an-email"}, status=(422,))
    post("inbox form errors", "/app/settings/inboxes/", {"provider": "whatsapp_cloud", "name": ""},
         status=(422,))
    browser.post("/app/settings/inboxes/",
                 {"name": "Loja Nova", "provider": "sandbox", "rate_limit_per_second": 5})
    get("/app/settings/inboxes/")  # with the "created" message
    browser.post("/app/settings/quick-replies/", {"shortcut": "ola", "content": "Olá {{contact.name}}!",
                                                  "scope": "global"})
    get("/app/settings/quick-replies/")
    post("quick reply errors", "/app/settings/quick-replies/", {"shortcut": "Não Vale"}, status=(422,))
    post("api key created", "/app/settings/api-keys/", {"name": "ERP", "scopes": ["users:read"]},
         status=(201,))
    post("api key errors", "/app/settings/api-keys/", {"name": ""}, status=(422,))
    for path in ("/app/settings/users/", f"/app/settings/inboxes/{s['inbox'].pk}/",
                 f"/app/settings/inboxes/{s['cloud'].pk}/", f"/app/settings/inboxes/{s['twilio'].pk}/",
                 "/app/settings/api-keys/", "/app/settings/branding/"):
        get(path)
    post("template errors", f"/app/settings/inboxes/{s['inbox'].pk}/templates/", {"name": "Bad Name"},
         status=(200, 422))
    # Contacts → lists and segments, with one of each, and a contact's page (merge, erasure).
    list_url = browser.post("/app/contacts/lists/", {"name": "Clientes fiéis"})["Location"]
    segment = {"name": "Qualificados", "lead_status": "qualified"}
    segment_url = browser.post("/app/contacts/segments/", segment)["Location"]
    post("list errors", "/app/contacts/lists/", {"name": ""}, status=(422,))
    for path in ("/app/contacts/", "/app/contacts/lists/", "/app/contacts/segments/", list_url, segment_url,
                 "/app/contacts/segments/count/?lead_status=qualified"):
        get(path)
    get(re.search(r'href="(/app/contacts/\d+/)"', pages["/app/contacts/"]).group(1))
    # Contacts → Import (form, mapping, progress with errors) and Exports.
    from django.core.files.uploadedfile import SimpleUploadedFile

    sheet = b"Telefone;Nome;E-mail\n+5511974000001;Gil;gil@exemplo.com\n+5511974000002;Ivo;errado\n"
    get("/app/contacts/")
    get("/app/contacts/import/")
    pages["import mapping"] = browser.post("/app/contacts/import/preview/",
                                           {"file": SimpleUploadedFile("l.csv", sheet)}).content.decode()
    post("import refused", "/app/contacts/import/", {"file": SimpleUploadedFile("l.csv", b"nome\nGil\n")},
         status=(422,))
    with s["capture"](execute=True):
        started = browser.post("/app/contacts/import/", {"file": SimpleUploadedFile("l.csv", sheet)})
        browser.post("/app/exports/", {"entity": "contacts", "format": "xlsx"})
    get(started["Location"])
    get("/app/exports/")
    # Campaigns: the list, the builder (and its errors), a draft's page, a cancelled one's report.
    contact_id = re.search(r'href="/app/contacts/(\d+)/"', pages["/app/contacts/"]).group(1)
    list_id = re.search(r"/lists/(\d+)/", list_url).group(1)
    browser.post("/app/contacts/add-to-list/", {"list_id": list_id, "contact_ids": [contact_id]})
    post("campaign errors", "/app/campaigns/new/", {"name": "", "kind": "text"}, status=(422,))
    campaign_url = browser.post("/app/campaigns/new/", {
        "name": "Promoção", "inbox_id": s["inbox"].pk, "list_ids": [list_id], "kind": "text",
        "text": "Oi {{contact.first_name}}", "timezone": "UTC",
    })["Location"]
    for path in ("/app/campaigns/", "/app/campaigns/new/", campaign_url, f"{campaign_url}edit/",
                 f"/app/campaigns/audience-count/?list_ids={list_id}",
                 f"/app/campaigns/preview/?kind=text&text=Oi&preview_contact={contact_id}"):
        get(path)
    browser.post(f"{campaign_url}cancel/")
    get(campaign_url)
    return pages


@pytest.mark.django_db
@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_no_english_on_the_screens(screens, language):
    directory = LANGUAGES[language]
    require_compiled(directory)
    finder = EnglishFinder(english_strings(directory))
    alpha = screens["alpha"]
    browser = signed_in(alpha, screens["admin"])
    assert browser.post("/app/profile/", {"name": "Alice Admin", "language": language}).status_code == 200

    pages = visit_every_screen(alpha, browser, screens)
    assert f'lang="{language.lower()}"' in pages["/app/"]
    english = {name: sorted(english_on(html, finder)) for name, html in pages.items()}
    english = {name: found for name, found in english.items() if found}
    assert not english, f"English strings on the {language} screens:\n" + "\n".join(
        f"  {name}: {found}" for name, found in english.items()
    )


@pytest.mark.django_db
def test_the_conversation_page_keeps_the_inbox_status_filter(screens):
    """The full conversation page shows the list's filter with its own choices ("Activas" first), not
    the statuses the open conversation may move to."""
    browser = signed_in(screens["alpha"], screens["admin"])
    browser.post("/app/profile/", {"name": "Alice Admin", "language": "es"})
    html = browser.get(f"/app/c/{screens['active']}/").content.decode()
    status_filter = re.search(r'<select id="filter-status".*?</select>', html, re.S).group(0)
    assert re.search(r'<option value="active"\s+selected>Activas</option>', status_filter)
    assert 'value="any"' in status_filter
