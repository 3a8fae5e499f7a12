"""Admin settings pages through Django's test client: access, each write, secrets, plan limits, isolation."""

import re

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.models import ApiKey, User
from apps.conversations.models import QuickReply
from apps.inboxes.models import Inbox, MessageTemplate
from tests.fixtures.factories import make_user, unique_email
from tests.fixtures.messaging import make_inbox, make_template
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db

META_SECRETS = {"access_token": "EAAG-very-secret-access-token", "app_secret": "meta-app-secret-42"}
TWILIO_SECRET = "twilio-auth-token-0123456789"

SETTINGS_PAGES = (
    "/app/settings/users/", "/app/settings/inboxes/", "/app/settings/quick-replies/",
    "/app/settings/api-keys/", "/app/settings/branding/",
)


@pytest.fixture
def admin(alpha):
    return make_user(alpha, role="admin", name="Alice Admin")


@pytest.fixture
def browser(alpha, admin):
    return signed_in(alpha, admin)


def text_of(response) -> str:
    return response.content.decode()


# --- access ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_company_settings_are_404_for_non_admins_who_keep_their_quick_replies(alpha, role):
    inbox = make_inbox(alpha)
    browser = signed_in(alpha, make_user(alpha, role=role))
    company_pages = [page for page in SETTINGS_PAGES if page != "/app/settings/quick-replies/"]
    for path in (*company_pages, f"/app/settings/inboxes/{inbox.pk}/"):
        assert browser.get(path).status_code == 404, path
    # Quick replies are everyone's (personal ones; shared ones for supervisors), as on the API.
    assert browser.get("/app/settings/").headers["Location"] == "/app/settings/quick-replies/"
    page = text_of(browser.get("/app/settings/quick-replies/"))
    assert "Only me" in page and ("Everyone in the company" in page) == (role == "supervisor")
    assert browser.post("/app/settings/users/", {"email": unique_email(), "role": "admin"}).status_code == 404
    assert browser.post("/app/settings/api-keys/", {"name": "x", "scopes": ["users:read"]}).status_code == 404
    # The settings nav offers the quick replies alone.
    page = text_of(browser.get("/app/settings/quick-replies/"))
    nav = page.split('class="settings-nav"')[1].split("</nav>")[0]
    assert "quick-replies" in nav and "/app/settings/users/" not in nav and "api-keys" not in nav


def test_admin_sees_every_settings_page(browser):
    assert browser.get("/app/settings/").status_code == 302
    for path in SETTINGS_PAGES:
        page = browser.get(path)
        assert page.status_code == 200, path
        assert 'aria-current="page"' in text_of(page)


def test_settings_need_a_session(alpha):
    from tests.web.test_pages import Browser

    response = Browser(alpha).get("/app/settings/users/")
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")


# --- users ----------------------------------------------------------------------------------------

def test_admin_creates_a_user_with_a_generated_password_shown_once(alpha, browser):
    email = unique_email("new-agent")
    page = browser.post("/app/settings/users/", {"email": email, "name": "Nuno New", "role": "agent"})
    assert page.status_code == 200
    html = text_of(page)
    password = re.search(r'<code id="shown-password">([^<]+)</code>', html).group(1)
    assert email in html and "Nuno New" in html
    assert page["Cache-Control"] == "no-store"
    # The password works, and it is not shown again.
    with schema_context(alpha.schema_name):
        created = User.objects.get(email=email)
        assert created.check_password(password) and created.role == "agent"
    assert password not in text_of(browser.get("/app/settings/users/"))


def test_admin_creates_a_user_with_a_given_password(alpha, browser):
    email = unique_email("given")
    page = browser.post("/app/settings/users/", {
        "email": email, "name": "Gil", "role": "supervisor", "password": "a-long-enough-pass-99",
    })
    assert page.status_code == 200 and 'id="shown-password"' not in text_of(page)
    with schema_context(alpha.schema_name):
        assert User.objects.get(email=email).check_password("a-long-enough-pass-99")


