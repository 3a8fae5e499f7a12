"""Emails rendered from templates `mail/<kind>.subject.txt`, `.txt` and `.html`, in the
recipient's language and with the company's branding."""

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils import translation

from apps.mail.branding import email_brand
from tenants.models import Company

LANGUAGES = ("en", "es", "pt-br")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def email_language(code: str | None, company: Company | None = None) -> str:
    """One of LANGUAGES for a code as users and the API write it (`pt-BR`), else the company's."""
    for candidate in (code, company.default_language if company else None):
        candidate = (candidate or "").lower()
        if candidate in LANGUAGES:
            return candidate
        if candidate.split("-")[0] == "pt":
            return "pt-br"
        if candidate.split("-")[0] in LANGUAGES:
            return candidate.split("-")[0]
    return "en"


def render_email(
    kind: str, context: dict, *, company: Company, base_url: str, language: str,
) -> RenderedEmail:
    context = {**context, "brand": email_brand(company, base_url), "base_url": base_url}
    with translation.override(language):
        context["language"] = translation.get_language()
        subject = render_to_string(f"mail/{kind}.subject.txt", context)
        text = render_to_string(f"mail/{kind}.txt", context)
        html = render_to_string(f"mail/{kind}.html", context)
    # A header line: no line breaks, and short enough for every mail client.
    subject = " ".join(subject.split())[:250]
    return RenderedEmail(subject=subject, text=text.strip() + "\n", html=html)
