"""The labels on the company's conversations, for the inbox's label filter.

Listing them scans every labelled conversation (4 ms at 10,000 conversations, growing with them),
and every agent's every inbox load asks; they change only when someone labels a conversation. So
the list is kept in the cache under a version number that `conversation_set_labels` bumps once its
change commits. Conversations erased or merged away take their labels off the list when it expires.
"""

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Func

from apps.conversations.models import Conversation
from conversa.cache_version import CacheVersion

VERSION = CacheVersion("conversations:labels:version")
LIMIT = 100


def labels_in_use() -> list[str]:
    """Up to LIMIT distinct labels of the company's conversations, in alphabetical order."""
    key = f"conversations:labels:{VERSION.current()}"
    labels = cache.get(key)
    if labels is None:
        labels = _read()
        cache.set(key, labels, timeout=settings.INBOX_LABELS_CACHE_SECONDS)
    return labels


def labels_changed() -> None:
    """Some conversation's labels change in the current transaction: the list is read afresh once
    it commits."""
    VERSION.bump_on_commit()


def _read() -> list[str]:
    # order_by("label"): the model's default ordering would join DISTINCT and repeat labels.
    return sorted(
        Conversation.objects.exclude(labels=[]).annotate(label=Func(F("labels"), function="unnest"))
        .order_by("label").values_list("label", flat=True).distinct()[:LIMIT]
    )