def test_user_form_errors_are_next_to_their_fields(alpha, browser, admin):
    page = browser.post("/app/settings/users/", {"email": "not-an-email", "role": "agent"})
    assert page.status_code == 422
    assert re.search(r'aria-describedby="id_email_error"', text_of(page))
    assert 'id="id_email_error"' in text_of(page)

    taken = browser.post("/app/settings/users/", {"email": admin.email, "role": "agent"})
    assert taken.status_code == 409
    assert "A user with this email already exists." in text_of(taken)
    assert 'id="id_email_error"' in text_of(taken)

    weak = browser.post("/app/settings/users/", {"email": unique_email(), "role": "agent", "password": "123"})
    assert weak.status_code == 422 and 'id="id_password_error"' in text_of(weak)


def test_plan_limit_shows_the_message_and_creates_nothing(make_company):
    company = make_company(plan="free")  # 3 agents
    with schema_context(company.schema_name):
        owner = User.objects.get(role="admin")
    make_user(company, name="Second")
    make_user(company, name="Third")
    browser = signed_in(company, owner)
    listing = text_of(browser.get("/app/settings/users/"))
    assert "3 of 3 agents" in listing

    email = unique_email("fourth")
    refused = browser.post("/app/settings/users/", {"email": email, "role": "agent"})
    assert refused.status_code == 403
    assert "Your plan allows 3; you are using 3." in text_of(refused)
    assert 'role="alert"' in text_of(refused)
    with schema_context(company.schema_name):
        assert not User.objects.filter(email=email).exists()
        assert User.objects.count() == 3


def test_admin_changes_a_role_and_deactivates_a_user(alpha, browser, admin):
    agent = make_user(alpha, name="Rita Role")
    changed = browser.post(f"/app/settings/users/{agent.pk}/role/", {"role": "supervisor"})
    assert changed.status_code == 302
    assert "Role changed." in text_of(browser.get("/app/settings/users/"))

    # htmx swaps just the row
    row = browser.post(f"/app/settings/users/{agent.pk}/deactivate/", HX_Request="true")
    assert row.status_code == 200 and text_of(row).lstrip().startswith(f'<tr id="user-{agent.pk}"')
    with schema_context(alpha.schema_name):
        agent.refresh_from_db()
        assert agent.role == "supervisor" and not agent.is_active

    # refusals of the service show, and change nothing
    own = browser.post(f"/app/settings/users/{admin.pk}/role/", {"role": "agent"}, HX_Request="true")
    assert "You cannot remove your own admin role." in text_of(own)
    browser.post(f"/app/settings/users/{admin.pk}/deactivate/")
    assert "You cannot deactivate yourself." in text_of(browser.get("/app/settings/users/"))
    with schema_context(alpha.schema_name):
        admin.refresh_from_db()
        assert admin.role == "admin" and admin.is_active


# --- inboxes and templates -----------------------------------------------------------------------

def test_sandbox_inbox_create_edit_and_its_secret(alpha, browser):
    created = browser.post("/app/settings/inboxes/", {
        "name": "Demo line", "provider": "sandbox", "rate_limit_per_second": "5",
    })
    assert created.status_code == 302
    with schema_context(alpha.schema_name):
        inbox = Inbox.objects.get(pk=int(created["Location"].rstrip("/").rsplit("/", 1)[1]))
    page = text_of(browser.get(created["Location"]))
    assert "Inbox created." in page and inbox.sandbox_token in page
    assert f"/hooks/sandbox/{inbox.pk}" in page
    assert "Demo line" in text_of(browser.get("/app/settings/inboxes/"))

    saved = browser.post(f"/app/settings/inboxes/{inbox.pk}/", {
        "name": "Demo line 2", "rate_limit_per_second": "7", "reopen_window_hours": "48",
        "greeting_message": "Hi! We answer within minutes.", "away_message": "We are closed.",
    })
    assert saved.status_code == 302
    assert "Hi! We answer within minutes." in text_of(browser.get(saved["Location"]))
    with schema_context(alpha.schema_name):
        inbox.refresh_from_db()
        assert (inbox.name, inbox.rate_limit_per_second, inbox.reopen_window_hours) == ("Demo line 2", 7, 48)
        assert inbox.away_message == "We are closed."

    invalid = browser.post(f"/app/settings/inboxes/{inbox.pk}/", {
        "name": "", "rate_limit_per_second": "0", "reopen_window_hours": "1",
    })
    assert invalid.status_code == 422 and 'id="id_rate_limit_per_second_error"' in text_of(invalid)


