"""`/platform/api/v1/companies/{id}/domains` and `…/{id}/branding`: custom domains and branding."""

import json
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import EmailStr, Field
from pydantic import ValidationError as PydanticValidationError

from conversa.errors import DomainError, ValidationFailed
from ninja_api.errors import validation_details
from ninja_api.platform.acting import acting
from ninja_api.platform.companies import CompanyDetailOut
from tenants import domains
from tenants.branding import company_set_branding, logo_path
from tenants.services import company_get

router = Router(tags=["domains and branding"])


class TxtRecordOut(Schema):
    type: str
    name: str
    value: str


class DomainOut(Schema):
    id: int
    domain: str
    kind: str
    is_primary: bool
    verified: bool
    verified_at: datetime | None
    created_at: datetime
    txt_record: TxtRecordOut | None

    @staticmethod
    def resolve_verified(domain):
        return domain.is_verified

    @staticmethod
    def resolve_txt_record(domain):
        if domain.kind != domain.Kind.CUSTOM:
            return None
        return domains.txt_record_for(domain)


class DomainList(Schema):
    items: list[DomainOut]
    next_cursor: str | None = None


class DomainIn(Schema):
    domain: str = Field(min_length=1, max_length=253)


class BrandingIn(Schema):
    brand_name: str | None = Field(None, max_length=100)
    primary_color: str | None = Field(None, pattern=r"^#[0-9a-fA-F]{6}$")
    support_email: EmailStr | Literal[""] | None = None
    remove_logo: bool = False


class BrandingOut(CompanyDetailOut):
    logo_url: str

    @staticmethod
    def resolve_logo_url(company):
        path = logo_path(company)
        if not path:
            return ""
        host = company.get_primary_domain().domain
        return f"{settings.PUBLIC_SCHEME}://{host}{path}"


@router.get("/{int:company_id}/domains", response=DomainList)
def list_domains(request, company_id: int):
    return {"items": domains.domain_list(company=company_get(company_id)), "next_cursor": None}


@router.post("/{int:company_id}/domains", response={201: DomainOut})
def add_domain(request, company_id: int, payload: DomainIn):
    company = company_get(company_id)
    return Status(201, domains.domain_add(company=company, domain=payload.domain, **acting(request)))


@router.get("/{int:company_id}/domains/{int:domain_id}", response=DomainOut)
def get_domain(request, company_id: int, domain_id: int):
    return domains.domain_get(company=company_get(company_id), domain_id=domain_id)


@router.post("/{int:company_id}/domains/{int:domain_id}/verify", response=DomainOut)
def verify_domain(request, company_id: int, domain_id: int):
    company = company_get(company_id)
    domain = domains.domain_get(company=company, domain_id=domain_id)
    return domains.domain_verify(domain=domain, **acting(request))


@router.post("/{int:company_id}/domains/{int:domain_id}/make-primary", response=DomainOut)
def make_primary(request, company_id: int, domain_id: int):
    company = company_get(company_id)
    domain = domains.domain_get(company=company, domain_id=domain_id)
    return domains.domain_make_primary(domain=domain, **acting(request))


@router.delete("/{int:company_id}/domains/{int:domain_id}", response={204: None})
def remove_domain(request, company_id: int, domain_id: int):
    company = company_get(company_id)
    domain = domains.domain_get(company=company, domain_id=domain_id)
    domains.domain_remove(domain=domain, **acting(request))
    return Status(204, None)


@router.patch("/{int:company_id}/branding", response=BrandingOut)
def update_branding(request, company_id: int):
    """JSON `{brand_name?, primary_color?, support_email?, remove_logo?}`, or the same fields as
    multipart form data with the logo in the field `logo`."""
    company = company_get(company_id)
    data, logo = _branding_input(request)
    try:
        payload = BrandingIn.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationFailed(details=validation_details(exc.errors())) from None
    fields = payload.model_dump(exclude_unset=True)
    company = company_set_branding(
        company=company,
        brand_name=fields.get("brand_name", company.brand_name) or "",
        primary_color=fields.get("primary_color", company.primary_color) or "",
        support_email=fields.get("support_email", company.support_email) or "",
        logo_file=logo, remove_logo=payload.remove_logo, **acting(request),
    )
    return company_get(company.pk)


def _branding_input(request) -> tuple[dict, object]:
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type.startswith("multipart/form-data"):
        # Django parses multipart bodies for POST only.
        method, request.method = request.method, "POST"
        try:
            request._load_post_and_files()
        except MultiPartParserError:
            raise DomainError(_("The multipart body is malformed.")) from None
        finally:
            request.method = method
        data = {key: value for key, value in request.POST.items()}
        if "remove_logo" in data:
            data["remove_logo"] = data["remove_logo"].lower() in ("1", "true", "on", "yes")
        return data, request.FILES.get("logo")
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise DomainError(_("The JSON body is malformed.")) from None
    if not isinstance(data, dict):
        raise ValidationFailed(_("A JSON object is expected."))
    return data, None
