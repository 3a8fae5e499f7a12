"""The console's forms: input parsing only; writes go through tenants.services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.models import FEATURES, LIMITS, Company, Plan

LANGUAGES = [("en", "English"), ("es", "Español"), ("pt-br", "Português (Brasil)")]


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=128)


class CodeForm(forms.Form):
    otp = forms.RegexField(
        # Six digits from the app, or a backup code ("xxxxx-xxxxx").
        label=_("Code from your authenticator app"),
        regex=r"^\s*(\d{6}|[A-Za-z0-9]{5}-?[A-Za-z0-9]{5})\s*$", max_length=13,
        error_messages={"invalid": _("Enter the 6-digit code or a backup code.")},
    )


def _plan_choices():
    return [(plan.code, f"{plan.name} ({plan.code})") for plan in Plan.objects.all()]


class CompanyCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    slug = forms.CharField(
        label=_("Slug"), max_length=40,
        help_text=_("The company's address: slug.%(domain)s. Lowercase letters, digits, hyphens."),
    )
    plan = forms.ChoiceField(label=_("Plan"))
    admin_email = forms.EmailField(label=_("Admin email"), max_length=254)

    def __init__(self, *args, base_domain: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = _plan_choices()
        self.fields["slug"].help_text = self.fields["slug"].help_text % {"domain": base_domain}


class CompanyEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    owner_email = forms.EmailField(label=_("Owner email"), max_length=254, required=False)
    default_language = forms.ChoiceField(label=_("Default language"), choices=LANGUAGES)
    time_zone = forms.CharField(label=_("Time zone"), max_length=64)


class PlanChangeForm(forms.Form):
    plan = forms.ChoiceField(label=_("Plan"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = _plan_choices()


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)


class CompanyFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *Company.Status.choices],
    )
    plan = forms.ChoiceField(label=_("Plan"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["plan"].choices = [("", _("Any plan")), *_plan_choices()]


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = ["name", "monthly_price", *LIMITS, *FEATURES]
        labels = {
            "name": _("Name"),
            "monthly_price": _("Monthly price"),
            "max_agents": _("Agents"),
            "max_inboxes": _("Inboxes"),
            "max_contacts": _("Contacts"),
            "max_monthly_outbound_messages": _("Outbound messages per month"),
            "max_storage_mb": _("Storage (MB)"),
            "api_requests_per_minute": _("API requests per minute"),
            "campaigns": _("Campaigns"),
            "flows": _("Bot flows"),
            "api_access": _("API access"),
            "webhooks": _("Webhooks"),
            "knowledge_base": _("Knowledge base"),
            "team_chat": _("Team chat"),
            "reports_export": _("Reports export"),
            "white_label": _("White label"),
        }


class PlanCreateForm(PlanForm):
    code = forms.RegexField(label=_("Code"), regex=r"^[a-z][a-z0-9_-]{1,39}$", max_length=40)

    class Meta(PlanForm.Meta):
        fields = ["code", *PlanForm.Meta.fields]


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, max_length=64)
    company = forms.CharField(label=_("Company"), required=False, max_length=40)
    actor = forms.CharField(label=_("Super-admin"), required=False, max_length=254)
    source = forms.ChoiceField(label=_("Source"), required=False, choices=[
        ("", _("Console and API")), ("console", _("Console")), ("api", _("Platform API")),
    ])
