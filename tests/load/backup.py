"""Benchmark: a whole company's backup (the `company` export) and its restore into an empty company.

    .venv/bin/python tests/load/backup.py [--contacts 10000] [--conversations 10000]
                                          [--messages 100000] [--media 200] [--media-kb 64]

In a throwaway database `conversa_bench_backup` and a throwaway MEDIA_ROOT: a company with that many
contacts, conversations (one per contact while there are contacts), messages spread over them and
media files (random bytes, attached to messages), written in bulk (untimed). Then, timed: the export
an admin asks for (`export_create` + the export task, inline) writing the ZIP into the storage, and
`restore_company` loading it into a second, empty company. Prints rows, sizes and both times.
"""

import argparse
import os
import random
import shutil
import tempfile
import time
from io import StringIO
from pathlib import Path

import _common
from _common import say


def populate(company, *, contacts: int, conversations: int, messages: int, media: int, media_kb: int) -> dict:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import connection
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.accounts.models import User
    from apps.contacts.models import Contact
    from apps.conversations.models import Conversation, Message, TimelineEvent
    from apps.inboxes.services import inbox_create
    from apps.media.models import MediaFile
    from tests.fixtures.factories import make_user

    rng = random.Random(16)
    now = timezone.now()
    with schema_context(company.schema_name):
        agents = [make_user(company, role="agent", name=f"Agent {i}") for i in range(10)]
        inbox = inbox_create(actor=None, name="Bench", provider="sandbox", credentials={})
        Contact.objects.bulk_create([
            Contact(phone=f"+5511{9_0000_0000 + i:09d}", name=f"Cliente {i}", tags=["bench"],
                    custom_fields={"plan": rng.choice(["basic", "gold"])})
            for i in range(contacts)
        ], batch_size=5000)
        contact_ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
        Conversation.objects.bulk_create([
            Conversation(contact_id=contact_ids[i % len(contact_ids)], inbox=inbox, status="closed",
                         assignee=rng.choice(agents), closed_at=now, last_message_at=now,
                         labels=["bench"], csat_rating=rng.randint(1, 5))
            for i in range(conversations)
        ], batch_size=5000)
        conversation_ids = list(Conversation.objects.order_by("pk").values_list("pk", flat=True))
        TimelineEvent.objects.bulk_create([
            TimelineEvent(conversation_id=pk, kind="assigned", data={"assignee_id": agents[0].pk})
            for pk in conversation_ids
        ], batch_size=5000)
        batch = []
        for i in range(messages):
            inbound = i % 2 == 0
            batch.append(Message(
                conversation_id=conversation_ids[i % len(conversation_ids)], inbox=inbox,
                direction="inbound" if inbound else "outbound", sender_type="contact" if inbound else "agent",
                sender_user=None if inbound else agents[i % len(agents)],
                text=f"Mensaje de prueba número {i}, con algo de texto para que pese.",
                status="received" if inbound else "delivered",
            ))
            if len(batch) >= 10_000:
                Message.objects.bulk_create(batch)
                batch = []
        Message.objects.bulk_create(batch)
        media_ids = []
        for i in range(media):
            data = os.urandom(media_kb * 1024)
            file = MediaFile.objects.create(kind="document", mime_type="application/pdf", size=len(data),
                                            filename=f"file-{i}.pdf", sha256="-", status="clean")
            file.storage_name = default_storage.save(
                f"tenants/{company.schema_name}/media/{file.key}/original", ContentFile(data))
            file.save(update_fields=["storage_name"])
            media_ids.append(file.pk)
        first_messages = Message.objects.order_by("pk").values_list("pk", flat=True)[:media]
        for message_id, media_id in zip(first_messages, media_ids, strict=False):
            Message.objects.filter(pk=message_id).update(media_id=media_id)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return {"admin": User.objects.get(role="admin"), "messages": Message.objects.count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--media", type=int, default=200)
    parser.add_argument("--media-kb", type=int, default=64, help="size of each media file")
    _common.add_db_arguments(parser, default_db="conversa_bench_backup")
    args = parser.parse_args()

    _common.prepare_database(args.server, args.db, keep=False)
    _common.configure_environment(args.server, args.db)
    media_root = Path(tempfile.mkdtemp(prefix="conversa-bench-media-", dir="/tmp"))
    os.environ["MEDIA_ROOT"] = str(media_root)
    _common.setup_django(migrate=True)
    from django.core.files.storage import default_storage
    from django.core.management import call_command
    from django_tenants.utils import schema_context

    from apps.exports.models import Export
    from apps.exports.services import export_create

    try:
        source, target = _common.bench_company("backupa"), _common.bench_company("backupc")
        say("populating…")
        started = time.perf_counter()
        data = populate(source, contacts=args.contacts, conversations=args.conversations,
                        messages=args.messages, media=args.media, media_kb=args.media_kb)
        say(f"company {source.slug}: {args.contacts} contacts, {args.conversations} conversations, "
            f"{data['messages']} messages, {args.media} files of {args.media_kb} KB "
            f"(populated in {time.perf_counter() - started:.0f} s)")
        _common.check_machine_idle()

        with schema_context(source.schema_name):
            started = time.perf_counter()
            export = export_create(actor=data["admin"], entity="company")  # the task runs inline
            export_seconds = time.perf_counter() - started
            export.refresh_from_db()
            assert export.status == Export.Status.COMPLETED, export.error
            archive = Path(default_storage.path(export.file_name))
        say(f"export: {export.rows} rows, ZIP of {export.size / 1e6:.1f} MB in {export_seconds:.1f} s "
            f"({export.rows / export_seconds:,.0f} rows/s)")

        out = StringIO()
        started = time.perf_counter()
        call_command("restore_company", "--slug", target.slug, "--from", str(archive), stdout=out)
        restore_seconds = time.perf_counter() - started
        say(f"restore: {out.getvalue().strip()}")
        say(f"restore: {restore_seconds:.1f} s ({export.rows / restore_seconds:,.0f} rows/s)")
        with schema_context(target.schema_name):
            from apps.conversations.models import Message

            assert Message.objects.count() == data["messages"]
    finally:
        shutil.rmtree(media_root, ignore_errors=True)
        if not args.keep:
            _common.drop_database(args.server, args.db)


if __name__ == "__main__":
    main()