def test_meta_inbox_shows_webhook_and_verify_token_but_never_its_secrets(alpha, browser):
    response = browser.post("/app/settings/inboxes/", {
        "name": "Meta line", "provider": "whatsapp_cloud", "rate_limit_per_second": "80",
        "meta_phone_number_id": "1234567890", "meta_business_account_id": "998877",
        "meta_access_token": META_SECRETS["access_token"], "meta_app_secret": META_SECRETS["app_secret"],
    })
    assert response.status_code == 302, text_of(response)
    page = text_of(browser.get(response["Location"]))
    with schema_context(alpha.schema_name):
        inbox = Inbox.objects.get(name="Meta line")
        verify_token = inbox.credentials["verify_token"]
    assert f"/hooks/whatsapp/{inbox.pk}" in page and verify_token in page
    assert "1234567890" in page and ">set<" in page
    for secret in META_SECRETS.values():
        assert secret not in page

    # Replacing a secret keeps the others; the new one is not printed either.
    browser.post(f"/app/settings/inboxes/{inbox.pk}/", {
        "name": "Meta line", "rate_limit_per_second": "80", "reopen_window_hours": "24",
        "meta_access_token": "EAAG-rotated-token",
    })
    page = text_of(browser.get(f"/app/settings/inboxes/{inbox.pk}/"))
    assert "EAAG-rotated-token" not in page
    with schema_context(alpha.schema_name):
        inbox.refresh_from_db()
        assert inbox.credentials["access_token"] == "EAAG-rotated-token"
        assert inbox.credentials["app_secret"] == META_SECRETS["app_secret"]


def test_twilio_inbox_shows_its_webhook_url_and_not_its_auth_token(alpha, browser):
    response = browser.post("/app/settings/inboxes/", {
        "name": "Twilio line", "provider": "twilio", "rate_limit_per_second": "10",
        "twilio_account_sid": "AC0123456789", "twilio_auth_token": TWILIO_SECRET,
        "twilio_from_number": "+14155238886",
    })
    assert response.status_code == 302
    page = text_of(browser.get(response["Location"]))
    assert "/hooks/twilio/" in page and "AC0123456789" in page
    assert TWILIO_SECRET not in page
    assert TWILIO_SECRET not in text_of(browser.get("/app/settings/inboxes/"))


def test_missing_credentials_are_refused_next_to_the_field_and_not_echoed(alpha, browser):
    page = browser.post("/app/settings/inboxes/", {
        "name": "Half Meta", "provider": "whatsapp_cloud", "rate_limit_per_second": "80",
        "meta_phone_number_id": "123", "meta_access_token": META_SECRETS["access_token"],
    })
    assert page.status_code == 422
    html = text_of(page)
    assert 'id="id_meta_business_account_id_error"' in html
    assert META_SECRETS["access_token"] not in html
    with schema_context(alpha.schema_name):
        assert not Inbox.objects.filter(name="Half Meta").exists()


def test_inbox_plan_limit_is_refused_with_its_message(make_company):
    company = make_company(plan="free")  # 1 inbox
    make_inbox(company)
    with schema_context(company.schema_name):
        owner = User.objects.get(role="admin")
    browser = signed_in(company, owner)
    refused = browser.post("/app/settings/inboxes/", {
        "name": "Second", "provider": "sandbox", "rate_limit_per_second": "80",
    })
    assert refused.status_code == 403 and "Your plan allows 1; you are using 1." in text_of(refused)
    with schema_context(company.schema_name):
        assert Inbox.objects.count() == 1


