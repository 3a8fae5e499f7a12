"""The outbox: an email waits in its row while SMTP fails and is sent by a later attempt, once."""

import pytest
from django_tenants.utils import schema_context

from apps.mail.models import EmailOutbox
from apps.mail.services import email_queue
from apps.mail.tasks import email_send
from tests.fixtures.live import free_port

pytestmark = pytest.mark.django_db


def test_a_failed_smtp_send_is_kept_and_sent_by_the_retry_once(alpha, mailbox, settings):
    with schema_context(alpha.schema_name):
        outbox = email_queue(kind="trial_ending", to="owner@example.com", link_path="/app/",
                             context={"trial_ends_at": alpha.created_at})
        smtp_port, settings.EMAIL_PORT = settings.EMAIL_PORT, free_port()  # nobody listens there
        with pytest.raises(OSError):
            email_send.call_local(alpha.schema_name, outbox.pk)
        outbox.refresh_from_db()
        assert (outbox.status, outbox.attempts, bool(outbox.last_error)) == ("queued", 1, True)

        settings.EMAIL_PORT = smtp_port
        email_send.call_local(alpha.schema_name, outbox.pk)
        email_send.call_local(alpha.schema_name, outbox.pk)  # a late duplicate sends nothing
        outbox.refresh_from_db()
    assert outbox.status == EmailOutbox.Status.SENT and outbox.attempts == 2
    assert len(mailbox.wait_for("owner@example.com")) == 1
    assert str(mailbox.to("owner@example.com")[0].message["From"]).startswith(alpha.name)
