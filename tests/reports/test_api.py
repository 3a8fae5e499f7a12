"""`/api/v1/reports/…` through the full middleware stack: figures, files, refusals, scopes."""

import csv
import io

import openpyxl
from django_tenants.utils import schema_context

from apps.audit.models import AuditLog
from tests.fixtures.factories import PASSWORD, make_api_key, make_user

WEEK = "from=2026-11-05&to=2026-11-09"


def rows_of_xlsx(content: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).active
    return list(sheet.iter_rows(values_only=True))


def test_an_admin_reads_every_report(week, client_of):
    client = client_of(week.company, week.admin)
    summary = client.get(f"/api/v1/reports/summary?{WEEK}")
    assert summary.status_code == 200, summary.content
    assert summary.json()["period"] == {"from": "2026-11-05", "to": "2026-11-09", "tz": "America/Sao_Paulo"}
    assert summary.json()["conversations"] == {"opened": 5, "closed": 3}
    teams = client.get(f"/api/v1/reports/teams?{WEEK}").json()["items"]
    assert [(team["name"], team["conversations"]["opened"]) for team in teams] == [
        ("Support NY", 2), ("Vendas SP", 2), ("No team", 1)]
    inboxes = {item["name"]: item for item in client.get(f"/api/v1/reports/inboxes?{WEEK}").json()["items"]}
    assert inboxes["WhatsApp NY"]["messages"] == {"inbound": 2, "outbound": 1}
    assert client.get(f"/api/v1/reports/campaigns?{WEEK}").json()["items"] == []
    trend = client.get(f"/api/v1/reports/trends?metric=first_response_median&interval=day&{WEEK}").json()
    # Monday the 9th: c1 (1200 s), c2 (1800 s) and c3 (2700 s) answered.
    assert trend["points"][-1] == {"at": "2026-11-09T00:00:00-03:00", "value": 1800}
    # A time zone of the request moves the days.
    utc = client.get(f"/api/v1/reports/summary?{WEEK}&tz=UTC").json()
    assert utc["period"]["tz"] == "UTC" and utc["conversations"]["opened"] == 6


def test_bad_input_is_a_422_naming_the_field(week, client_of):
    client = client_of(week.company, week.admin)
    cases = {
        "/api/v1/reports/summary?from=2026-13-01": "from",
        "/api/v1/reports/summary?to=yesterday": "to",
        "/api/v1/reports/summary?tz=Mars/Olympus": "tz",
        "/api/v1/reports/agents?from=2026-11-09&to=2026-11-01": "from",
        "/api/v1/reports/teams?from=2024-01-01&to=2026-01-01": "to",
        "/api/v1/reports/trends?interval=hour&from=2026-09-01&to=2026-11-09": "interval",
        "/api/v1/reports/trends?interval=week": "interval",
        "/api/v1/reports/trends?metric=happiness": "metric",
        "/api/v1/reports/summary?format=docx": "format",
        "/api/v1/reports/agents.pdf": "format",
        "/api/v1/reports/people.csv": "kind",
    }
    for path, field in cases.items():
        response = client.get(path)
        assert response.status_code == 422, path
        body = response.json()["error"]
        assert body["code"] == "validation_error" and body["details"][0]["field"] == field, path
    with schema_context(week.company.schema_name):
        assert not AuditLog.objects.filter(action="report.exported").exists()


def test_agents_are_refused_and_keys_need_conversations_read(week, client_of, api):
    agent = client_of(week.company, week.ana)
    for path in ("summary", "agents", "live", "trends", "summary.csv"):
        response = agent.get(f"/api/v1/reports/{path}")
        assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden", path
    _, contacts_key = make_api_key(week.company, scopes=["contacts:read"])
    refused = api(week.company, headers={"X-Api-Key": contacts_key}).get("/api/v1/reports/summary")
    assert refused.status_code == 403
    _, key = make_api_key(week.company, scopes=["conversations:read"])
    summary = api(week.company, headers={"X-Api-Key": key}).get(f"/api/v1/reports/summary?{WEEK}")
    assert summary.status_code == 200 and summary.json()["conversations"]["opened"] == 5