def test_templates_are_added_listed_and_deleted(alpha, browser):
    inbox = make_inbox(alpha)
    added = browser.post(f"/app/settings/inboxes/{inbox.pk}/templates/", {
        "template-name": "order_shipped", "template-language": "pt_BR",
        "template-body": "Olá {{1}}, seu pedido {{2}} foi enviado.", "template-category": "utility",
    })
    assert added.status_code == 302
    page = text_of(browser.get(f"/app/settings/inboxes/{inbox.pk}/"))
    assert "order_shipped" in page and "Template added." in page

    duplicate = browser.post(f"/app/settings/inboxes/{inbox.pk}/templates/", {
        "template-name": "order_shipped", "template-language": "pt_BR",
        "template-body": "Again", "template-category": "utility",
    })
    assert duplicate.status_code == 409 and "This template already exists." in text_of(duplicate)
    bad = browser.post(f"/app/settings/inboxes/{inbox.pk}/templates/", {
        "template-name": "Bad Name", "template-language": "en", "template-body": "x",
        "template-category": "utility",
    })
    assert bad.status_code == 422 and 'id="id_template-name_error"' in text_of(bad)

    with schema_context(alpha.schema_name):
        template = MessageTemplate.objects.get(inbox=inbox, name="order_shipped")
    deleted = browser.post(f"/app/settings/inboxes/{inbox.pk}/templates/{template.pk}/delete/",
                           HX_Request="true")
    assert deleted.status_code == 200 and deleted.content == b""
    with schema_context(alpha.schema_name):
        assert not MessageTemplate.objects.filter(pk=template.pk).exists()
    # a template is reached only through its own inbox
    other = make_template(alpha, make_inbox(alpha, name="Other"))
    assert browser.post(f"/app/settings/inboxes/{inbox.pk}/templates/{other.pk}/delete/").status_code == 404


# --- quick replies --------------------------------------------------------------------------------

def test_quick_replies_global_and_personal_are_created_and_deleted(alpha, browser, admin):
    created = browser.post("/app/settings/quick-replies/", {
        "shortcut": "hello", "content": "Hi {{contact.name}}, how can we help?", "scope": "global",
    })
    assert created.status_code == 302
    browser.post("/app/settings/quick-replies/",
                 {"shortcut": "mine", "content": "Mine only", "scope": "personal"})
    page = text_of(browser.get("/app/settings/quick-replies/"))
    assert "Hi {{contact.name}}, how can we help?" in page and "/mine" in page
    with schema_context(alpha.schema_name):
        hello = QuickReply.objects.get(shortcut="hello")
        mine = QuickReply.objects.get(shortcut="mine")
    assert hello.owner_id is None and mine.owner_id == admin.pk

    duplicate = browser.post("/app/settings/quick-replies/",
                             {"shortcut": "hello", "content": "x", "scope": "global"})
    assert duplicate.status_code == 409 and 'id="id_shortcut_error"' in text_of(duplicate)

    assert browser.post(f"/app/settings/quick-replies/{hello.pk}/delete/").status_code == 302
    with schema_context(alpha.schema_name):
        assert not QuickReply.objects.filter(pk=hello.pk).exists()

    # Another admin neither sees nor deletes someone's personal reply.
    other = signed_in(alpha, make_user(alpha, role="admin"))
    assert "Mine only" not in text_of(other.get("/app/settings/quick-replies/"))
    assert other.post(f"/app/settings/quick-replies/{mine.pk}/delete/").status_code == 404


# --- API keys -------------------------------------------------------------------------------------

def test_api_key_secret_is_shown_once_and_works_against_the_api(alpha, browser, api):
    created = browser.post("/app/settings/api-keys/", {"name": "CRM sync", "scopes": ["users:read"]})
    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    full_key = re.search(r'id="full-key"[^>]*value="([^"]+)"', text_of(created)).group(1)
    assert full_key.startswith("cv_live_")

    listing = text_of(browser.get("/app/settings/api-keys/"))
    assert "CRM sync" in listing and full_key not in listing
    with schema_context(alpha.schema_name):
        key = ApiKey.objects.get(name="CRM sync")
    assert key.prefix in listing

    assert api(alpha, token=full_key).get("/api/v1/users").status_code == 200
    assert api(alpha, headers={"X-Api-Key": full_key}).get("/api/v1/users").status_code == 200
    # scopes are the ones ticked
    assert api(alpha, token=full_key).get("/api/v1/contacts").status_code == 403

    revoked = browser.post(f"/app/settings/api-keys/{key.pk}/revoke/", HX_Request="true")
    assert revoked.status_code == 200 and "Revoke" not in text_of(revoked).split("</td>")[-2]
    assert api(alpha, token=full_key).get("/api/v1/users").status_code == 401


