"""Values PostgreSQL writes exactly as the API's JSON encoder would, for the hottest lists: a row
then holds text to copy, not a timestamp to parse into Python and format back (a conversation list
page has about 150 of them, a tenth of its request's CPU)."""

from django.db.models import CharField, Func


class JSONTimestamp(Func):
    """A timestamp as `DjangoJSONEncoder` writes it: ISO 8601 in UTC ending in "Z", with
    milliseconds (cut, not rounded) unless it falls on a whole second; NULL stays NULL.
    `tests/api/test_sql_json.py` compares the two."""

    arity = 1
    template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        " || CASE WHEN date_trunc('second', %(expressions)s) = %(expressions)s THEN ''"
        " ELSE to_char(%(expressions)s AT TIME ZONE 'UTC', '.MS') END || 'Z'"
    )
    output_field = CharField()