def test_a_supervisor_reads_and_downloads_only_their_teams(week, client_of):
    client = client_of(week.company, week.supervisor)
    assert client.get(f"/api/v1/reports/summary?{WEEK}").json()["conversations"] == {"opened": 2, "closed": 2}
    teams = client.get(f"/api/v1/reports/teams.csv?{WEEK}")
    assert teams.status_code == 200 and teams["Content-Type"].startswith("text/csv")
    names = [row[0] for row in csv.reader(io.StringIO(teams.content.decode("utf-8-sig")))]
    assert names == ["Team", "Vendas SP"]
    agents = client.get(f"/api/v1/reports/agents?{WEEK}&format=xlsx")
    rows = rows_of_xlsx(agents.content)
    assert {row[0] for row in rows[1:]} == {"Ana Agent", "Sara Supervisor"}
    summary = rows_of_xlsx(client.get(f"/api/v1/reports/summary.xlsx?{WEEK}").content)
    assert ("Conversations opened", 2) in summary
    live = client.get("/api/v1/reports/live").json()
    assert [queue["name"] for queue in live["queues"]] == ["Vendas SP"]


def test_files_open_in_a_spreadsheet_reader_and_the_pdf_is_a_pdf(week, client_of):
    client = client_of(week.company, week.admin)
    summary = rows_of_xlsx(client.get(f"/api/v1/reports/summary?{WEEK}&format=xlsx").content)
    assert summary[0] == ("Figure", "Value")
    assert ("Conversations opened", 5) in summary and ("First response median (s)", 1500) in summary
    assert ("SLA compliance", 0.3333) in summary and ("Outcome value: sale", 100) in summary
    agents = rows_of_xlsx(client.get(f"/api/v1/reports/agents.xlsx?{WEEK}").content)
    header, by_name = agents[0], {row[0]: dict(zip(agents[0], row, strict=True)) for row in agents[1:]}
    assert "Time Available (s)" in header
    assert by_name["Ana Agent"]["Time Available (s)"] == 7200 and by_name["Ana Agent"]["Messages out"] == 2
    pdf = client.get(f"/api/v1/reports/summary.pdf?{WEEK}")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000
    assert 'filename="summary-2026-11-05-2026-11-09.pdf"' in pdf["Content-Disposition"]
    with schema_context(week.company.schema_name):
        exported = AuditLog.objects.filter(action="report.exported", actor=week.admin)
        assert exported.count() == 3


def test_downloads_need_the_plans_reports_export(make_company, api):
    company = make_company(plan="free")
    client = api(company, token=api(company).login(f"admin@{company.slug}.example.com", PASSWORD)["access"])
    assert client.get("/api/v1/reports/summary").status_code == 200
    assert client.get("/api/v1/reports/summary?format=").status_code == 200
    # Refused at the door for the plan, before the request is looked at (a wrong format or kind too).
    for path in ("/api/v1/reports/summary.csv", "/api/v1/reports/summary?format=pdf",
                 "/api/v1/reports/summary?format=doc", "/api/v1/reports/nonsense.csv"):
        response = client.get(path)
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert error["code"] == "feature_not_in_plan" and error["details"]["feature"] == "reports_export"


def test_another_companys_reports_never_show_this_ones_figures(week, bravo, client_of, api):
    bravo_admin = make_user(bravo, role="admin")
    bravo_client = client_of(bravo, bravo_admin)
    summary = bravo_client.get(f"/api/v1/reports/summary?{WEEK}").json()
    assert summary["conversations"] == {"opened": 0, "closed": 0}
    assert summary["messages"] == {"inbound": 0, "outbound": 0}
    agents = bravo_client.get(f"/api/v1/reports/agents?{WEEK}").json()["items"]
    assert all(item["conversations"]["opened"] == 0 and item["messages"]["outbound"] == 0 for item in agents)
    assert all(queue["size"] == 0 for queue in bravo_client.get("/api/v1/reports/live").json()["queues"])
    # Alpha's credentials are unknown on bravo's host.
    token = api(week.company).login(week.admin.email)["access"]
    _, key = make_api_key(week.company, scopes=["conversations:read"])
    for client in (api(bravo, token=token), api(bravo, headers={"X-Api-Key": key})):
        for path in ("/api/v1/reports/summary", "/api/v1/reports/live", "/api/v1/reports/summary.csv"):
            assert client.get(path).status_code == 401, path
