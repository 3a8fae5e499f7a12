"""Contact import and export in a real browser (issue 13): a supervisor uploads a CSV, maps its
columns, watches the bar reach 100 % live and reads the result; then exports the contacts and
downloads the file."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in

pytestmark = [pytest.mark.live, pytest.mark.browser]

ROWS = 1500


def test_a_supervisor_imports_a_csv_watches_it_finish_and_downloads_an_export(chromium, team):
    sara = team.add_user("sara", role="supervisor", name="Sara Supervisor")
    lines = ["Nome;Celular;Cidade;Obs"]
    lines += [f"Cliente {n};11 9760{n:05d};Recife;" for n in range(ROWS)]
    lines.append("Sem Número;;Natal;")
    csv_bytes = ("\n".join(lines) + "\n").encode("cp1252")

    page = sign_in(chromium, team, sara, path="/app/contacts/")
    page.locator("#contacts-import").click()
    expect(page).to_have_url(f"{team.origin}/app/contacts/import/")
    page.set_input_files("#import-file", files=[{"name": "clientes.csv", "mimeType": "text/csv",
                                                  "buffer": csv_bytes}])
    mapping = page.locator("#import-columns")
    expect(mapping).to_contain_text("Cliente 0")
    expect(page.get_by_label("Celular")).to_have_value("phone")  # suggested from the header
    page.get_by_label("Cidade").select_option("city")
    page.fill("#import-country", "BR")
    page.fill("#import-tags", "feira")
    screenshot(page, "import-mapping")
    page.get_by_role("button", name="Start import").click()

    expect(page).to_have_url(re.compile(r".*/app/contacts/imports/\d+/$"))
    expect(page.locator("#import-bar")).to_have_attribute("value", "100", timeout=20000)
    result = page.locator("#import-result")
    expect(result).to_be_visible()
    expect(page.locator('[data-field="imported"]')).to_have_text(str(ROWS))
    expect(page.locator('[data-field="skipped"]')).to_have_text("1")
    expect(page.locator("#import-errors")).to_contain_text("No phone number.")
    expect(page.locator("#import-errors-csv")).to_be_visible()
    screenshot(page, "import-result")

    # The contacts page has them; exporting it gives a file with them.
    page.goto("/app/contacts/?q=Cliente+1499")
    expect(page.locator("#contact-results")).to_contain_text("Cliente 1499")
    page.locator("#contacts-export").click()
    expect(page).to_have_url(f"{team.origin}/app/exports/")
    link = page.get_by_role("link", name=re.compile("Download contacts-"))
    expect(link).to_be_visible(timeout=15000)
    with page.expect_download() as download_info:
        link.click()
    path = download_info.value.path()
    content = Path(path).read_bytes().decode("utf-8-sig")
    assert "Cliente 1499" in content and "+5511976001499" in content and "Recife" in content
    assert "Cliente 1498" not in content  # the page's search was the export's filter
