"""Contacts on the websocket: the `contact` topic, whose frames (`contact.created`, `contact.updated`,
`contact.deleted`) reach only the sockets showing that contact.

Every role reads the company's contacts (SPEC §3), so any active user of the company may follow one;
sockets following one of its conversations follow it too (conversations registers that).
"""

from apps.accounts import permissions
from apps.accounts.models import User
from apps.contacts.models import Contact
from conversa.realtime.topics import register_topic

CONTACT_TOPIC = "contact"


def contact_audience(contact_id: int) -> list[str]:
    """Realtime group suffixes of the sockets showing this contact."""
    return [f"{CONTACT_TOPIC}.{contact_id}"]


@register_topic(CONTACT_TOPIC)
def may_follow_contact(user_id: int, ref: str) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    return (user is not None and ref.isdigit() and permissions.may(user, "contacts.read")
            and Contact.objects.filter(pk=int(ref)).exists())
