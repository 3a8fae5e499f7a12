"""Data of the console's domains and branding sections, which the company page includes."""

from django import template

from tenants.console.domains import BrandingForm, DomainForm
from tenants.domains import domain_list, txt_record_for

register = template.Library()


@register.simple_tag
def company_domains(company):
    return [
        {"domain": domain, "record": txt_record_for(domain) if domain.kind == domain.Kind.CUSTOM else None}
        for domain in domain_list(company=company)
    ]


@register.simple_tag
def domain_form():
    return DomainForm(auto_id="id_domain_%s")


@register.simple_tag
def branding_form(company):
    return BrandingForm.for_company(company)
