"""The console's custom domains and branding sections of a company page (their forms post here).

Each view calls one service of tenants.domains / tenants.branding (which writes its own platform
audit entry), then goes back to the company page.
"""

from django import forms
from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from conversa.errors import DomainError
from tenants import domains
from tenants.branding import company_set_branding, logo_mime
from tenants.console.auth import acting, superadmin_required
from tenants.models import Company


class DomainForm(forms.Form):
    domain = forms.CharField(label=_("Domain"), max_length=253,
                             widget=forms.TextInput(attrs={"placeholder": "support.example.com"}))


class BrandingForm(forms.Form):
    brand_name = forms.CharField(label=_("Brand name"), max_length=100, required=False)
    primary_color = forms.RegexField(
        label=_("Primary colour"), regex=r"^#[0-9a-fA-F]{6}$",
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": _("Enter a colour like #0f766e.")},
    )
    support_email = forms.EmailField(label=_("Support email"), max_length=254, required=False)
    logo = forms.FileField(
        label=_("Logo"), required=False,
        help_text=_("PNG, JPEG or WebP, up to 2 MB; shown at most 512 × 512 pixels."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
    )
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    @classmethod
    def for_company(cls, company: Company) -> "BrandingForm":
        return cls(initial={"brand_name": company.brand_name, "primary_color": company.primary_color,
                            "support_email": company.support_email}, auto_id="id_branding_%s")


def _back(company_id: int, anchor: str):
    response = redirect("console:company", company_id=company_id)
    response["Location"] += f"#{anchor}"
    return response


def _error(request, exc: DomainError) -> None:
    details = exc.details if isinstance(exc.details, list) else []
    messages.error(request, "; ".join(item.get("message", "") for item in details) or exc.message)


def _form_errors(request, form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)


@superadmin_required
@require_POST
def domain_add_view(request, company_id: int):
    company = get_object_or_404(Company.objects.select_related("plan"), pk=company_id)
    form = DomainForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(company.pk, "domains")
    try:
        domain = domains.domain_add(company=company, domain=form.cleaned_data["domain"],
                                    **acting(request))
    except DomainError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Domain %(domain)s added. Publish its TXT record, then verify it.")
                         % {"domain": domain.domain})
    return _back(company.pk, "domains")


def _domain_action(request, company_id: int, domain_id: int, action, message):
    company = get_object_or_404(Company.objects.select_related("plan"), pk=company_id)
    try:
        domain = domains.domain_get(company=company, domain_id=domain_id)
        name = domain.domain
        # The DNS lookup of a verification happens inside the service, outside its own transaction.
        action(company, domain)
    except DomainError as exc:
        _error(request, exc)
    else:
        messages.success(request, message % {"domain": name})
    return _back(company.pk, "domains")


@superadmin_required
@require_POST
def domain_verify_view(request, company_id: int, domain_id: int):
    def verify(company, domain):
        domains.domain_verify(domain=domain, **acting(request))

    return _domain_action(request, company_id, domain_id, verify,
                          _("Domain %(domain)s verified: it is served now."))


@superadmin_required
@require_POST
def domain_make_primary_view(request, company_id: int, domain_id: int):
    def make_primary(company, domain):
        domains.domain_make_primary(domain=domain, **acting(request))

    return _domain_action(request, company_id, domain_id, make_primary,
                          _("%(domain)s is the primary domain now."))


@superadmin_required
@require_POST
def domain_remove_view(request, company_id: int, domain_id: int):
    def remove(company, domain):
        domains.domain_remove(domain=domain, **acting(request))

    return _domain_action(request, company_id, domain_id, remove,
                          _("Domain %(domain)s removed: it is no longer served."))


@superadmin_required
@require_POST
def branding_view(request, company_id: int):
    company = get_object_or_404(Company.objects.select_related("plan"), pk=company_id)
    form = BrandingForm(request.POST, request.FILES)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(company.pk, "branding")
    data = form.cleaned_data
    logo = data.get("logo") or None
    try:
        company_set_branding(
            company=company, brand_name=data["brand_name"], primary_color=data["primary_color"],
            support_email=data["support_email"], logo_file=logo,
            remove_logo=data["remove_logo"] and logo is None, **acting(request),
        )
    except DomainError as exc:
        _error(request, exc)
    else:
        messages.success(request, _("Branding saved."))
    return _back(company.pk, "branding")


@superadmin_required
@require_safe
def logo_view(request, company_id: int):
    """The company's logo for the console's preview (the company's own hosts serve /brand/logo)."""
    company = get_object_or_404(Company, pk=company_id)
    if not company.logo:
        raise Http404
    try:
        with default_storage.open(company.logo, "rb") as stored:
            data = stored.read()
    except OSError:
        raise Http404 from None
    response = HttpResponse(data, content_type=logo_mime(company.logo))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-cache"
    return response
