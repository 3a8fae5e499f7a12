"""Settings → Teams and the inbox's team and automation settings, through the agents' UI."""

import re

import pytest
from django_tenants.utils import schema_context

from apps.inboxes.models import Inbox
from apps.teams.models import Team, TeamMember
from apps.teams.services import team_create
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox
from tests.web.test_i18n import LANGUAGES, EnglishFinder, english_on, english_strings, require_compiled
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db

EMPTY_WEEK = {f"{day}_{end}{i}": "" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
              for end in ("start", "end") for i in (1, 2)}


@pytest.fixture
def office(alpha):
    return {
        "admin": make_user(alpha, role="admin", name="Alice Admin"),
        "sara": make_user(alpha, role="supervisor", name="Sara Supervisor"),
        "ana": make_user(alpha, name="Ana Agent"),
        "inbox": make_inbox(alpha, name="Loja Centro"),
    }


def _team_form(**fields) -> dict:
    return {"name": "Vendas", "routing": "round_robin", "timezone": "UTC", "holidays": "",
            "offline_message": "", "sla_first_response_minutes": "", "sla_resolution_minutes": "",
            **EMPTY_WEEK, **fields}


def test_agents_get_a_403_that_says_why_and_see_no_teams_link(alpha, office):
    ana = signed_in(alpha, office["ana"])
    page = ana.get("/app/settings/teams/")
    assert page.status_code == 403
    assert "Only supervisors and admins can manage teams" in page.content.decode()
    assert ana.post("/app/settings/teams/", {"name": "Mine", "routing": "manual"}).status_code == 403
    assert 'href="/app/settings/teams/"' not in ana.get("/app/settings/quick-replies/").content.decode()
    with schema_context(alpha.schema_name):
        assert not Team.objects.filter(name="Mine").exists()
    sara = signed_in(alpha, office["sara"])
    assert 'href="/app/settings/teams/"' in sara.get("/app/settings/quick-replies/").content.decode()


def test_a_supervisor_creates_a_team_and_sets_its_hours_inboxes_sla_and_offline_message(alpha, office):
    sara = signed_in(alpha, office["sara"])
    created = sara.post("/app/settings/teams/", {"name": "Vendas", "routing": "round_robin"})
    assert created.status_code == 302
    with schema_context(alpha.schema_name):
        team = Team.objects.get(name="Vendas")
    assert created["Location"] == f"/app/settings/teams/{team.pk}/"
    edit = sara.get(created["Location"]).content.decode()
    assert 'type="time"' in edit and 'value="America/Sao_Paulo"' in edit

    saved = sara.post(created["Location"], _team_form(
        timezone="America/Sao_Paulo", mon_start1="09:00", mon_end1="12:00", mon_start2="13:00",
        mon_end2="18:00", sat_start1="09:00", sat_end1="13:00", holidays="2026-12-25\n2027-01-01",
        offline_message="Voltamos às 9h", sla_first_response_minutes="15", sla_resolution_minutes="480",
        inbox_ids=[office["inbox"].pk],
    ))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    with schema_context(alpha.schema_name):
        team.refresh_from_db()
        assert team.business_hours == {
            "timezone": "America/Sao_Paulo",
            "days": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["09:00", "13:00"]]},
            "holidays": ["2026-12-25", "2027-01-01"],
        }
        assert (team.sla_first_response_seconds, team.sla_resolution_seconds) == (900, 28800)
        assert team.offline_message == "Voltamos às 9h"
        assert Inbox.objects.get(pk=office["inbox"].pk).default_team_id == team.pk
    # The page shows what is stored.
    page = sara.get(created["Location"]).content.decode()
    assert 'value="13:00"' in page and "2027-01-01" in page and 'value="480"' in page
    assert "Voltamos às 9h" in page


