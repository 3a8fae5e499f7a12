"""Cursor pages walk every row once, also when the ordering field is NULL for some rows."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from ninja_api.pagination import paginate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("ordering", [("-last_contact_at", "-id"), ("last_contact_at", "id")])
def test_pages_cover_rows_with_and_without_a_value_exactly_once(alpha, ordering):
    with schema_context(alpha.schema_name):
        now = timezone.now()
        made = [
            Contact.objects.create(
                phone=f"+55119777000{i:02d}",
                last_contact_at=None if i % 3 == 0 else now - dt.timedelta(minutes=i // 2),
            ).pk
            for i in range(11)
        ]
        seen, cursor = [], None
        while True:
            rows, cursor = paginate(Contact.objects.filter(pk__in=made), cursor=cursor, limit=2,
                                    ordering=ordering)
            seen += [row.pk for row in rows]
            if cursor is None:
                break
        expected = list(Contact.objects.filter(pk__in=made).order_by(*ordering).values_list("pk", flat=True))
        assert seen == expected
