"""Task reminders (issue 18 acceptance 3): sent once at their time, as a `task_reminder`
notification in the receiver's language, whether the sweep runs twice, from two workers at once,
or in a fresh process after a restart."""

import datetime as dt
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.notifications.models import Notification
from apps.tasks.models import Task
from apps.tasks.reminders import reminders_send
from apps.tasks.services import task_create, task_update
from tests.fixtures.factories import make_user

ROOT = Path(__file__).resolve().parents[2]


def reminders_of(task) -> list[Notification]:
    return list(Notification.objects.filter(kind="task_reminder", data__task_id=task.pk))


@pytest.mark.django_db
def test_a_reminder_fires_once_at_its_time_in_the_receivers_language(alpha):
    agent = make_user(alpha)
    with schema_context(alpha.schema_name):
        agent.language = "es"
        agent.save(update_fields=["language"])
        at = timezone.now() + dt.timedelta(minutes=5)
        task = task_create(actor=agent, title="Llamar a Ana", remind_at=at, due_at=at)
        # Before its time: nothing.
        assert reminders_send(now=at - dt.timedelta(seconds=1)) == 0
        assert reminders_of(task) == []
        # At its time, and again in the next sweep: once.
        assert reminders_send(now=at + dt.timedelta(seconds=30)) >= 1
        reminders_send(now=at + dt.timedelta(seconds=90))
        [sent] = reminders_of(task)
        assert sent.user_id == agent.pk and sent.title == "Recordatorio: Llamar a Ana"
        # A new reminder time is reminded again; a done task is not.
        task_update(actor=agent, task=task, remind_at=at + dt.timedelta(hours=1))
        reminders_send(now=at + dt.timedelta(hours=1, seconds=5))
        assert len(reminders_of(task)) == 2
        task_update(actor=agent, task=task, remind_at=at + dt.timedelta(hours=2), status="done")
        reminders_send(now=at + dt.timedelta(hours=3))
        assert len(reminders_of(task)) == 2


SWEEP = """
import sys, django
sys.path[:0] = ["{root}", "{root}/platform"]
import os; os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conversa.settings_test")
django.setup()
from django.db import connection
connection.settings_dict["NAME"] = "{db}"
from django_tenants.utils import schema_context
from apps.tasks.reminders import reminders_send
with schema_context("{schema}"):
    print(reminders_send())
"""


def test_two_sweeps_at_once_and_a_restarted_worker_send_each_reminder_once(live_db, make_live_company):
    company = make_live_company()
    agent = make_user(company)
    with schema_context(company.schema_name):
        due = timezone.now() - dt.timedelta(seconds=5)
        tasks = [task_create(actor=agent, title=f"Reminder {n}", remind_at=due) for n in range(20)]

    # Two workers sweep at the same moment, each on its own connection.
    counts, barrier = [], threading.Barrier(2)

    def sweep():
        try:
            with schema_context(company.schema_name):
                barrier.wait()
                counts.append(reminders_send())
        finally:
            connection.close()

    workers = [threading.Thread(target=sweep) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(counts)[-1] + sorted(counts)[0] == 20

    # A worker restarted afterwards (a new process, nothing in memory) sends nothing again.
    script = SWEEP.format(root=ROOT, db=connection.settings_dict["NAME"], schema=company.schema_name)
    again = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "0"
    with schema_context(company.schema_name):
        for task in tasks:
            assert len(reminders_of(task)) == 1
        assert not Task.objects.filter(pk__in=[t.pk for t in tasks], reminded_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_sweep_in_one_company_never_reminds_another_companys_tasks(alpha, bravo):
    agent = make_user(alpha)
    with schema_context(alpha.schema_name):
        task = task_create(actor=agent, title="Alpha reminder", remind_at=timezone.now())
    with schema_context(bravo.schema_name):
        reminders_send(now=timezone.now() + dt.timedelta(minutes=1))
        assert not Notification.objects.filter(title="Reminder: Alpha reminder").exists()
    with schema_context(alpha.schema_name):
        assert Task.objects.get(pk=task.pk).reminded_at is None
        reminders_send(now=timezone.now() + dt.timedelta(minutes=1))
        assert [n.user_id for n in reminders_of(task)] == [agent.pk]
