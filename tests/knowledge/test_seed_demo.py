"""`seed_demo` leaves a help centre with two published public articles (and an internal one that is
not on it), and one task the supervisor gave Ana about João's conversation; once."""

import io

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from apps.knowledge.models import Article
from apps.tasks.models import Task
from tenants.models import Company
from tests.conftest import host_of
from tests.knowledge.conftest import visit

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_help_centre_and_a_task(companies):
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # idempotent
    demo = Company.objects.get(slug="demo")
    with schema_context(demo.schema_name):
        articles = {a.title: a for a in Article.objects.select_related("category")}
        tasks = list(Task.objects.select_related("assignee", "conversation__contact"))
    assert len(articles) == 3
    [task] = tasks
    assert task.assignee.email == "ana@example.com" and task.conversation.contact.name == "João Pereira"
    home = visit(host_of(demo), "/help/").content.decode()
    assert "¿Cuánto tarda un envío?" in home and "Cómo responder reclamos de envío" not in home
