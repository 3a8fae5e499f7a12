"""Byte counts as the console shows them."""

from django import template

register = template.Library()


@register.filter
def megabytes(value) -> str:
    return f"{(value or 0) / 1_048_576:.1f} MB"
