from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "apps.conversations"
    label = "conversations"
    verbose_name = "Conversations and messages"

    def ready(self):
        # Register frames and topics, and the drain's listener for stored webhooks.
        from apps.conversations import drain, events, realtime  # noqa: F401
