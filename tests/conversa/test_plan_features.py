"""The plan middleware's feature doors match the real routes: report downloads are `reports_export`."""

import pytest
from django.http import QueryDict

from conversa.middleware.plan import feature_for_path


@pytest.mark.parametrize(("path", "query", "feature"), [
    ("/api/v1/reports/summary", "", None),
    ("/api/v1/reports/summary", "format=", None),
    ("/api/v1/reports/agents", "from=2026-11-01&to=2026-11-07", None),
    ("/api/v1/reports/live", "", None),
    ("/api/v1/reports/summary", "format=csv", "reports_export"),
    ("/api/v1/reports/teams", "format=xlsx&tz=UTC", "reports_export"),
    ("/api/v1/reports/summary.pdf", "", "reports_export"),
    ("/api/v1/reports/agents.xlsx", "from=2026-11-01", "reports_export"),
    ("/api/v1/campaigns", "format=csv", "campaigns"),
    ("/api/v1/contacts", "format=csv", None),
])
def test_a_report_is_a_plan_feature_only_when_it_is_read_as_a_file(path, query, feature):
    assert feature_for_path(path, QueryDict(query)) == feature

