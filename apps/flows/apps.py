from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "apps.flows"
    label = "flows"
    verbose_name = "Bot flows"

    def ready(self):
        # The listeners of conversations' events (triggers, inputs, takeover) and the tasks
        # that resume delays, run http nodes and time sessions out.
        from apps.flows import listeners, tasks  # noqa: F401
