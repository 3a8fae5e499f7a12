from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "apps.contacts"
    label = "contacts"
    verbose_name = "Contacts"

    def ready(self):
        from apps.contacts import events, realtime  # noqa: F401  (registers realtime payload builders, topics)
