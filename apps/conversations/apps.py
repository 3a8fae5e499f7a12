from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "apps.conversations"
    label = "conversations"
    verbose_name = "Conversations and messages"

    def ready(self):
        # Register frames, topics and listeners (the drain's for stored webhooks among them), and the
        # automations' listener and periodic tasks.
        from apps.conversations import automation_tasks, drain, events, realtime, subscribers  # noqa: F401
