"""Company backup and restore (SPEC §12, §15.1; issue 16 acceptance 5): an admin's `company` export
is a ZIP of every tenant model and media file, and `restore_company` loads it into an empty company
where every entity and file is identical but for ids; exports are audited, admins only, one company's
link never opens on another's host; bad or newer backups and non-empty companies are refused."""

import datetime as dt
import io
import json
import zipfile
from collections import Counter
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import models
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from PIL import Image

from apps.accounts.invitations import invitation_create
from apps.accounts.models import User
from apps.accounts.services import user_set_status
from apps.audit.models import AuditLog
from apps.automation.services import macro_create, rule_create
from apps.campaigns import services as campaigns
from apps.campaigns.models import CampaignRecipient
from apps.contacts.models import Contact, ContactImport, ContactList, ContactListMember, Segment
from apps.conversations.models import Conversation, Message
from apps.conversations.outbound import message_send
from apps.conversations.services import (
    conversation_assign,
    conversation_close,
    conversation_mark_read,
    conversation_set_labels,
    note_add,
    quick_reply_create,
    scheduled_message_create,
)
from apps.exports import backup_format as fmt
from apps.exports.backup import backup_write
from apps.exports.models import Export
from apps.flows.services import flow_create, flow_publish
from apps.knowledge.services import article_create, category_create
from apps.media.models import MediaFile
from apps.media.services import media_mark_clean, media_receive_inbound
from apps.notifications.services import notify
from apps.reports.models import ConversationFact
from apps.tasks.services import task_create
from apps.teamchat.services import message_send as chat_send
from apps.teamchat.services import room_create
from apps.teams.services import team_create, team_member_set
from tests.conftest import host_of
from tests.fixtures.contacts import make_contact, make_custom_field
from tests.fixtures.factories import PASSWORD, make_api_key, make_user
from tests.fixtures.messaging import make_inbox, make_template, receive
from tests.web.test_pages import signed_in

pytestmark = pytest.mark.django_db


