"""Reads of campaigns: lists, one campaign, its counts, recipients, preview, audience count, report.

Every read an actor asks for checks `campaigns.read` (managers; keys with `campaigns:read`).
Counts are one grouped count over the recipients' (campaign, status) index, cheap enough to run
once a second while a campaign sends (see tests/load/campaign.py for its cost at 100,000).
"""

import datetime as dt

from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import TruncMinute
from django.utils.translation import gettext as _

from apps.accounts import permissions
from apps.accounts.permissions import Actor
from apps.campaigns.models import Campaign, CampaignRecipient
from apps.campaigns.validation import clean_audience, invalid
from apps.campaigns.variables import render
from apps.contacts.audiences import audience_contacts
from apps.contacts.models import Contact
from apps.inboxes.models import MessageTemplate
from conversa.errors import NotFound

STAT_KEYS = ("total", "queued", "sent", "delivered", "read", "failed", "skipped")


def campaigns_visible_to(actor: Actor) -> QuerySet[Campaign]:
    permissions.check(actor, "campaigns.read")
    return Campaign.objects.select_related("inbox", "created_by")


def campaign_get_for(actor: Actor, campaign_id: int) -> Campaign:
    """The campaign, or 404 (another company's ids do not exist in this schema)."""
    campaign = campaigns_visible_to(actor).filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound()
    return campaign


def campaign_stats(campaign_id: int) -> dict:
    """`{total, queued, sent, delivered, read, failed, skipped}`, cumulative along the way: `sent`
    counts every recipient the provider took (sent, delivered or read), `delivered` those delivered
    or read; `queued` includes the one being sent."""
    return campaign_stats_many([campaign_id])[campaign_id]


def campaign_stats_many(campaign_ids) -> dict[int, dict]:
    """`campaign_stats` of several campaigns (a list page) in one grouped count."""
    by_campaign: dict[int, dict[str, int]] = {pk: {} for pk in campaign_ids}
    rows = (CampaignRecipient.objects.filter(campaign_id__in=list(by_campaign)).order_by()
            .values_list("campaign_id", "status").annotate(n=Count("id")))
    for campaign_id, status, n in rows:
        by_campaign[campaign_id][status] = n
    return {pk: _stats(counts) for pk, counts in by_campaign.items()}


def _stats(by_status: dict[str, int]) -> dict:
    status = CampaignRecipient.Status
    read = by_status.get(status.READ, 0)
    delivered = by_status.get(status.DELIVERED, 0) + read
    return {
        "total": sum(by_status.values()),
        "queued": by_status.get(status.QUEUED, 0) + by_status.get(status.SENDING, 0),
        "sent": by_status.get(status.SENT, 0) + delivered,
        "delivered": delivered,
        "read": read,
        "failed": by_status.get(status.FAILED, 0),
        "skipped": by_status.get(status.SKIPPED, 0),
    }


def campaign_recipients(actor: Actor, campaign: Campaign, *, status: str | None = None
                        ) -> QuerySet[CampaignRecipient]:
    permissions.check(actor, "campaigns.read")
    recipients = CampaignRecipient.objects.filter(campaign=campaign).select_related("contact")
    if status:
        if status not in CampaignRecipient.Status.values:
            raise invalid("status", _("Use one of: %(values)s.")
                          % {"values": ", ".join(CampaignRecipient.Status.values)})
        recipients = recipients.filter(status=status)
    return recipients


def campaign_message_for(campaign: Campaign, contact: Contact) -> dict:
    """What the campaign sends this contact: `{text}` (the template's body filled in for a template)
    and, for a template, its rendered `variables`."""
    if campaign.template:
        variables = [render(value, contact) for value in campaign.template.get("variables", [])]
        template = MessageTemplate.objects.filter(
            inbox_id=campaign.inbox_id, name=campaign.template["name"],
            language=campaign.template["language"],
        ).first()
        text = template.render(variables) if template else ""
        return {"text": text, "variables": variables}
    return {"text": render(campaign.text, contact), "variables": []}


def campaign_preview(actor: Actor, campaign: Campaign, *, contact_id: int) -> dict:
    """`{text}`: the message as this contact would receive it (any contact of the company)."""
    permissions.check(actor, "campaigns.read")
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise invalid("contact_id", _("No such contact."))
    return {"text": campaign_message_for(campaign, contact)["text"]}


def audience_count(actor: Actor, audience: dict) -> dict:
    """`{total, skipped}` of an audience being built: everyone in it, and the opted-out or blocked
    among them, whom a campaign would skip."""
    permissions.check(actor, "campaigns.read")
    cleaned = clean_audience(audience, require_members=False)
    counts = audience_contacts(
        list_ids=cleaned["list_ids"], segment_id=cleaned["segment_id"], tags=cleaned["tags"],
    ).order_by().aggregate(total=Count("id"), skipped=Count("id", filter=Q(opted_out=True) | Q(blocked=True)))
    return {"total": counts["total"], "skipped": counts["skipped"]}


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def campaign_report(actor: Actor, campaign: Campaign) -> dict:
    """Counts, rates (over the recipients sent to), timing, failures by error code and sends per
    minute: what the report page and its CSV show."""
    permissions.check(actor, "campaigns.read")
    stats = campaign_stats(campaign.pk)
    recipients = CampaignRecipient.objects.filter(campaign=campaign).order_by()
    failures = list(
        recipients.filter(status=CampaignRecipient.Status.FAILED).values("reason")
        .annotate(count=Count("id")).order_by("-count", "reason")
    )
    per_minute = list(
        recipients.filter(sent_at__isnull=False).annotate(minute=TruncMinute("sent_at", tzinfo=dt.UTC))
        .values("minute").annotate(count=Count("id")).order_by("minute")
    )
    timing = recipients.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    attempted = stats["sent"] + stats["failed"]
    duration = (timing["last"] - timing["first"]).total_seconds() if timing["first"] and timing["last"] else 0
    return {
        "id": campaign.pk,
        "name": campaign.name,
        "status": campaign.status,
        "stats": stats,
        "rates": {
            "delivery": _rate(stats["delivered"], stats["sent"]),
            "read": _rate(stats["read"], stats["sent"]),
            "failure": _rate(stats["failed"], attempted),
            "reply": _rate(recipients.filter(conversation__isnull=False).count(), stats["sent"]),
        },
        "timing": {
            "created_at": campaign.created_at,
            "scheduled_at": campaign.scheduled_at,
            "started_at": campaign.started_at,
            "completed_at": campaign.completed_at or campaign.cancelled_at or campaign.failed_at,
            "first_sent_at": timing["first"],
            "last_sent_at": timing["last"],
            "sends_per_second": round(stats["sent"] / duration, 2) if duration else None,
        },
        "failures": [{"error_code": row["reason"] or "unknown", "count": row["count"]} for row in failures],
        "sends_per_minute": [{"minute": row["minute"], "count": row["count"]} for row in per_minute],
    }

