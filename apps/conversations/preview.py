"""The last message of a conversation as the inbox list shows it, stored on the conversation.

Text is kept as one trimmed line. A file (or a location, a contact card…) is stored as a marker of
its kind plus its caption, so each reader sees the kind in their own language ("📷 Photo",
"📷 Foto"): `preview_parts` splits it again when the row is rendered.
"""

from django.utils.translation import gettext_lazy as _

PREVIEW_LENGTH = 120
# U+2063 INVISIBLE SEPARATOR never comes out of a keyboard: a text cannot be mistaken for a kind.
KIND_MARK = "\u2063"
KIND_LABELS = {
    "image": _("📷 Photo"),
    "video": _("🎥 Video"),
    "audio": _("🎤 Audio"),
    "document": _("📄 Document"),
    "location": _("📍 Location"),
    "contact_card": _("👤 Contact"),
}


def _one_line(text: str, room: int) -> str:
    line = " ".join((text or "").split())
    return line if len(line) <= room else line[: room - 1].rstrip() + "…"


def message_preview(*, kind: str, text: str = "") -> str:
    """What `Conversation.last_message_preview` holds for a message of this kind and text."""
    if kind in KIND_LABELS:
        head = f"{KIND_MARK}{kind}{KIND_MARK}"
        return head + _one_line(text, PREVIEW_LENGTH - len(head))
    return _one_line(text, PREVIEW_LENGTH)


def preview_parts(preview: str) -> tuple[str, str]:
    """(the kind's label in the active language or "", the text) of a stored preview."""
    if preview.startswith(KIND_MARK):
        kind, _sep, text = preview[1:].partition(KIND_MARK)
        return str(KIND_LABELS.get(kind, kind)), text
    return "", preview


def preview_line(preview: str) -> str:
    """A stored preview as one line of text in the active language ("📷 Photo Invoice")."""
    if not preview.startswith(KIND_MARK):
        return preview
    return " ".join(part for part in preview_parts(preview) if part)