def png(color: str, size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def seed(company) -> dict:
    """A company with a bit of everything, made through the services."""
    supervisor = make_user(company, role="supervisor", name="Sara Supervisor")
    agent = make_user(company, role="agent", name="Ana Agent")
    make_custom_field(company, key="plan", type="choice", choices=["basic", "gold"])
    inbox = make_inbox(company, name="Sales")
    make_template(company, inbox)
    vip = make_contact(company, name="Vera VIP", email="vera@example.com", tags=["vip"],
                       custom_fields={"plan": "gold"})
    merged = make_contact(company, name="Old Vera")
    with schema_context(company.schema_name):
        admin = User.objects.get(role="admin")
        team = team_create(actor=None, name="Front desk", routing="round_robin",
                           business_hours={"timezone": "UTC", "days": {"mon": [["09:00", "17:00"]]}})
        team_member_set(actor=None, team=team, user=agent, capacity=3, priority=2)
        Contact.objects.filter(pk=merged.pk).update(merged_into=vip, deleted_at=timezone.now())
        group = ContactList.objects.create(name="Gold customers", created_by=supervisor)
        ContactListMember.objects.create(contact_list=group, contact=vip)
        segment = Segment.objects.create(name="VIPs", filters={"tags": ["vip"]}, created_by=supervisor)
        ContactImport.objects.create(filename="people.csv", format="csv", created_by=supervisor,
                                     contact_list=group, status="completed", total=1, imported=1)
        invitation_create(actor=admin, email="new.agent@example.com", role="agent", team_ids=[team.pk],
                          base_url="https://example.com")
        user_set_status(user=agent, status="available")
        quick_reply_create(actor=None, shortcut="thanks", content="Thanks {{contact.name}}!")
    first = receive(company, inbox, phone=vip.phone, text="Hi, my order?")
    second = receive(company, inbox, phone=vip.phone, text="It is #123", reply_to=first.provider_message_id)
    with schema_context(company.schema_name):
        conversation = Conversation.objects.get(pk=first.conversation_id)
        conversation_assign(conversation=conversation, assignee=agent, actor=None)
        conversation_set_labels(conversation=conversation, add=["orders"], actor=None)
        note_add(conversation=conversation, author=agent, text="Check the courier")
        reply = message_send(conversation=conversation, author=agent, text="On its way!")
        scheduled_message_create(conversation=conversation, author=agent, text="Did it arrive?",
                                 send_at=timezone.now() + dt.timedelta(days=1))
        conversation_mark_read(conversation=conversation, user=agent)
        photo = media_mark_clean(media=media_receive_inbound(data=png("red"), declared_type="image/png",
                                                             filename="parcel.png"))
        Message.objects.filter(pk=second.pk).update(media=photo)
        pdf = b"%PDF-1.4\n%backup test\n" + b"x" * 300
        document = media_mark_clean(media=media_receive_inbound(
            data=pdf, declared_type="application/pdf", filename="invoice.pdf"))
        conversation_close(conversation=conversation, actor=agent, reason="solved", outcome="sale",
                           outcome_value=Decimal("99.90"))
        Conversation.objects.filter(pk=conversation.pk).update(csat_rating=5, csat_comment="Great")
        campaign = campaigns.campaign_create(
            actor=None, name="Spring sale", inbox_id=inbox.pk,
            audience={"list_ids": [group.pk], "segment_id": segment.pk, "tags": []},
            message={"text": "Hi {{contact.first_name}}!"}, media_id=document.pk,
        )
        CampaignRecipient.objects.create(campaign=campaign, contact=vip, conversation=conversation,
                                         status="sent")
        notify(users=[agent], kind="transfer", title="Conversation for you",
               data={"conversation_id": conversation.pk, "team_id": team.pk})
        # The second wave's entities, each naming others (in foreign keys and in JSON).
        flow = flow_create(actor=None, name="Desk bot",
                           trigger={"type": "new_conversation", "inbox_id": inbox.pk},
                           graph={"start": "hi", "nodes": {
                               "hi": {"type": "message", "text": "Hello!", "next": "desk"},
                               "desk": {"type": "handoff", "team_id": team.pk, "text": "One moment."}}})
        flow_publish(actor=None, flow=flow)
        rule_create(actor=admin, values={
            "name": "Orders to the desk", "event": "message.created",
            "conditions": [{"type": "inbox", "inbox_ids": [inbox.pk]}],
            "actions": [{"type": "assign_team", "team_id": team.pk}]})
        macro_create(actor=admin, values={"name": "Tell Ana", "visibility": "shared", "actions": [
            {"type": "notify", "user_ids": [agent.pk], "text": "Look at this"}]})
        room = room_create(actor=admin, name="Desk", member_ids=[agent.pk])
        chat_send(actor=admin, room=room, text=f"@{agent.name} the courier called")
        task_create(actor=admin, title="Call Vera", assignee_id=agent.pk, conversation_id=conversation.pk)
        category = category_create(actor=admin, name="Shipping")
        article_create(actor=admin, category_id=category.pk, title="Delivery times", body="**48 h**",
                       status="published")
    return {"admin": admin, "supervisor": supervisor, "agent": agent, "reply": reply, "photo": photo}


# --- comparing two companies through natural keys -------------------------------------------------

class Snapshot:
    """Every exported row of a company as plain values, with each id (foreign key, id in JSON,
    audited entity) replaced by what the row it names holds, and each file by its bytes' hash."""

    def __init__(self, company):
        self.schema = company.schema_name
        self.cache: dict[tuple[str, int], tuple] = {}
        self.models = {model._meta.label: model for model in fmt.exported_models()}

    def rows(self) -> dict[str, Counter]:
        with schema_context(self.schema):
            return {label: Counter(self.row(model, obj) for obj in model._base_manager.all())
                    for label, model in self.models.items()}

    def key(self, label: str, pk) -> tuple | None:
        if pk is None or label not in self.models:
            return None
        if (label, pk) not in self.cache:
            self.cache[(label, pk)] = ("…",)  # a row naming itself, through others
            obj = self.models[label]._base_manager.filter(pk=pk).first()
            self.cache[(label, pk)] = self.row(self.models[label], obj) if obj else ("missing", label, pk)
        return self.cache[(label, pk)]

    def json(self, value, held):
        if isinstance(held, str):
            return tuple(self.key(held, pk) for pk in value or [])
        if isinstance(value, dict):
            return tuple(sorted((key, self.json_item(key, item, held)) for key, item in value.items()))
        if isinstance(value, list):
            return tuple(self.json(item, held) for item in value)
        return value

    def json_item(self, key, item, held):
        if key not in held:
            return self.json(item, held)
        return self.ids(fmt.JSON_ID_KEYS[key], item)

    def ids(self, label, item):
        """An id, or ids at any depth (an audited change of ids is [from, to])."""
        if isinstance(item, list):
            return tuple(self.ids(label, each) for each in item)
        return self.key(label, item) if isinstance(item, int) and not isinstance(item, bool) else item

    def file(self, name: str):
        if not name:
            return ""
        with default_storage.open(name, "rb") as handle:
            return ("file", handle.read())  # byte for byte

    def row(self, model, obj) -> tuple:
        label = model._meta.label
        values = []
        for field in fmt.stored_fields(model):
            if field.primary_key:
                continue
            value = getattr(obj, field.attname)
            if field.is_relation:
                value = self.key(field.related_model._meta.label, value)
            elif f"{label}.{field.name}" in fmt.JSON_ID_FIELDS:
                value = self.json(value, fmt.JSON_ID_FIELDS[f"{label}.{field.name}"])
            elif field.name in fmt.FILE_FIELDS.get(label, ()):
                value = self.file(value)
            elif isinstance(field, models.JSONField):
                value = json.dumps(value, sort_keys=True)
            elif isinstance(value, list):
                value = tuple(value)
            if label == "audit.AuditLog" and field.name == "entity_id":
                target = fmt.AUDIT_ENTITY_TYPES.get(obj.entity_type)
                if target and str(value).isdigit():  # a left-out model's id is not carried over
                    value = self.key(target, int(value)) if target in self.models else ""
            values.append((field.name, value))
        return tuple(values)


def brief(rows: Counter) -> list[dict]:
    """Rows as a failure shows them: their own values, what they point at elided."""
    return [{name: "…" if isinstance(value, tuple) else value for name, value in row} for row in rows]


def backup_of(company, client, capture) -> bytes:
    with capture(execute=True):
        started = client.post("/api/v1/exports", {"entity": "company", "format": "zip"})
    assert started.status_code == 202, started.content
    export = client.get(f"/api/v1/exports/{started.json()['id']}").json()
    assert export["status"] == "completed", export
    link = urlparse(export["download_url"])
    response = Client(HTTP_HOST=host_of(company)).get(f"{link.path}?{link.query}")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    return b"".join(response.streaming_content)


def test_a_company_restored_from_its_backup_is_identical_but_for_ids(
    alpha, bravo, api, tmp_path, django_capture_on_commit_callbacks,
):
    # The shared companies hold nothing but their admin at the start of a test (rolled back after).
    source, target = alpha, bravo
    people = seed(source)
    admin = api(source, token=api(source).login(people["admin"].email)["access"])
    data = backup_of(source, admin, django_capture_on_commit_callbacks)

    archive = zipfile.ZipFile(io.BytesIO(data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["company"]["slug"] == source.slug and manifest["version"] == fmt.VERSION
    assert manifest["entities"]["conversations.Message"]["rows"] == 3
    assert "accounts.ApiKey" in manifest["excluded_models"]
    assert "inboxes.Inbox.credentials_encrypted" in manifest["excluded_fields"]
    assert len(manifest["media"]) == 3  # the photo, its thumbnail and the PDF
    with schema_context(source.schema_name):
        assert AuditLog.objects.filter(action="export.created", changes__entity="company").exists()
    path = tmp_path / "backup.zip"
    path.write_bytes(data)

    before = Snapshot(target).rows()
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("restore_company", "--slug", target.slug, "--from", str(path), stdout=out)
    assert f"into {target.slug}" in out.getvalue()
    with schema_context(target.schema_name):  # rollups are left out of backups and rebuilt after
        assert ConversationFact.objects.count() == Conversation.objects.count() > 0

    expected, restored = Snapshot(source).rows(), Snapshot(target).rows()
    for label, rows in expected.items():
        added = restored[label] - before[label]
        if label == "audit.AuditLog":  # the restore is audited in the target, the download in the source
            added = Counter({row: n for row, n in added.items() if ("action", "company.restored") not in row})
            rows = Counter({row: n for row, n in rows.items() if ("action", "export.downloaded") not in row})
        if label == "notifications.Notification":  # "your export is ready" came after the file was made
            rows = Counter({row: n for row, n in rows.items() if ("kind", "export_finished") not in row})
        assert added == rows, (label, brief(added - rows), brief(rows - added))
    with schema_context(target.schema_name):
        photo = MediaFile.objects.get(sha256=people["photo"].sha256)
        assert photo.storage_name.startswith(f"tenants/{target.schema_name}/")
        assert Message.objects.get(send_key=people["reply"].send_key).conversation.csat_rating == 5
    # The ids came from the target's sequences: new rows after the restore take the next ones.
    with schema_context(target.schema_name):
        highest = Contact.objects.order_by("-pk").values_list("pk", flat=True).first()
        assert Message.objects.filter(reply_to__isnull=False).count() == 1
    assert make_contact(target, name="After the restore").pk > highest
    # Password hashes came along: the restored supervisor signs in on the new company's host.
    assert api(target).post("/api/v1/auth/login", {
        "email": people["supervisor"].email, "password": PASSWORD}).status_code == 200


def test_restore_refuses_a_company_with_data_and_changes_nothing(alpha, bravo, tmp_path):
    source = alpha
    make_contact(source, name="Only one")
    with schema_context(source.schema_name):
        path = tmp_path / "backup.zip"
        with path.open("wb") as out:
            backup_write(out)
    target = bravo
    make_contact(target, name="Already here")
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore_company", "--slug", target.slug, "--from", str(path))
    with schema_context(target.schema_name):
        assert list(Contact.objects.values_list("name", flat=True)) == ["Already here"]


def test_the_provisioned_admin_becomes_the_backup_s_user_of_the_same_email(alpha, bravo, tmp_path):
    sara = make_user(alpha, role="supervisor", name="Sara Supervisor")
    with schema_context(alpha.schema_name):
        path = tmp_path / "backup.zip"
        with path.open("wb") as out:
            backup_write(out)
        users = User.objects.count()
    with schema_context(bravo.schema_name):
        provisioned = User.objects.get()
        User.objects.filter(pk=provisioned.pk).update(email=sara.email.upper())
    out = io.StringIO()
    call_command("restore_company", "--slug", bravo.slug, "--from", str(path), stdout=out)
    assert "1 existing users matched by email" in out.getvalue()
    with schema_context(bravo.schema_name):
        assert User.objects.count() == users
        matched = User.objects.get(pk=provisioned.pk)
        assert (matched.email, matched.role, matched.name) == (sara.email, "supervisor", "Sara Supervisor")


def stored_files(company) -> set[str]:
    root = Path(settings.MEDIA_ROOT) / "tenants" / company.schema_name
    return {str(path) for path in root.rglob("*") if path.is_file()}


def _rewritten(path, tmp_path, change) -> str:
    """A copy of the backup at `path` with `change(entries)` applied to its {name: bytes}."""
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    change(entries)
    copy = tmp_path / "changed.zip"
    with zipfile.ZipFile(copy, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return str(copy)


def test_restore_refuses_newer_damaged_or_incomplete_backups(alpha, bravo, tmp_path):
    source = alpha
    with schema_context(source.schema_name):
        media_mark_clean(media=media_receive_inbound(data=png("blue"), declared_type="image/png",
                                                     filename="x.png"))
        path = tmp_path / "backup.zip"
        with path.open("wb") as out:
            manifest = backup_write(out)
    target = bravo

    def manifest_with(**changes):
        return lambda entries: entries.update({"manifest.json": json.dumps({**manifest, **changes}).encode()})

    def without(name):
        return lambda entries: entries.pop(name)

    def damaged(name):
        return lambda entries: entries.update({name: entries[name] + b"!"})

    media_path = manifest["media"][0]["path"]
    files_before = stored_files(target)
    for change, message in [
        (manifest_with(version=fmt.VERSION + 1), "format version"),
        (manifest_with(migrations={**manifest["migrations"], "contacts": ["9999_from_the_future"]}), "newer"),
        (without("data/conversations.Message.jsonl"), "missing"),
        (without(media_path), "missing"),
        (damaged(media_path), "checksum"),
        (without("manifest.json"), "manifest.json is missing"),
    ]:
        with pytest.raises(CommandError, match=message):
            changed = _rewritten(path, tmp_path, change)
            call_command("restore_company", "--slug", target.slug, "--from", changed)
    with schema_context(target.schema_name):
        assert not MediaFile.objects.exists()
    assert stored_files(target) == files_before  # the damaged one's copies were deleted again


def test_only_admins_back_up_their_own_company_and_its_link_stays_home(
    alpha, bravo, api, django_capture_on_commit_callbacks,
):
    supervisor = make_user(alpha, role="supervisor")
    refused = api(alpha, token=api(alpha).login(supervisor.email)["access"]).post(
        "/api/v1/exports", {"entity": "company"})
    assert refused.status_code == 403
    _key, secret = make_api_key(alpha, scopes=("contacts:read", "conversations:read"))
    assert api(alpha, token=secret).post("/api/v1/exports", {"entity": "company"}).status_code == 403

    admin = make_user(alpha, role="admin")
    token = api(alpha).login(admin.email)["access"]
    assert api(bravo, token=token).post("/api/v1/exports", {"entity": "company"}).status_code == 401
    client = api(alpha, token=token)
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/api/v1/exports", {"entity": "company"})
    export = client.get(f"/api/v1/exports/{started.json()['id']}").json()
    assert export["format"] == "zip" and export["status"] == "completed"
    link = urlparse(export["download_url"])
    assert Client(HTTP_HOST=host_of(bravo)).get(f"{link.path}?{link.query}").status_code == 404
    with schema_context(alpha.schema_name):
        assert AuditLog.objects.filter(action="export.created", actor=admin).exists()


def test_the_exports_page_offers_the_backup_to_admins_only(alpha, django_capture_on_commit_callbacks):
    supervisor = signed_in(alpha, make_user(alpha, role="supervisor"))
    assert b'id="start-backup"' not in supervisor.get("/app/exports/").content
    admin = signed_in(alpha, make_user(alpha, role="admin"))
    assert b'id="start-backup"' in admin.get("/app/exports/").content
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post("/app/exports/", {"entity": "company", "format": "zip"}).status_code == 302
    listing = admin.get("/app/exports/").content.decode()
    assert "Whole company (backup)" in listing and f"{alpha.slug}-backup-" in listing
    with schema_context(alpha.schema_name):
        export = Export.objects.get(entity="company")
    download = admin.get(f"/app/exports/{export.pk}/download/")
    assert download.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).read("manifest.json")


def test_every_tenant_model_is_backed_up_or_left_out_with_a_reason():
    labels = {model._meta.label for model in fmt.tenant_models()}
    exported = {model._meta.label for model in fmt.exported_models()}
    assert exported | set(fmt.EXCLUDED_MODELS) == labels
    assert set(fmt.EXCLUDED_MODELS) <= labels, "an exclusion names a model that no longer exists"
    assert all(len(reason) > 20 for reason in fmt.EXCLUDED_MODELS.values())
    by_label = {model._meta.label: model for model in fmt.tenant_models()}
    for dotted in [*fmt.EXCLUDED_FIELDS, *fmt.JSON_ID_FIELDS]:
        label, name = dotted.rsplit(".", 1)
        by_label[label]._meta.get_field(name)
    for label, names in fmt.FILE_FIELDS.items():
        for name in names:
            by_label[label]._meta.get_field(name)
    for target in {*fmt.JSON_ID_KEYS.values(), *fmt.AUDIT_ENTITY_TYPES.values()}:
        assert target in labels
    # A restored row may only lose a reference to a left-out model if the reference may be empty.
    for label in exported:
        for field in by_label[label]._meta.concrete_fields:
            if field.is_relation and field.related_model._meta.label in fmt.EXCLUDED_MODELS:
                assert field.null, f"{label}.{field.name} points at a model left out of backups"
