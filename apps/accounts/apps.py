from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Users and API keys"

    def ready(self):
        from apps.accounts import events  # noqa: F401  (registers realtime payload builders)
