"""The inbox list scrolls endlessly: each next page (`/app/rows/` with the cursor the previous page
wrote) continues where the last one stopped, to the end, with no row twice or missing."""

import datetime as dt
import html
import re

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from apps.conversations.models import Conversation
from apps.web.inbox_query import PAGE_SIZE
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


def test_scrolling_the_inbox_walks_every_conversation_once_newest_first(alpha):
    inbox = make_inbox(alpha)
    admin = make_user(alpha, role="admin")
    now = timezone.now()
    with schema_context(alpha.schema_name):
        made = []
        for n in range(PAGE_SIZE * 2 + 5):
            contact = Contact.objects.create(phone=f"+5511955{n:05d}", name=f"Rolagem {n}")
            # Some opened by an agent without a message yet: they sort by when they began.
            made.append(Conversation.objects.create(
                contact=contact, inbox=inbox, status="open",
                last_message_at=None if n % 5 == 0 else now - dt.timedelta(minutes=n),
            ).pk)
        activity = {c.pk: c.last_message_at or c.created_at for c in Conversation.objects.filter(pk__in=made)}
    expected = sorted(made, key=lambda pk: (activity[pk], pk), reverse=True)
    browser = signed_in(alpha, admin)

    page = browser.get("/app/?tab=all&status=any").content.decode()
    seen = [int(pk) for pk in re.findall(r'<li id="row-(\d+)"', page)]
    pages = 1
    while (more := re.search(r'hx-get="(/app/rows/\?[^"]+)"', page)) is not None:
        response = browser.get(html.unescape(more.group(1)))
        assert response.status_code == 200
        page = response.content.decode()
        seen += [int(pk) for pk in re.findall(r'<li id="row-(\d+)"', page)]
        pages += 1
    assert pages == 3
    assert [pk for pk in seen if pk in activity] == expected


def test_a_row_links_its_conversation_and_carries_its_activity_to_the_microsecond(alpha):
    # Given a conversation whose last message came at a moment with microseconds
    inbox = make_inbox(alpha)
    admin = make_user(alpha, role="admin")
    at = dt.datetime(2026, 3, 9, 14, 5, 7, 40213, tzinfo=dt.UTC)
    with schema_context(alpha.schema_name):
        contact = Contact.objects.create(phone="+5511955000999", name="Micro Segundo")
        conversation = Conversation.objects.create(contact=contact, inbox=inbox, status="open",
                                                   last_message_at=at)

    # When the inbox lists it
    page = signed_in(alpha, admin).get("/app/?tab=all&status=any").content.decode()

    # Then its row opens it, and says when it moved as the script sorts it (epoch seconds and
    # microseconds) and as people read it (local time, with its offset)
    row = re.search(rf'<li id="row-{conversation.pk}".*?</li>', page, re.S).group(0)
    assert f'href="/app/c/{conversation.pk}/?' in row and f'hx-get="/app/c/{conversation.pk}/"' in row
    assert f'data-activity="{int(at.timestamp())}.040213"' in row
    assert f'datetime="{timezone.localtime(at).isoformat()}"' in row
