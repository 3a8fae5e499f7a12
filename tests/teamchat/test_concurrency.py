"""Unread counts and direct rooms under concurrent writers (committed data, real threads)."""

import threading

from django.db import connections
from django_tenants.utils import schema_context

from apps.teamchat import services
from apps.teamchat.models import Membership, Message, Room
from tests.fixtures.factories import make_user

SENDERS, EACH = 6, 10


def in_threads(company, jobs) -> list:
    """Run each job in its own thread inside the company's schema, all released at once."""
    barrier, errors = threading.Barrier(len(jobs)), []

    def run(job):
        try:
            with schema_context(company.schema_name):
                barrier.wait()
                job()
        except Exception as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_unread_counts_are_exact_while_everyone_sends_and_reads_at_once(live_db, alpha):
    people = [make_user(alpha, name=f"Sender {n}") for n in range(SENDERS)]
    reader = make_user(alpha, name="Reader")
    with schema_context(alpha.schema_name):
        room = services.room_create(actor=people[0], name="Busy",
                                    member_ids=[p.pk for p in people[1:]] + [reader.pk])

    def sender(person):
        def send():
            for n in range(EACH):
                services.message_send(actor=person, room=room, text=f"{person.name} #{n}")
        return send

    def reads():
        for _ in range(EACH):
            services.room_mark_read(actor=reader, room=room)

    errors = in_threads(alpha, [sender(person) for person in people] + [reads])

    assert errors == []
    with schema_context(alpha.schema_name):
        assert Message.objects.filter(room=room).count() == SENDERS * EACH
        for membership in Membership.objects.filter(room=room).select_related("user"):
            behind = Message.objects.filter(room=room, id__gt=membership.last_read_message_id).exclude(
                author=membership.user).count()
            assert membership.unread_count == behind, membership.user.name
        # Each sender last read when they last sent: what the others sent after that is unread.
        reader_row = Membership.objects.get(room=room, user=reader)
        services.room_mark_read(actor=reader, room=room)
        reader_row.refresh_from_db()
        assert reader_row.unread_count == 0
        last = Message.objects.filter(room=room).order_by("-id").first()
        assert Membership.objects.get(room=room, user=last.author).unread_count == 0


def test_two_people_opening_their_direct_room_at_once_get_the_same_room(live_db, alpha):
    ana, bruno = make_user(alpha, name="Ana"), make_user(alpha, name="Bruno")
    opened = []

    def open_as(actor, other):
        def run():
            opened.append(services.room_direct_open(actor=actor, user_id=other.pk)[0].pk)
        return run

    errors = in_threads(alpha, [open_as(ana, bruno), open_as(bruno, ana)] * 4)

    assert errors == []
    assert len(set(opened)) == 1 and len(opened) == 8
    with schema_context(alpha.schema_name):
        assert Room.objects.filter(direct_key=f"{min(ana.pk, bruno.pk)}:{max(ana.pk, bruno.pk)}").count() == 1
        assert Membership.objects.filter(room_id=opened[0]).count() == 2

