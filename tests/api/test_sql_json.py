"""PostgreSQL writes the list's timestamps exactly as the API's JSON encoder writes them."""

import datetime as dt
import json

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django_tenants.utils import schema_context

from apps.contacts.models import Contact
from ninja_api.sql_json import JSONTimestamp

pytestmark = pytest.mark.django_db

MOMENTS = [
    None,
    dt.datetime(2026, 12, 7, 21, 0, 5, tzinfo=dt.UTC),  # a whole second: no fraction
    dt.datetime(2026, 12, 7, 21, 0, 5, 999_999, tzinfo=dt.UTC),  # cut to .999, not rounded up
    dt.datetime(2026, 12, 7, 21, 0, 5, 500, tzinfo=dt.UTC),  # under a millisecond: .000
    dt.datetime(2026, 12, 7, 21, 0, 5, 120_000, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 1, 2, 30, tzinfo=dt.timezone(dt.timedelta(hours=-3))),  # another offset
    dt.datetime(1999, 12, 31, 23, 59, 59, 1_000, tzinfo=dt.UTC),
]


def test_each_timestamp_comes_as_the_encoder_writes_it(alpha):
    with schema_context(alpha.schema_name):
        made = [Contact.objects.create(phone=f"+55119660{n:04d}", last_inbound_at=at).pk
                for n, at in enumerate(MOMENTS)]
        rows = dict(Contact.objects.filter(pk__in=made).values_list("pk", JSONTimestamp("last_inbound_at")))
        read_back = dict(Contact.objects.filter(pk__in=made).values_list("pk", "last_inbound_at"))
    for pk in made:
        assert rows[pk] == json.loads(json.dumps(read_back[pk], cls=DjangoJSONEncoder)), read_back[pk]
    assert rows[made[2]].endswith("05.999Z") and rows[made[1]].endswith(":05Z") and rows[made[0]] is None
