from functools import partial

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Users and API keys"

    def ready(self):
        from apps.accounts import (
            events,  # noqa: F401  (registers realtime payload builders)
            trial_mail,  # noqa: F401  (emails admins before a trial ends)
        )
        from apps.accounts.models import User
        from apps.accounts.services import user_create
        from tenants.services import register_first_admin_create

        # tenants provisions companies but sits below accounts: it is told how to make the admin.
        register_first_admin_create(partial(user_create, actor=None, role=User.Role.ADMIN))
