"""The reports as tables (a header and rows), what the CSV and XLSX files hold and the PDF prints."""

from django.utils.translation import gettext as _

from apps.reports.selectors import STATUSES

KINDS = ("summary", "agents", "teams", "inboxes", "campaigns", "flows")


def _figure_columns() -> list[tuple[str, callable]]:
    return [
        (_("Conversations opened"), lambda f: f["conversations"]["opened"]),
        (_("Conversations closed"), lambda f: f["conversations"]["closed"]),
        (_("First response median (s)"), lambda f: f["first_response"]["median_seconds"]),
        (_("First response p90 (s)"), lambda f: f["first_response"]["p90_seconds"]),
        (_("Resolution median (s)"), lambda f: f["resolution"]["median_seconds"]),
        (_("Resolution p90 (s)"), lambda f: f["resolution"]["p90_seconds"]),
        (_("SLA met"), lambda f: f["sla"]["met"]),
        (_("SLA breached"), lambda f: f["sla"]["breached"]),
        (_("SLA compliance"), lambda f: f["sla"]["compliance"]),
        (_("Messages in"), lambda f: f["messages"]["inbound"]),
        (_("Messages out"), lambda f: f["messages"]["outbound"]),
        (_("CSAT answers"), lambda f: f["csat"]["count"]),
        (_("CSAT average"), lambda f: f["csat"]["average"]),
    ]


def status_label(status: str) -> str:
    from apps.accounts.models import User

    return str(User.Status(status).label)


def summary_rows(data: dict) -> list[list]:
    """(figure, value) lines of the summary."""
    rows = [[name, getter(data)] for name, getter in _figure_columns()]
    for outcome in data["outcomes"]:
        rows.append([_("Outcome: %(outcome)s") % {"outcome": outcome["outcome"]}, outcome["count"]])
        if outcome["value"] is not None:
            label = _("Outcome value: %(outcome)s") % {"outcome": outcome["outcome"]}
            rows.append([label, float(outcome["value"])])
    for rating, count in data["csat"]["distribution"].items():
        rows.append([_("CSAT rated %(rating)s") % {"rating": rating}, count])
    for status in STATUSES:
        label = _("Agent time %(status)s (s)") % {"status": status_label(status)}
        rows.append([label, data["agent_time"][status]])
    return rows


def report_table(kind: str, data: dict) -> tuple[list[str], list[list]]:
    if kind == "summary":
        return [_("Figure"), _("Value")], summary_rows(data)
    if kind == "campaigns":
        header = [_("Campaign"), _("Status"), _("Inbox"), _("Started"), _("Completed"), _("Recipients"),
                  _("Sent"), _("Delivered"), _("Read"), _("Failed"), _("Skipped"), _("Replies"),
                  _("Delivery rate"), _("Read rate"), _("Failure rate"), _("Reply rate")]
        rows = []
        for item in data["items"]:
            stats, rates = item["stats"], item["rates"]
            rows.append([item["name"], item["status"], item["inbox"], item["started_at"],
                         item["completed_at"], stats["total"], stats["sent"], stats["delivered"],
                         stats["read"], stats["failed"], stats["skipped"], item["replies"], rates["delivery"],
                         rates["read"], rates["failure"], rates["reply"]])
        return header, rows
    if kind == "flows":
        header = [_("Flow"), _("Sessions"), _("Completed"), _("Handed off"), _("Dropped"), _("Timed out"),
                  _("Running"), _("Completion rate"), _("Hand-off rate")]
        rows = [[item["name"], item["started"], item["completed"], item["handed_off"], item["dropped"],
                 item["timed_out"], item["running"], item["completion_rate"], item["handoff_rate"]]
                for item in data["items"]]
        return header, rows
    columns = _figure_columns()
    first = {"agents": _("Agent"), "teams": _("Team"), "inboxes": _("Inbox")}[kind]
    header = [first, *(name for name, _getter in columns)]
    if kind == "agents":
        header += [_("Time %(status)s (s)") % {"status": status_label(status)} for status in STATUSES]
    rows = []
    for item in data["items"]:
        row = [item["name"], *(getter(item) for _name, getter in columns)]
        if kind == "agents":
            row += [item["agent_time"][status] for status in STATUSES]
        rows.append(row)
    return header, rows
