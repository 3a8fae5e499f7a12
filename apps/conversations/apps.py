from django.apps import AppConfig


class ConversationsConfig(AppConfig):
    name = "apps.conversations"
    label = "conversations"
    verbose_name = "Conversations and messages"

    def ready(self):
        # Register frames, topics and listeners (the drain's for stored webhooks among them),
        # auto-assignment's and the automations' listeners and tasks.
        from apps.conversations import (  # noqa: F401
            automation_tasks,
            csat_tasks,
            drain,
            events,
            realtime,
            routing_tasks,
            routing_triggers,
            subscribers,
        )
