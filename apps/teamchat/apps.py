from django.apps import AppConfig


class TeamChatConfig(AppConfig):
    name = "apps.teamchat"
    label = "teamchat"
    verbose_name = "Team chat"

    def ready(self):
        # Realtime frames, the room topic and the listener that releases messages held for a scan.
        from apps.teamchat import events, listeners, realtime  # noqa: F401
