"""A campaign's report as CSV, the one file every door serves (API and agents' UI).

Summary lines (counts, rates, timing, failures by error code), a blank line, then one row per
recipient, read in chunks while the response streams: 100,000 recipients are never held in memory.
Cells a spreadsheet would run as formulas are quoted (apps.exports.writers).
"""

import csv
from collections.abc import Iterator

from django.db import connection
from django_tenants.utils import schema_context

from apps.accounts.permissions import Actor
from apps.campaigns.models import Campaign
from apps.campaigns.selectors import campaign_recipients, campaign_report
from apps.exports.writers import cell

COLUMNS = ("contact_id", "name", "phone", "status", "reason", "error_message", "sent_at",
           "delivered_at", "read_at", "failed_at", "conversation_id")
_FIELDS = ("contact_id", "contact__name", "contact__phone", "status", "reason", "error_message",
           "sent_at", "delivered_at", "read_at", "failed_at", "conversation_id")
_CHUNK = 2000


class _Echo:
    """csv.writer's file: hands back each line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def campaign_report_csv(actor: Actor, campaign: Campaign) -> Iterator[str]:
    """The report's CSV text, line by line (the permission is checked before the first line)."""
    data = campaign_report(actor, campaign)
    rows = campaign_recipients(actor, campaign).order_by("id").values_list("id", *_FIELDS)
    schema = connection.schema_name

    def lines():
        yield ["campaign", data["id"], cell(data["name"]), data["status"]]
        for key, value in data["stats"].items():
            yield ["count", key, value]
        for key, value in data["rates"].items():
            yield ["rate", key, value]
        for key, value in data["timing"].items():
            yield ["timing", key, cell(value)]
        for failure in data["failures"]:
            yield ["failures", cell(failure["error_code"]), failure["count"]]
        yield []
        yield COLUMNS
        last = 0
        while True:
            # Read after the door returned its response, perhaps on another thread: name the schema.
            with schema_context(schema):
                chunk = list(rows.filter(id__gt=last)[:_CHUNK])
            for _id, *row in chunk:
                yield [cell(value) for value in row]
            if len(chunk) < _CHUNK:
                return
            last = chunk[-1][0]

    writer = csv.writer(_Echo())
    return (writer.writerow(line) for line in lines())
