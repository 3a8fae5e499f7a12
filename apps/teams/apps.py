from django.apps import AppConfig


class TeamsConfig(AppConfig):
    name = "apps.teams"
    label = "teams"
    verbose_name = "Teams"

    def ready(self):
        from apps.teams import (
            events,  # noqa: F401  (registers realtime payload builders)
            invitations,  # noqa: F401  (joins invited users to their teams)
        )
