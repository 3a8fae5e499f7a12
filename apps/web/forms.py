"""Forms of the admin settings and sandbox pages: input checks only; services do the writes."""

import secrets
import string

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import ApiKey, User
from apps.inboxes.models import Inbox, MessageTemplate
from apps.teams.models import Team
from conversa.errors import DomainError

PASSWORD_ALPHABET = string.ascii_letters + string.digits


def generated_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(16))


class ServiceForm(forms.Form):
    """A form that can also show a service's refusal: field details next to their fields, the rest
    above the form (Django 5.2 then links each error to its control with aria-describedby)."""

    # Service detail names (e.g. "credentials.access_token") → this form's field names.
    detail_fields: dict[str, str] = {}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.service_error = ""

    def show_error(self, exc: DomainError) -> None:
        self.service_error = exc.message
        details = exc.details if isinstance(exc.details, list) else []
        for detail in details:
            if not isinstance(detail, dict):
                continue
            name = str(detail.get("field", ""))
            name = self.detail_fields.get(name, name)
            message = str(detail.get("message", ""))
            if name in self.fields and message:
                self.add_error(name, message)
            elif message and message not in self.service_error:
                self.service_error = f"{self.service_error} {message}".strip()


# --- users ------------------------------------------------------------------------------------------

class UserCreateForm(ServiceForm):
    email = forms.EmailField(label=_("Email"), max_length=254)
    name = forms.CharField(label=_("Name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices, initial=User.Role.AGENT)
    password = forms.CharField(
        label=_("Initial password"), required=False, max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to generate one; it is shown once."),
    )


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices)


# --- inboxes ----------------------------------------------------------------------------------------

META_FIELDS = {
    "phone_number_id": _("Phone number ID"),
    "business_account_id": _("Business account ID"),
    "access_token": _("Access token"),
    "app_secret": _("App secret"),
    "verify_token": _("Verify token"),
}
TWILIO_FIELDS = {
    "account_sid": _("Account SID"),
    "auth_token": _("Auth token"),
    "from_number": _("WhatsApp sender number"),
}
# Never printed back to the page, not even in the form after an error.
SECRET_FIELDS = {"access_token", "app_secret", "auth_token"}
PROVIDER_PREFIX = {Inbox.Provider.WHATSAPP_CLOUD: "meta", Inbox.Provider.TWILIO: "twilio"}
PROVIDER_FIELDS = {Inbox.Provider.WHATSAPP_CLOUD: META_FIELDS, Inbox.Provider.TWILIO: TWILIO_FIELDS}


def _credential_field(key: str, label, *, required: bool = False) -> forms.CharField:
    if key in SECRET_FIELDS:
        widget = forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False)
    else:
        widget = forms.TextInput(attrs={"autocomplete": "off"})
    help_text = _("Optional: one is generated for you.") if key == "verify_token" else ""
    return forms.CharField(label=label, required=required, max_length=500, widget=widget, help_text=help_text)


class CredentialsMixin:
    """Credential fields of every provider, prefixed (`meta_access_token`); the chosen provider's
    ones are sent to the service as its `credentials` dict."""

    provider_for_credentials = ""

    def add_credential_fields(self, providers) -> None:
        for provider in providers:
            prefix = PROVIDER_PREFIX[provider]
            for key, label in PROVIDER_FIELDS[provider].items():
                self.fields[f"{prefix}_{key}"] = _credential_field(key, label)
                self.detail_fields[f"credentials.{key}"] = f"{prefix}_{key}"

    def credentials(self, provider: str) -> dict:
        prefix = PROVIDER_PREFIX.get(provider)
        if prefix is None:
            return {}
        return {
            key: self.cleaned_data[f"{prefix}_{key}"]
            for key in PROVIDER_FIELDS[provider]
            if self.cleaned_data.get(f"{prefix}_{key}")
        }


