"""The inbox's label filter lists the labels in use from the cache: a label an agent sets shows on
the next inbox load, and one company's labels never show in another's filter."""

import re

import pytest
from django.test import TestCase
from django_tenants.utils import schema_context

from apps.conversations import labels, services
from tests.fixtures.factories import make_user
from tests.fixtures.messaging import make_inbox, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached_labels(settings, alpha, bravo):
    """The cache on (tests run without it), with none of an earlier test's lists."""
    settings.INBOX_LABELS_CACHE_SECONDS = 600
    for company in (alpha, bravo):
        with schema_context(company.schema_name):
            labels.VERSION.bump()


def filter_options(browser) -> list[str]:
    page = browser.get("/app/?tab=all&status=any").content.decode()
    select = re.search(r'<select[^>]*name="label".*?</select>', page, re.S).group(0)
    return [value for value in re.findall(r'<option value="([^"]*)"', select) if value]


def label(company, conversation, admin, *names):
    with schema_context(company.schema_name), TestCase.captureOnCommitCallbacks(execute=True):
        services.conversation_set_labels(conversation=conversation, add=list(names), actor=admin)


def test_a_label_set_shows_in_the_filter_on_the_next_inbox_load(cached_labels, alpha):
    # Given an inbox loaded once with a labelled conversation (its list now cached)
    admin = make_user(alpha, role="admin")
    inbox = make_inbox(alpha)
    first, second = receive(alpha, inbox).conversation, receive(alpha, inbox).conversation
    label(alpha, first, admin, "vip")
    browser = signed_in(alpha, admin)
    assert filter_options(browser) == ["vip"]

    # When an agent labels another conversation with a new label
    label(alpha, second, admin, "billing")

    # Then the next load lists it, in alphabetical order
    assert filter_options(browser) == ["billing", "vip"]


def test_one_companys_labels_never_show_in_anothers_filter(cached_labels, alpha, bravo):
    # Given each company with its own label, and alpha's filter cached first
    alpha_admin, bravo_admin = make_user(alpha, role="admin"), make_user(bravo, role="admin")
    label(alpha, receive(alpha, make_inbox(alpha)).conversation, alpha_admin, "alpha-only")
    label(bravo, receive(bravo, make_inbox(bravo)).conversation, bravo_admin, "bravo-only")
    alpha_browser, bravo_browser = signed_in(alpha, alpha_admin), signed_in(bravo, bravo_admin)
    assert filter_options(alpha_browser) == ["alpha-only"]

    # When bravo's agent loads the inbox, then alpha's again
    # Then each sees its own company's labels, and only them
    assert filter_options(bravo_browser) == ["bravo-only"]
    assert filter_options(alpha_browser) == ["alpha-only"]
