# The expand step of a release: a new table, and a nullable column on a table the running release
# reads and writes on every request (it names its columns, so one more changes nothing for it).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReleaseNote",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False)),
                ("text", models.CharField(max_length=200)),
            ],
        ),
        migrations.RunSQL(
            "ALTER TABLE contacts_contact ADD COLUMN release_note text NULL",
            reverse_sql="ALTER TABLE contacts_contact DROP COLUMN release_note",
        ),
    ]
