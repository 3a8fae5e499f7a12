"""The `data` of each webhook event: the entity as the API and the realtime frames show it, read
fresh from its row once the event is committed (one query per kind of entity per batch)."""

from apps.campaigns.events import CAMPAIGN_FINISHED
from apps.campaigns.models import Campaign
from apps.campaigns.selectors import campaign_stats_many
from apps.contacts.events import CONTACT_CREATED, CONTACT_UPDATED, contact_data
from apps.contacts.models import Contact
from apps.conversations.events import (
    CONVERSATION_ASSIGNED,
    CONVERSATION_CREATED,
    CONVERSATION_STATUS_CHANGED,
    CONVERSATION_UPDATED,
    MESSAGE_CREATED,
    MESSAGE_UPDATED,
    conversation_data,
    message_data,
)
from apps.conversations.models import Conversation, Message
from conversa.events import Event

WEBHOOK_TEST = "webhook.test"

CONVERSATION_KINDS = (CONVERSATION_CREATED, CONVERSATION_UPDATED, CONVERSATION_STATUS_CHANGED,
                      CONVERSATION_ASSIGNED)
MESSAGE_KINDS = (MESSAGE_CREATED, MESSAGE_UPDATED)
CONTACT_KINDS = (CONTACT_CREATED, CONTACT_UPDATED)
# What an endpoint may subscribe to (SPEC §12), in the order the settings page lists them.
EVENTS = (*CONVERSATION_KINDS, *MESSAGE_KINDS, *CONTACT_KINDS, CAMPAIGN_FINISHED)
# What whoever subscribes must be allowed to read (apps.accounts.permissions), since the events
# carry it out: an API key with `webhooks:write` alone cannot subscribe to conversations.
READ_RULES = {
    **dict.fromkeys((*CONVERSATION_KINDS, *MESSAGE_KINDS), "conversations.read"),
    **dict.fromkeys(CONTACT_KINDS, "contacts.read"),
    CAMPAIGN_FINISHED: "campaigns.read",
}


def _iso(value):
    return value.isoformat() if value else None


def campaign_data(campaign: Campaign, stats: dict) -> dict:
    return {
        "id": campaign.pk, "name": campaign.name, "status": campaign.status,
        "inbox_id": campaign.inbox_id, "started_at": _iso(campaign.started_at),
        "completed_at": _iso(campaign.completed_at), "cancelled_at": _iso(campaign.cancelled_at),
        "failed_at": _iso(campaign.failed_at), "failure_reason": campaign.failure_reason,
        "stats": stats,
    }


def events_data(events: list[Event]) -> list[dict | None]:
    """The data of each event, in order; None for an entity gone since (nothing to send)."""
    ids = {"conversation": set(), "message": set(), "contact": set(), "campaign": set()}
    for event in events:
        if event.name in CONVERSATION_KINDS:
            ids["conversation"].add(event.data["conversation_id"])
        elif event.name in MESSAGE_KINDS:
            ids["message"].add(event.data["message_id"])
        elif event.name in CONTACT_KINDS:
            ids["contact"].add(event.data["contact_id"])
        elif event.name == CAMPAIGN_FINISHED:
            ids["campaign"].add(event.data["campaign_id"])
    conversations = Conversation.objects.select_related("contact").in_bulk(ids["conversation"]) \
        if ids["conversation"] else {}
    messages = Message.objects.select_related("media").in_bulk(ids["message"]) if ids["message"] else {}
    contacts = Contact.objects.in_bulk(ids["contact"]) if ids["contact"] else {}
    campaigns = Campaign.objects.in_bulk(ids["campaign"]) if ids["campaign"] else {}
    stats = campaign_stats_many(list(campaigns)) if campaigns else {}
    found = []
    for event in events:
        data = None
        if event.name in CONVERSATION_KINDS:
            conversation = conversations.get(event.data["conversation_id"])
            data = conversation_data(conversation) if conversation else None
        elif event.name in MESSAGE_KINDS:
            message = messages.get(event.data["message_id"])
            data = message_data(message) if message and message.deleted_at is None else None
        elif event.name in CONTACT_KINDS:
            contact = contacts.get(event.data["contact_id"])
            data = contact_data(contact) if contact else None
        elif event.name == CAMPAIGN_FINISHED:
            campaign = campaigns.get(event.data["campaign_id"])
            data = campaign_data(campaign, stats[campaign.pk]) if campaign else None
        found.append(data)
    return found