class InboxCreateForm(CredentialsMixin, ServiceForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    provider = forms.ChoiceField(label=_("Provider"), choices=Inbox.Provider.choices,
                                 initial=Inbox.Provider.SANDBOX)
    rate_limit_per_second = forms.IntegerField(
        label=_("Send rate limit (messages per second)"), min_value=1, max_value=1000, initial=80,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.detail_fields = {}
        self.add_credential_fields(PROVIDER_FIELDS)

    def credential_groups(self):
        """(provider, label, bound fields) for the template's one fieldset per provider."""
        labels = dict(Inbox.Provider.choices)
        return [
            (provider, labels[provider],
             [self[f"{PROVIDER_PREFIX[provider]}_{key}"] for key in PROVIDER_FIELDS[provider]])
            for provider in PROVIDER_FIELDS
        ]


class InboxEditForm(CredentialsMixin, ServiceForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    rate_limit_per_second = forms.IntegerField(
        label=_("Send rate limit (messages per second)"), min_value=1, max_value=1000,
    )
    reopen_window_hours = forms.IntegerField(
        label=_("Reopen window (hours)"), min_value=0, max_value=24 * 30,
        help_text=_("A customer writing again within this time reopens the closed conversation."),
    )
    greeting_message = forms.CharField(label=_("Greeting message"), required=False, max_length=4096,
                                       widget=forms.Textarea(attrs={"rows": 2}))
    away_message = forms.CharField(label=_("Away message"), required=False, max_length=4096,
                                   widget=forms.Textarea(attrs={"rows": 2}))
    default_team_id = forms.TypedChoiceField(
        label=_("Default team"), coerce=int, required=False, empty_value=None,
        help_text=_("New conversations join this team's queue and follow its hours."),
    )
    daily_limit = forms.IntegerField(
        label=_("Daily send limit"), required=False, min_value=1,
        help_text=_("Most messages sent per day; empty for no limit."),
    )
    auto_close_after_hours = forms.IntegerField(
        label=_("Close idle conversations after (hours)"), required=False, min_value=1, max_value=24 * 90,
        help_text=_("Empty: never close them automatically."),
    )
    auto_close_message = forms.CharField(
        label=_("Closing message"), required=False, max_length=4096, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Sent to the customer when a conversation is closed for being idle (optional)."),
    )
    csat_enabled = forms.BooleanField(
        label=_("Ask customers to rate the service when a conversation closes"), required=False,
    )
    csat_mode = forms.ChoiceField(
        label=_("How customers rate"), choices=Inbox.CsatMode.choices, initial=Inbox.CsatMode.REPLY,
        required=False,
        help_text=_("A numbered reply (1 to 5) in the chat, or a link to a rating page with your branding."),
    )
    csat_message = forms.CharField(
        label=_("Rating request"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Empty: a standard request in the company's language. The link is added after it."),
    )

    def __init__(self, *args, inbox: Inbox, **kwargs):
        super().__init__(*args, **kwargs)
        self.detail_fields = {}
        self.inbox = inbox
        teams = Team.objects.order_by("name", "id")
        self.fields["default_team_id"].choices = [("", _("No team"))] + [(t.pk, t.name) for t in teams]
        if inbox.provider in PROVIDER_FIELDS:
            self.add_credential_fields([inbox.provider])
            for name in self.credential_names():
                self.fields[name].help_text = _("Leave empty to keep the current value.")

    def clean_csat_mode(self) -> str:
        return self.cleaned_data.get("csat_mode") or self.inbox.csat_mode

    def credential_names(self) -> list[str]:
        prefix = PROVIDER_PREFIX.get(self.inbox.provider)
        if prefix is None:
            return []
        return [f"{prefix}_{key}" for key in PROVIDER_FIELDS[self.inbox.provider]]

    def credential_fields(self):
        return [self[name] for name in self.credential_names()]

    def settings_fields(self):
        return [self[name] for name in self.fields if name not in self.credential_names()]


class TemplateForm(ServiceForm):
    name = forms.RegexField(
        label=_("Name"), max_length=512, regex=r"^[a-z0-9_]+$",
        error_messages={"invalid": _("Lower-case letters, digits and underscores only.")},
    )
    language = forms.CharField(label=_("Language"), min_length=2, max_length=15, initial="en")
    body = forms.CharField(label=_("Body"), max_length=1024, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=_("Variables are written {{1}}, {{2}}…"))
    category = forms.ChoiceField(label=_("Category"), choices=MessageTemplate.Category.choices,
                                 initial=MessageTemplate.Category.UTILITY)


# --- quick replies ------------------------------------------------------------------------------------

class QuickReplyForm(ServiceForm):
    SCOPES = (("global", _("Everyone in the company")), ("personal", _("Only me")))

    shortcut = forms.RegexField(
        label=_("Shortcut"), max_length=50, regex=r"^[a-z0-9_-]+$",
        help_text=_("Typed after / in the composer: lower-case letters, digits, - and _."),
        error_messages={"invalid": _("Lower-case letters, digits, - and _ only.")},
    )
    content = forms.CharField(
        label=_("Content"), max_length=4096, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("You may use {{contact.name}} and other contact fields."),
    )
    scope = forms.ChoiceField(label=_("Who can use it"), choices=SCOPES, initial="global",
                              widget=forms.RadioSelect)


# --- API keys -----------------------------------------------------------------------------------------

class ApiKeyForm(ServiceForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), choices=[(scope, scope) for scope in ApiKey.SCOPES],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one scope.")},
    )


# --- sandbox ------------------------------------------------------------------------------------------

class SandboxMessageForm(forms.Form):
    text = forms.CharField(label=_("Message"), max_length=4096, widget=forms.Textarea(attrs={"rows": 2}))


# --- invitations and passwords -----------------------------------------------------------------------

class InvitationForm(ServiceForm):
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=User.Role.choices, initial=User.Role.AGENT)
    teams = forms.ModelMultipleChoiceField(
        label=_("Teams"), queryset=Team.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    language = forms.ChoiceField(label=_("Language of the email"), choices=[
        ("en", "English"), ("es", "Español"), ("pt-br", "Português (Brasil)"),
    ])

    def __init__(self, *args, teams=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["teams"].queryset = teams if teams is not None else Team.objects.none()
        if not self.fields["teams"].queryset.exists():
            del self.fields["teams"]


class AcceptInvitationForm(ServiceForm):
    name = forms.CharField(label=_("Your name"), max_length=150)
    password = forms.CharField(
        label=_("Password"), max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters."),
    )


class PasswordChangeForm(ServiceForm):
    current_password = forms.CharField(
        label=_("Current password"), max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = forms.CharField(
        label=_("New password"), max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters."),
    )


class PasswordForgotForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)


class PasswordResetForm(ServiceForm):
    new_password = forms.CharField(
        label=_("New password"), max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters."),
    )