@pytest.mark.parametrize(("fields", "shown"), [
    ({"mon_start1": "09:00"}, "Give both the opening and the closing time."),
    # The service's refusals, shown next to the control they are about.
    ({"mon_start1": "18:00", "mon_end1": "09:00"}, 'id="id_mon_start1_error"'),
    ({"mon_start1": "09:00", "mon_end1": "12:00", "mon_start2": "11:00", "mon_end2": "13:00"},
     re.compile(r'id="id_mon_start[12]_error"')),
    ({"mon_start1": "09:00", "mon_end1": "18:00", "holidays": "christmas"}, 'id="id_holidays_error"'),
    ({"sla_first_response_minutes": "0"}, "Ensure this value is greater than or equal to 1."),
    ({"name": ""}, "This field is required."),
])
def test_a_bad_team_form_says_what_is_wrong_and_changes_nothing(alpha, office, fields, shown):
    with schema_context(alpha.schema_name):
        team = team_create(actor=None, name="Vendas")
    refused = signed_in(alpha, office["admin"]).post(f"/app/settings/teams/{team.pk}/", _team_form(**fields))
    assert refused.status_code == 422
    html = refused.content.decode()
    assert shown.search(html) if isinstance(shown, re.Pattern) else shown in html
    with schema_context(alpha.schema_name):
        team.refresh_from_db()
        assert team.business_hours == {} and team.routing == "manual" and team.name == "Vendas"


def test_members_are_added_with_capacity_and_priority_changed_and_removed_on_the_page(alpha, office):
    with schema_context(alpha.schema_name):
        team = team_create(actor=None, name="Vendas")
    sara = signed_in(alpha, office["sara"])
    url = f"/app/settings/teams/{team.pk}/members/"
    page = sara.get(f"/app/settings/teams/{team.pk}/").content.decode()
    assert "Ana Agent" in page and "No members yet." in page

    assert sara.post(url, {"user_id": office["ana"].pk, "capacity": 3, "priority": 1}).status_code == 302
    page = sara.get(f"/app/settings/teams/{team.pk}/").content.decode()
    assert f'id="member-{office["ana"].pk}"' in page and "Ana Agent added to the team." in page
    assert sara.post(url, {"user_id": office["ana"].pk, "capacity": 7, "priority": 2}).status_code == 302
    refused = sara.post(url, {"user_id": office["admin"].pk, "capacity": 101, "priority": 0})
    assert refused.status_code == 422
    assert "Ensure this value is less than or equal to 100." in refused.content.decode()
    with schema_context(alpha.schema_name):
        member = TeamMember.objects.get(team=team, user=office["ana"])
        assert (member.capacity, member.priority) == (7, 2)
        assert not TeamMember.objects.filter(team=team, user=office["admin"]).exists()

    assert sara.post(f"{url}{office['ana'].pk}/remove/").status_code == 302
    with schema_context(alpha.schema_name):
        assert not TeamMember.objects.filter(team=team).exists()

    assert sara.post(f"/app/settings/teams/{team.pk}/delete/").status_code == 302
    with schema_context(alpha.schema_name):
        assert not Team.objects.filter(pk=team.pk).exists()


def test_another_companys_team_is_404_on_the_pages(alpha, bravo, office):
    with schema_context(alpha.schema_name):
        team = team_create(actor=None, name="Vendas")
    with schema_context(bravo.schema_name):
        assert not Team.objects.filter(pk=team.pk).exists()
    stranger = signed_in(bravo, make_user(bravo, role="admin"))
    assert stranger.get(f"/app/settings/teams/{team.pk}/").status_code == 404
    assert stranger.post(f"/app/settings/teams/{team.pk}/delete/").status_code == 404
    with schema_context(alpha.schema_name):
        assert Team.objects.filter(pk=team.pk).exists()


