from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "apps.webhooks"
    label = "webhooks"
    verbose_name = "Outbound webhooks"

    def ready(self):
        # Hears the events of conversations, contacts and campaigns; registers its Huey tasks.
        from apps.webhooks import listeners, tasks  # noqa: F401
