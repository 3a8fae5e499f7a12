# The inbox lists active conversations newest activity first (ORDER BY COALESCE(last_message_at,
# created_at) DESC, id DESC) and counts them per tab: without this index both read and sort every
# conversation the company ever had. Partial on the active statuses, so it stays as small as the
# work in progress; assignee and unread_count included for index-only tab counts.

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversations', '0002_message_media'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(models.OrderBy(django.db.models.functions.comparison.Coalesce('last_message_at', 'created_at'), descending=True), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('status__in', ['bot', 'queued', 'open', 'pending'])), include=('assignee', 'unread_count'), name='conv_active_activity_idx'),
        ),
    ]