def test_an_admin_sets_the_inbox_default_team_and_auto_close_on_the_page_and_the_api(alpha, office, api):
    with schema_context(alpha.schema_name):
        team = team_create(actor=None, name="Vendas")
    inbox = office["inbox"]
    admin = signed_in(alpha, office["admin"])
    page = admin.get(f"/app/settings/inboxes/{inbox.pk}/").content.decode()
    assert f'<option value="{team.pk}">Vendas</option>' in page
    saved = admin.post(f"/app/settings/inboxes/{inbox.pk}/", {
        "name": "Loja Centro", "rate_limit_per_second": 80, "reopen_window_hours": 24,
        "greeting_message": "Olá!", "away_message": "", "default_team_id": team.pk, "daily_limit": 1000,
        "auto_close_after_hours": 48, "auto_close_message": "Encerramos por inatividade",
    })
    assert saved.status_code == 302, saved.content.decode()[:3000]
    token = api(alpha).login(office["admin"].email)["access"]
    client = api(alpha, token=token)
    body = client.get(f"/api/v1/inboxes/{inbox.pk}").json()
    assert body["default_team_id"] == team.pk and body["daily_limit"] == 1000
    assert body["auto_close_after_hours"] == 48 and body["auto_close_message"] == "Encerramos por inatividade"
    assert body["greeting_message"] == "Olá!"

    patched = client.patch(
        f"/api/v1/inboxes/{inbox.pk}", {"default_team_id": None, "auto_close_after_hours": None}
    )
    assert patched.status_code == 200
    assert patched.json()["default_team_id"] is None and patched.json()["auto_close_after_hours"] is None
    for bad, field in (({"default_team_id": 987654}, "default_team_id"),
                       ({"auto_close_after_hours": 0}, "auto_close_after_hours")):
        refused = client.patch(f"/api/v1/inboxes/{inbox.pk}", bad)
        assert refused.status_code == 422
        assert field in [d["field"] for d in refused.json()["error"]["details"]]
    supervisor = api(alpha, token=api(alpha).login(office["sara"].email)["access"])
    assert supervisor.patch(f"/api/v1/inboxes/{inbox.pk}", {"default_team_id": team.pk}).status_code == 403
    with schema_context(alpha.schema_name):
        assert Inbox.objects.get(pk=inbox.pk).default_team_id is None


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_team_pages_speak_spanish_and_portuguese(alpha, office, language):
    directory = LANGUAGES[language]
    require_compiled(directory)
    finder = EnglishFinder(english_strings(directory))
    with schema_context(alpha.schema_name):
        team = team_create(actor=None, name="Vendas", inbox_ids=[office["inbox"].pk])
    browser = signed_in(alpha, office["sara"])
    assert browser.post("/app/profile/", {"name": "Sara Supervisor", "language": language}).status_code == 200
    browser.post(f"/app/settings/teams/{team.pk}/members/", {"user_id": office["ana"].pk, "capacity": 3,
                                                             "priority": 0})
    pages = {
        "list": browser.get("/app/settings/teams/"),
        "edit": browser.get(f"/app/settings/teams/{team.pk}/"),
        "errors": browser.post(f"/app/settings/teams/{team.pk}/", _team_form(mon_start1="09:00")),
        "create errors": browser.post("/app/settings/teams/", {"name": "", "routing": "manual"}),
    }
    agent = signed_in(alpha, office["ana"])
    agent.post("/app/profile/", {"name": "Ana Agent", "language": language})
    pages["forbidden"] = agent.get("/app/settings/teams/")
    english = {name: sorted(english_on(page.content.decode(), finder)) for name, page in pages.items()}
    english = {name: found for name, found in english.items() if found}
    assert not english, f"English on the {language} team pages: {english}"
    assert ("Equipos" if language == "es" else "Equipes") in pages["list"].content.decode()


def test_deleting_from_the_page_asks_first_and_then_lands_on_the_list(alpha, office):
    with schema_context(alpha.schema_name):
        team = team_create(actor=None, name="Vendas")
    sara = signed_in(alpha, office["sara"])
    page = sara.get(f"/app/settings/teams/{team.pk}/").content.decode()
    assert 'hx-confirm="Delete this team?"' in page
    deleted = sara.post(f"/app/settings/teams/{team.pk}/delete/", **{"HX-Request": "true"})
    assert deleted.status_code == 200 and deleted["HX-Redirect"] == "/app/settings/teams/"
    assert "Team Vendas deleted." in sara.get("/app/settings/teams/").content.decode()
    with schema_context(alpha.schema_name):
        assert not Team.objects.filter(pk=team.pk).exists()
