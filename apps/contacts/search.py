"""Accent- and case-blind text search ("joao" finds "João"), served by trigram indexes.

The expression is `UPPER(public.conversa_unaccent(column))`, exactly as the indexes of the contacts
and conversations migrations are written: any other spelling would read the whole table.
"""

from django.db.models import F, Func, TextField, Value
from django.db.models.functions import Upper
from django.db.models.lookups import Contains


class Unaccent(Func):
    """`public.conversa_unaccent`, the IMMUTABLE wrapper of `unaccent` (contacts migration 0003)."""

    function = "public.conversa_unaccent"
    output_field = TextField()


def accent_free_contains(field: str, text: str) -> Contains:
    """`field` contains `text` (anywhere), ignoring case and accents; usable in `.filter()`/`Q`.
    LIKE's wildcards in `text` match themselves (Django escapes the pattern)."""
    return Contains(Upper(Unaccent(F(field))), Upper(Unaccent(Value(text))))
