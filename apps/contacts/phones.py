"""Phone numbers in one shape: E.164 with a leading "+", the key contacts are unique by."""

import re

import phonenumbers
from django.utils.translation import gettext as _

# What people and providers write around the digits: "+55 (11) 98765-4321", "55.11.98765.4321".
_ALLOWED = re.compile(r"^\+?[\d\s().\-/]+$")
_MAX_RAW_LENGTH = 32


def normalize_phone(raw: str, *, strict: bool = True, default_region: str | None = None) -> str:
    """Return `raw` as E.164 ("+5511987654321"), or raise ValueError saying what is wrong.

    The country code is required ("+55…", "55…" or "0055…"); a number without it cannot be placed,
    unless `default_region` (ISO 3166 alpha-2, e.g. "BR") names the country of national numbers
    ("(11) 98765-4321"): a number written without "+" or "00" is read as that country's first, and
    as one with its country code when that is not a valid number there.
    `strict` checks the number against libphonenumber's numbering plans. Inbound messages pass
    `strict=False` (only the length is checked): the provider has already delivered from that number,
    and libphonenumber's metadata lags behind newly allocated ranges, so a customer is never refused.
    """
    text = (raw or "").strip()
    if not text:
        raise ValueError(_("Enter a phone number."))
    if len(text) > _MAX_RAW_LENGTH or not _ALLOWED.match(text):
        raise ValueError(_("Enter a phone number with digits only, e.g. +5511987654321."))
    if default_region and not text.startswith(("+", "00")):
        national = _parse(text, default_region.upper())
        if national is not None and phonenumbers.is_valid_number(national):
            return phonenumbers.format_number(national, phonenumbers.PhoneNumberFormat.E164)
    if text.startswith("00"):
        text = text[2:]  # the international call prefix used in most of the world
    if not text.startswith("+"):
        text = f"+{text}"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(_("Enter the phone number with its country code, e.g. +5511987654321.")) from exc
    valid = phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(number)
    if not valid:
        raise ValueError(_("Not a valid phone number; include the country code, e.g. +5511987654321."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse(text: str, region: str):
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
