from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "apps.conversations"
    label = "conversations"
    verbose_name = "Conversations and messages"

    def ready(self):
        # Register frames, topics and listeners (the drain's for stored webhooks among them).
        from apps.conversations import drain, events, realtime, subscribers  # noqa: F401
