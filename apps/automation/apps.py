from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "apps.automation"
    label = "automation"
    verbose_name = "Automation rules and macros"

    def ready(self):
        # The listener that queues rule evaluation after conversations' events commit.
        from apps.automation import listeners  # noqa: F401
