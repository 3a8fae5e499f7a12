"""The admins of a company whose trial ends soon get an email (tenants, below accounts, announces
`company.trial_ending`; users and their languages live here)."""

from django.utils.dateparse import parse_datetime

from apps.accounts.models import User
from apps.mail.services import email_queue
from conversa.events import Event, subscribe
from conversa.tasks import tenant_task
from tenants.lifecycle import COMPANY_TRIAL_ENDING


@subscribe
def warn_admins_of_trial_end(event: Event) -> None:
    if event.name == COMPANY_TRIAL_ENDING:
        trial_ending_email(event.schema_name, event.data["trial_ends_at"])


@tenant_task(retries=3, retry_delay=30)
def trial_ending_email(schema_name: str, trial_ends_at: str) -> int:
    """One email per active admin, each in their language."""
    admins = list(User.objects.filter(role=User.Role.ADMIN, is_active=True))
    for admin in admins:
        email_queue(kind="trial_ending", to=admin.email, language=admin.language, link_path="/app/",
                    context={"trial_ends_at": parse_datetime(trial_ends_at)})
    return len(admins)
