"""Language codes as users and the API write them (`pt-BR`) and as Django knows them (`pt-br`)."""

from django.conf import settings
from django.utils import translation


def supported_language(code: str | None) -> str:
    try:
        return translation.get_supported_language_variant((code or "").lower())
    except LookupError:
        return settings.LANGUAGE_CODE
