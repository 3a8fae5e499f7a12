"""The Reports page (server side): who reaches it, what each role sees, its downloads."""

import io

import openpyxl
import pytest

from tests.fixtures import reports
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db
# The seeded week of the reports' tests (tests/fixtures/reports.py).
seeded_week, week = reports.seeded_week, reports.week

WEEK = "/app/reports/?from=2026-11-05&to=2026-11-09"


def test_an_admin_sees_the_figures_tables_charts_and_downloads(week):
    page = signed_in(week.company, week.admin).get(WEEK)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-field="opened">5<' in html and 'data-field="closed">3<' in html
    # Medians in business time: 1500 s and 5400 s.
    assert 'data-field="first-response">25 min / 40 min<' in html
    assert 'data-field="resolution">1 h 30 min / 1 h 54 min<' in html
    assert 'data-field="sla">33.3%<' in html
    assert html.count('<rect class="bar"') == 4 * 5  # four daily charts of five days
    for name in ("Ana Agent", "Bob Agent", "Support NY", "Vendas SP", "WhatsApp NY"):
        assert name in html
    pdf = "/app/reports/summary.pdf?from=2026-11-05&amp;to=2026-11-09&amp;tz=America/Sao_Paulo"
    assert f'href="{pdf}"' in html
    assert '<a href="/app/reports/"' in html  # the navigation entry


def test_a_supervisor_sees_their_teams_only_and_downloads_them(week):
    browser = signed_in(week.company, week.supervisor)
    html = browser.get(WEEK).content.decode()
    assert 'data-field="opened">2<' in html
    assert "Vendas SP" in html and "Support NY" not in html and "Bob Agent" not in html
    download = browser.get("/app/reports/agents.xlsx?from=2026-11-05&to=2026-11-09")
    assert download.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(download.content)).active.iter_rows(values_only=True))
    assert {row[0] for row in rows[1:]} == {"Ana Agent", "Sara Supervisor"}


def test_agents_get_a_page_saying_why_and_no_navigation_entry(week):
    browser = signed_in(week.company, week.ana)
    page = browser.get("/app/reports/")
    assert page.status_code == 403 and b"reports-forbidden" in page.content
    assert browser.get("/app/reports/summary.csv").status_code == 403
    assert b'href="/app/reports/"' not in browser.get("/app/").content


def test_a_bad_range_is_shown_and_the_default_week_used(week):
    page = signed_in(week.company, week.admin).get("/app/reports/?from=2026-11-09&to=2026-11-01")
    assert page.status_code == 200
    assert b'id="report-errors"' in page.content and b"The start must not be after the end." in page.content


def test_the_page_speaks_the_readers_language(week):
    from django_tenants.utils import schema_context

    from apps.accounts.models import User

    with schema_context(week.company.schema_name):
        User.objects.filter(pk=week.supervisor.pk).update(language="pt-br")
    html = signed_in(week.company, week.supervisor).get(WEEK).content.decode()
    assert ">Relatórios<" in html and "Abertas hoje" in html and "Primeira resposta (mediana / p90)" in html
