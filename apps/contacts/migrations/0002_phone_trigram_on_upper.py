# The phone's trigram index moves onto UPPER(phone), like name's and email's: on the bare column the
# planner also picked it for `phone IN (…)`, the webhook drain's contact lookup, and read every
# phone's shared trigrams (130 ms for 100 phones against 1 ms through the unique index).

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.db import migrations

NAME = "contacts_contact_phone_up_trgm"


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="contact", name="contacts_contact_phone_trgm"),
        # Written out for the reason given in 0001's trigram_index.
        migrations.RunSQL(
            f'CREATE INDEX "{NAME}" ON "contacts_contact" USING gin ((UPPER("phone")) gin_trgm_ops)',
            reverse_sql=f'DROP INDEX "{NAME}"',
            state_operations=[migrations.AddIndex(
                model_name="contact",
                index=django.contrib.postgres.indexes.GinIndex(
                    django.contrib.postgres.indexes.OpClass(
                        django.db.models.functions.text.Upper("phone"), name="gin_trgm_ops",
                    ),
                    name=NAME,
                ),
            )],
        ),
    ]
