"""The console's pages: companies (list, create, detail and actions), plans, the audit log.

Views parse a form, call one service (which writes its own audit entry), and redirect.
"""

import secrets

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from conversa.errors import DomainError
from tenants import services
from tenants.console import forms
from tenants.console.auth import acting, superadmin_required
from tenants.console.queries import bar_chart, companies_page, usage_history
from tenants.counts import company_counts_refresh
from tenants.models import Company, Plan, PlatformAuditEntry
from tenants.services import tenant_host
from tenants.usage import usage_for_month

ONCE_KEY = "console_once_password"
# Sections other parts of the console add to the company page when their template exists.
COMPANY_SECTIONS = ("console/company_domains.html", "console/company_branding.html")


def _form_errors(form, exc: DomainError) -> None:
    """Put a service's field errors on the form's fields, the rest on the form."""
    details = exc.details if isinstance(exc.details, list) else []
    placed = False
    for item in details:
        field = item.get("field")
        field = {"plan_code": "plan", "admin_password": None}.get(field, field)
        form.add_error(field if field in form.fields else None, item.get("message", ""))
        placed = True
    if not placed:
        form.add_error(None, exc.message)


def _template_exists(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


# --- companies ----------------------------------------------------------------------------------

@superadmin_required
def companies_view(request):
    filters = forms.CompanyFilterForm(request.GET or None)
    values = filters.cleaned_data if filters.is_valid() else {}
    page, rows = companies_page(
        q=values.get("q", ""), status=values.get("status", ""), plan=values.get("plan", ""),
        page=request.GET.get("page", 1),
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "console/companies.html", {
        "tab": "companies", "filters": filters, "page": page, "rows": rows,
        "query": query.urlencode(), "base_domain": settings.BASE_DOMAIN,
    })


@superadmin_required
def company_create_view(request):
    form = forms.CompanyCreateForm(request.POST or None, base_domain=settings.BASE_DOMAIN)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        password = secrets.token_urlsafe(12)
        try:
            company, admin = services.company_create(
                name=data["name"], slug=data["slug"], plan_code=data["plan"],
                admin_email=data["admin_email"], admin_password=password, **acting(request),
            )
        except DomainError as exc:
            _form_errors(form, exc)
            status = exc.status
        else:
            company_counts_refresh(company=company)  # the list shows the new company's first admin
            # Shown once, on the next page, then forgotten (popped from the session).
            request.session[ONCE_KEY] = {"company": company.pk, "email": admin.email,
                                         "password": password}
            return redirect("console:company-created", company_id=company.pk)
    elif request.method == "POST":
        status = 422
    return render(request, "console/company_create.html",
                  {"tab": "companies", "form": form}, status=status)


@superadmin_required
def company_created_view(request, company_id: int):
    company = get_object_or_404(Company.objects.select_related("plan"), pk=company_id)
    once = request.session.get(ONCE_KEY)
    if not once or once.get("company") != company.pk:
        return redirect("console:company", company_id=company.pk)
    del request.session[ONCE_KEY]
    port = request.get_port()
    host = tenant_host(company.slug)
    origin = f"{request.scheme}://{host}" + ("" if port in ("80", "443") else f":{port}")
    response = render(request, "console/company_created.html", {
        "tab": "companies", "company": company, "email": once["email"],
        "password": once["password"], "login_url": f"{origin}/app/login/",
    })
    response["Cache-Control"] = "no-store"
    return response


@superadmin_required
def company_view(request, company_id: int):
    company = get_object_or_404(Company.objects.select_related("plan"), pk=company_id)
    if company.schema_name == "public":
        return redirect("console:companies")
    counts = company_counts_refresh(company=company)  # live on this page
    history = usage_history(company)
    outbound_chart = bar_chart([
        (date_format(row["month"], "M"), row["outbound_messages"], str(row["outbound_messages"]))
        for row in history
    ])
    storage_chart = bar_chart([
        (date_format(row["month"], "M"), row["storage_bytes"],
         f"{row['storage_bytes'] / 1_048_576:.1f} MB")
        for row in history
    ])
    context = {
        "tab": "companies", "company": company, "counts": counts, "host": tenant_host(company.slug),
        "this_month": usage_for_month(company_id=company.pk), "history": history,
        "outbound_chart": outbound_chart, "storage_chart": storage_chart,
        "edit_form": forms.CompanyEditForm(initial={
            "name": company.name, "owner_email": company.owner_email,
            "default_language": company.default_language, "time_zone": company.time_zone,
        }),
        "plan_form": forms.PlanChangeForm(initial={"plan": company.plan.code}),
        "reason_form": forms.ReasonForm(),
        "recent": PlatformAuditEntry.objects.filter(company=company)[:10],
    }
    context["sections"] = [name for name in COMPANY_SECTIONS if _template_exists(name)]
    return render(request, "console/company.html", context)


def _company_action(request, company_id: int, form, action):
    """Validate `form`, run `action(company, data)`; back to the company."""
    company = get_object_or_404(Company, pk=company_id)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("console:company", company_id=company.pk)
    try:
        with transaction.atomic():
            message = action(company, form.cleaned_data)
    except DomainError as exc:
        details = exc.details if isinstance(exc.details, list) else []
        messages.error(request, "; ".join(item.get("message", "") for item in details) or exc.message)
    else:
        messages.success(request, message)
    return redirect("console:company", company_id=company.pk)


@superadmin_required
@require_POST
def company_edit_view(request, company_id: int):
    def edit(company, data):
        services.company_update(company=company, **data, **acting(request))
        return _("Company saved.")

    return _company_action(request, company_id, forms.CompanyEditForm(request.POST), edit)


@superadmin_required
@require_POST
def company_plan_view(request, company_id: int):
    def change(company, data):
        services.company_change_plan(company=company, plan_code=data["plan"], **acting(request))
        return _("Plan changed.")

    return _company_action(request, company_id, forms.PlanChangeForm(request.POST), change)


@superadmin_required
@require_POST
def company_suspend_view(request, company_id: int):
    def suspend(company, data):
        services.company_suspend(company=company, reason=data["reason"], **acting(request))
        return _("Company suspended: its users see the suspended page, its API answers 402.")

    return _company_action(request, company_id, forms.ReasonForm(request.POST), suspend)


@superadmin_required
@require_POST
def company_activate_view(request, company_id: int):
    def activate(company, data):
        services.company_activate(company=company, reason=data["reason"], **acting(request))
        return _("Company activated.")

    return _company_action(request, company_id, forms.ReasonForm(request.POST), activate)


# --- plans --------------------------------------------------------------------------------------

@superadmin_required
def plans_view(request):
    return render(request, "console/plans.html", {"tab": "plans", "plans": Plan.objects.all()})


@superadmin_required
def plan_edit_view(request, code: str):
    plan = get_object_or_404(Plan, code=code)
    original = Plan.objects.get(pk=plan.pk)  # the ModelForm writes its input onto `plan`
    form = forms.PlanForm(request.POST or None, instance=plan)
    status = 200
    if request.method == "POST" and form.is_valid():
        services.plan_update(plan=original, **form.cleaned_data, **acting(request))
        messages.success(request, _("Plan saved."))
        return redirect("console:plans")
    elif request.method == "POST":
        status = 422
    return render(request, "console/plan_form.html",
                  {"tab": "plans", "form": form, "plan": original}, status=status)


@superadmin_required
def plan_create_view(request):
    form = forms.PlanCreateForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.plan_create(code=data.pop("code"), name=data.pop("name"), **data, **acting(request))
        except DomainError as exc:
            _form_errors(form, exc)
            status = exc.status
        else:
            messages.success(request, _("Plan created."))
            return redirect("console:plans")
    elif request.method == "POST":
        status = 422
    return render(request, "console/plan_form.html",
                  {"tab": "plans", "form": form, "plan": None}, status=status)


# --- audit log ----------------------------------------------------------------------------------

@superadmin_required
def audit_view(request):
    filters = forms.AuditFilterForm(request.GET or None)
    entries = PlatformAuditEntry.objects.select_related("company")
    if filters.is_valid():
        values = filters.cleaned_data
        if values["action"]:
            entries = entries.filter(action__icontains=values["action"])
        if values["company"]:
            entries = entries.filter(company__slug=values["company"].strip().lower())
        if values["actor"]:
            entries = entries.filter(actor_email__icontains=values["actor"])
        if values["source"]:
            entries = entries.filter(source=values["source"])
    page = Paginator(entries, 50).get_page(request.GET.get("page", 1))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "console/audit.html", {
        "tab": "audit", "filters": filters, "page": page, "query": query.urlencode(),
    })