def test_api_key_needs_a_scope(alpha, browser):
    page = browser.post("/app/settings/api-keys/", {"name": "No scopes"})
    assert page.status_code == 422 and "Choose at least one scope." in text_of(page)
    with schema_context(alpha.schema_name):
        assert not ApiKey.objects.filter(name="No scopes").exists()


# --- branding -------------------------------------------------------------------------------------

def test_branding_preview_shows_name_colour_and_powered_by(alpha, browser):
    with schema_context("public"):
        alpha.brand_name, alpha.primary_color = "Alpha Care", "#7c2d12"
        alpha.save()
    page = text_of(browser.get("/app/settings/branding/"))
    assert "Alpha Care" in page and "#7c2d12" in page
    assert alpha.plan.white_label and 'class="powered small"' not in page
    assert "Hidden (white label)" in page


def test_branding_preview_shows_powered_by_without_white_label(make_company):
    company = make_company(plan="pro")
    assert not company.plan.white_label
    with schema_context(company.schema_name):
        owner = User.objects.get(role="admin")
    page = text_of(signed_in(company, owner).get("/app/settings/branding/"))
    assert '<p class="powered small">Powered by Conversa</p>' in page


# --- isolation ------------------------------------------------------------------------------------

def ids_beyond(company, other, model) -> None:
    """Move `company`'s id sequence of `model` past `other`'s ids, so an id made in `company` now
    exists nowhere in `other` (ids are per schema: the same number can name two rows)."""
    table = model._meta.db_table
    with schema_context(other.schema_name):
        top = model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with schema_context(company.schema_name), connection.cursor() as cursor:
        cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), GREATEST(%s, "
                       f"(SELECT COALESCE(MAX(id), 1) FROM {table})) + 1000)", [table, top])


def test_an_admin_of_another_company_cannot_reach_alphas_objects(alpha, bravo, admin):
    for model in (User, Inbox, MessageTemplate, QuickReply, ApiKey):
        ids_beyond(alpha, bravo, model)
    agent = make_user(alpha, name="Alpha Agent")
    inbox = make_inbox(alpha, name="Alpha Secret Line")
    template = make_template(alpha, inbox)
    with schema_context(alpha.schema_name):
        from apps.accounts.services import api_key_create
        from apps.conversations.services import quick_reply_create

        reply = quick_reply_create(actor=None, shortcut="alpha-only", content="Alpha")
        key, _ = api_key_create(name="Alpha key", scopes=["users:read"], created_by=admin)

    bravo_admin = signed_in(bravo, make_user(bravo, role="admin"))
    assert agent.email not in text_of(bravo_admin.get("/app/settings/users/"))
    assert "Alpha Secret Line" not in text_of(bravo_admin.get("/app/settings/inboxes/"))
    assert "alpha-only" not in text_of(bravo_admin.get("/app/settings/quick-replies/"))
    assert key.prefix not in text_of(bravo_admin.get("/app/settings/api-keys/"))
    for method, path, data in (
        ("post", f"/app/settings/users/{agent.pk}/role/", {"role": "admin"}),
        ("post", f"/app/settings/users/{agent.pk}/deactivate/", {}),
        ("get", f"/app/settings/inboxes/{inbox.pk}/", None),
        ("post", f"/app/settings/inboxes/{inbox.pk}/", {"name": "Hijacked", "rate_limit_per_second": "1",
                                                        "reopen_window_hours": "1"}),
        ("post", f"/app/settings/inboxes/{inbox.pk}/templates/{template.pk}/delete/", {}),
        ("post", f"/app/settings/quick-replies/{reply.pk}/delete/", {}),
        ("post", f"/app/settings/api-keys/{key.pk}/revoke/", {}),
    ):
        response = bravo_admin.get(path) if method == "get" else bravo_admin.post(path, data)
        assert response.status_code == 404, path

    with schema_context(alpha.schema_name):
        agent.refresh_from_db()
        inbox.refresh_from_db()
        key.refresh_from_db()
        assert agent.role == "agent" and agent.is_active
        assert inbox.name == "Alpha Secret Line"
        assert key.revoked_at is None
        assert MessageTemplate.objects.filter(pk=template.pk).exists()
        assert QuickReply.objects.filter(pk=reply.pk).exists()
