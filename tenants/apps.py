from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Companies and plans"

    def ready(self):
        from conversa import db_pool

        db_pool.install()
