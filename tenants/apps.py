from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Companies and plans"

    def ready(self):
        from conversa import db_pool
        from tenants import databases

        db_pool.install()
        databases.install()
