"""Customer satisfaction (CSAT, SPEC §6): the rating request sent when a conversation closes, and
the customer's answer, by a numbered reply or on the rating page its link opens.

Who is asked: a conversation of an inbox with CSAT on, closed by anyone (an agent, automation,
auto-close), whose customer wrote at least once (one that only ever received a template was never
served) and that was not closed as spam (`close_reason` or `outcome` "spam"). Once per close: the
request's time is kept on the conversation and a close after it (a reopen, then a close) asks again.
WhatsApp's 24-hour window applies: outside it nothing is sent and the timeline says why.

The reply path runs inside the inbound apply, before the reopen rule, only for a customer with no
conversation in progress: the closed conversation's row is already being looked for there, so a
pending survey costs no extra query (`answer_window_condition`).
"""

import datetime as dt
import re

from django.core import signing
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.conversations import events
from apps.conversations.models import Conversation, Message, TimelineEvent
from apps.conversations.outbound import message_send, within_service_window
from apps.inboxes.models import Inbox
from apps.inboxes.selectors import tenant_base_url
from conversa.errors import DomainError, ValidationFailed
from conversa.events import publish
from tenants.models import Company

# A numbered reply counts this long after the request; the page's link lasts LINK_TTL.
REPLY_WINDOW = dt.timedelta(hours=24)
LINK_TTL = dt.timedelta(days=7)
# A text the customer sends this soon after a numbered rating is its comment.
COMMENT_WINDOW = dt.timedelta(minutes=10)
MAX_COMMENT = 2000
SPAM = "spam"

# "4", "4.", "4 - great", "4: thanks", "4️⃣" (keycap: digit, optional VS16, U+20E3).
_RATING = re.compile(
    r"^\s*([1-5])(?:\ufe0f?\u20e3)?(?:(?:\s*[-–—:.,)!]\s*|\s+)(?P<rest>.+?)|[.!)]?)\s*$", re.S
)


def parse_rating(text: str) -> tuple[int, str] | None:
    """(rating, the words after it) for a reply that rates, None for anything else."""
    match = _RATING.match(text or "")
    if match is None:
        return None
    return int(match.group(1)), (match.group("rest") or "").strip()[:MAX_COMMENT]


# --- the request ---------------------------------------------------------------------------------

def _company() -> Company:
    return Company.objects.get(schema_name=connection.schema_name)


def default_request_text() -> str:
    return _("How would you rate our service? Reply with a number from 1 (very bad) to 5 (excellent).")


def default_link_text() -> str:
    return _("How would you rate our service? Tell us here:")


def link_token(conversation_id: int) -> str:
    """The page's token: one conversation, this company (the schema is part of what is signed)."""
    return signing.dumps(conversation_id, salt=f"conversa.csat:{connection.schema_name}", compress=True)


def conversation_for_token(token: str) -> Conversation | None:
    """The conversation a token of this company names, while it lasts; None when forged, expired
    or from another company."""
    try:
        conversation_id = signing.loads(
            token, salt=f"conversa.csat:{connection.schema_name}", max_age=LINK_TTL.total_seconds()
        )
    except signing.BadSignature:
        return None
    if not isinstance(conversation_id, int):
        return None
    return (
        Conversation.objects.select_related("inbox")
        .filter(pk=conversation_id, csat_requested_at__isnull=False).first()
    )


def request_text(inbox: Inbox, conversation_id: int) -> str:
    with translation.override(_company().default_language or "en"):
        if inbox.csat_mode == Inbox.CsatMode.LINK:
            intro = inbox.csat_message.strip() or default_link_text()
            return f"{intro}\n{tenant_base_url()}/csat/{link_token(conversation_id)}"
        return inbox.csat_message.strip() or default_request_text()


def csat_wanted(conversation_ids) -> list[int]:
    """Those of these conversations whose inbox asks for a rating: one query, so a close in a
    company without CSAT queues nothing."""
    return list(
        Conversation.objects.filter(pk__in=list(conversation_ids), inbox__csat_enabled=True)
        .order_by("pk").values_list("pk", flat=True)
    )


def _skip(conversation: Conversation, reason: str) -> None:
    TimelineEvent.objects.create(
        conversation=conversation, kind="csat_skipped",
        data={"reason": reason, "closed_at": conversation.closed_at.isoformat()},
    )


