from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "apps.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self):
        # The rollups follow the events of the apps below (conversations, messages, agents).
        from apps.reports import listeners  # noqa: F401
