"""Presentation helpers of the inbox list."""

from django import template

from apps.conversations.preview import preview_parts as _preview_parts

register = template.Library()


@register.filter
def preview_parts(preview: str) -> tuple[str, str]:
    """A stored last-message preview as (its kind's label in the reader's language or "", its text)."""
    return _preview_parts(preview or "")
