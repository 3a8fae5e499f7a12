from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "apps.conversations"
    label = "conversations"
    verbose_name = "Conversations and messages"

    def ready(self):
        from apps.conversations import events, realtime, subscribers  # noqa: F401  (register listeners)
