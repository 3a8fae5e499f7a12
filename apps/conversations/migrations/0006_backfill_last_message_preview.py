# Every conversation's last message preview, written from its last message (from now on the
# inbound and outbound paths keep it); and the accent-free trigram indexes that let the inbox search
# message text and subjects.

from django.db import migrations

BATCH = 2000
# Kept here rather than imported: a migration must not change when apps.conversations.preview does.
KIND_MARK = "\u2063"
FILE_KINDS = {"image", "video", "audio", "document", "location", "contact_card"}
LENGTH = 120


def _one_line(text, room):
    line = " ".join((text or "").split())
    return line if len(line) <= room else line[: room - 1].rstrip() + "…"


def _preview(kind, text):
    if kind in FILE_KINDS:
        head = f"{KIND_MARK}{kind}{KIND_MARK}"
        return head + _one_line(text, LENGTH - len(head))
    return _one_line(text, LENGTH)


def backfill(apps, schema_editor):
    Conversation = apps.get_model("conversations", "Conversation")
    Message = apps.get_model("conversations", "Message")
    pending = Conversation.objects.filter(last_message_preview="").order_by("pk").values_list("pk", flat=True)
    last_pk = 0
    while True:
        ids = list(pending.filter(pk__gt=last_pk)[:BATCH])
        if not ids:
            return
        last_pk = ids[-1]
        latest = (
            Message.objects.filter(conversation_id__in=ids, deleted_at__isnull=True)
            .order_by("conversation_id", "-created_at", "-id")
            .distinct("conversation_id")
            .values_list("conversation_id", "kind", "text")
        )
        changed = [
            Conversation(pk=conversation_id, last_message_preview=preview)
            for conversation_id, kind, text in latest
            if (preview := _preview(kind, text))
        ]
        Conversation.objects.bulk_update(changed, ["last_message_preview"], batch_size=500)


INDEX = "conversations_message_text_unaccent_trgm"
SUBJECT_INDEX = "conversations_conversation_subject_unaccent_trgm"


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0003_unaccent_search"),
        ("conversations", "0005_list_activity_index"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        # The expression of apps.contacts.search.accent_free_contains (see contacts 0003).
        migrations.RunSQL(
            f'CREATE INDEX "{INDEX}" ON "conversations_message" '
            f'USING gin ((UPPER(public.conversa_unaccent("text"))) gin_trgm_ops)',
            reverse_sql=f'DROP INDEX "{INDEX}"',
        ),
        migrations.RunSQL(
            f'CREATE INDEX "{SUBJECT_INDEX}" ON "conversations_conversation" '
            f'USING gin ((UPPER(public.conversa_unaccent("subject"))) gin_trgm_ops)',
            reverse_sql=f'DROP INDEX "{SUBJECT_INDEX}"',
        ),
    ]