def csat_request_send(*, conversation_id: int) -> Message | None:
    """Ask the customer of a closed conversation for a rating, once per close.

    Under the conversation's row lock: a second run (a retried task, two workers) finds the request
    already made for this close (`csat_requested_at` after `closed_at`) or the skip recorded.
    """
    with transaction.atomic():
        conversation = (
            Conversation.objects.select_for_update(of=("self",)).select_related("inbox", "contact")
            .filter(pk=conversation_id, status=Conversation.Status.CLOSED).first()
        )
        if conversation is None or not conversation.inbox.csat_enabled or conversation.closed_at is None:
            return None
        if conversation.csat_requested_at and conversation.csat_requested_at >= conversation.closed_at:
            return None
        if conversation.timeline.filter(
            kind="csat_skipped", data__closed_at=conversation.closed_at.isoformat()
        ).exists():
            return None
        if SPAM in (conversation.close_reason.strip().lower(), conversation.outcome.strip().lower()):
            _skip(conversation, "spam")
            return None
        if not conversation.messages.filter(direction=Message.Direction.INBOUND).exists():
            _skip(conversation, "no_inbound")
            return None
        if not within_service_window(conversation):
            _skip(conversation, "outside_service_window")
            return None
        try:
            with transaction.atomic():
                message = message_send(
                    conversation=conversation, author=None, automatic=True,
                    text=request_text(conversation.inbox, conversation.pk)[:4096],
                )
        except DomainError as exc:
            _skip(conversation, exc.code)
            return None
        now = timezone.now()
        Conversation.objects.filter(pk=conversation.pk).update(csat_requested_at=now, updated_at=now)
        TimelineEvent.objects.create(
            conversation=conversation, kind="csat_requested",
            data={"message_id": message.pk, "mode": conversation.inbox.csat_mode},
        )
    return message


# --- the answer ----------------------------------------------------------------------------------

def answer_window_condition(at: dt.datetime) -> Q:
    """Closed conversations a customer's message may still answer (a rating, or its comment)."""
    return Q(status=Conversation.Status.CLOSED) & (
        Q(csat_requested_at__gte=at - REPLY_WINDOW) | Q(csat_answered_at__gte=at - COMMENT_WINDOW)
    )


def _awaits_rating(conversation: Conversation, at: dt.datetime) -> bool:
    requested, answered = conversation.csat_requested_at, conversation.csat_answered_at
    return (
        requested is not None and at - requested <= REPLY_WINDOW
        and (answered is None or answered < requested)
        and conversation.inbox.csat_mode == Inbox.CsatMode.REPLY
    )


def _awaits_comment(conversation: Conversation, at: dt.datetime) -> bool:
    """Just rated by a numbered reply (the page has its own comment box), no comment yet."""
    answered = conversation.csat_answered_at
    return (
        conversation.inbox.csat_mode == Inbox.CsatMode.REPLY
        and answered is not None and not conversation.csat_comment
        and conversation.csat_requested_at is not None and answered >= conversation.csat_requested_at
        and at - answered <= COMMENT_WINDOW
    )


def reply_absorbed(conversation: Conversation, *, text: str, kind: str, at: dt.datetime) -> bool:
    """Whether a customer's message on this closed (and locked) conversation answers its survey:
    the rating (a number 1–5, with words after it as the comment) or, just after it, the comment.
    Stores it and returns True; the message then stays in the closed conversation, which does not
    reopen. Anything else is False: the normal reopen rules apply."""
    if kind != Message.Kind.TEXT or conversation.status != Conversation.Status.CLOSED:
        return False
    if _awaits_rating(conversation, at):
        parsed = parse_rating(text)
        if parsed is None:
            return False
        _store(conversation, rating=parsed[0], comment=parsed[1], via="reply")
        return True
    if _awaits_comment(conversation, at) and text.strip() and parse_rating(text) is None:
        _store(conversation, rating=conversation.csat_rating, comment=text.strip()[:MAX_COMMENT], via="reply")
        return True
    return False


def _store(conversation: Conversation, *, rating: int, comment: str, via: str) -> None:
    now = timezone.now()
    conversation.csat_rating, conversation.csat_comment, conversation.csat_answered_at = rating, comment, now
    Conversation.objects.filter(pk=conversation.pk).update(
        csat_rating=rating, csat_comment=comment, csat_answered_at=now, updated_at=now,
    )
    TimelineEvent.objects.create(
        conversation=conversation, kind="csat_answered",
        data={"rating": rating, "comment": comment, "via": via},
    )
    publish(events.CONVERSATION_UPDATED, {"conversation_id": conversation.pk})


def csat_answer_by_link(*, token: str, rating, comment: str = "") -> Conversation | None:
    """The rating page's answer. A second answer within the link's life replaces the first (the
    customer changed their mind; the timeline keeps both). None for a token that does not open
    (forged, expired, another company's); 422 naming the field for a bad rating or comment."""
    conversation = conversation_for_token(token)
    if conversation is None:
        return None
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if not 1 <= rating <= 5:
        raise ValidationFailed(details=[{"field": "rating", "message": _("Choose from 1 to 5.")}])
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT or "\x00" in comment:
        raise ValidationFailed(details=[{
            "field": "comment", "message": _("At most %(max)d characters.") % {"max": MAX_COMMENT},
        }])
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update(of=("self",)).get(pk=conversation.pk)
        _store(conversation, rating=rating, comment=comment, via="link")
    return conversation
