from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "apps.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"

    def ready(self):
        # Realtime payload builders and the listeners of lower apps' events.
        from apps.campaigns import events, listeners  # noqa: F401
