# Trigram indexes on the accent- and case-free title and body of articles, written exactly as
# `apps.contacts.search.accent_free_contains` writes its expression, so the help centre's and the
# API's search (`apps.knowledge.selectors.text_match`) read them instead of every article.

import django.contrib.postgres.indexes
from django.db import migrations

INDEXES = {
    "knowledge_article_title_unaccent_trgm": "title",
    "knowledge_article_body_unaccent_trgm": "body",
}


class Migration(migrations.Migration):

    dependencies = [
        ("knowledge", "0001_initial"),
        # pg_trgm and public.conversa_unaccent
        ("contacts", "0003_unaccent_search"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="article",
            index=django.contrib.postgres.indexes.GinIndex(fields=["tags"], name="knowledge_article_tags_gin"),
        ),
    ] + [
        migrations.RunSQL(
            f'CREATE INDEX "{name}" ON "knowledge_article" '
            f'USING gin ((UPPER(public.conversa_unaccent("{column}"))) gin_trgm_ops)',
            reverse_sql=f'DROP INDEX "{name}"',
        )
        for name, column in INDEXES.items()
    ]
