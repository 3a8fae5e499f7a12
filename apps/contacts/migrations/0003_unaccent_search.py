# The unaccent extension and an IMMUTABLE wrapper of it, so that "joao" finds "João" through a
# trigram index; and that index on contact names.

from django.db import migrations

# Like pg_trgm (0001): the extension goes in `public`, on every tenant's search_path, and the
# advisory lock serialises tenants migrated in parallel. `unaccent()` itself is only STABLE (its
# dictionary could change), which an index expression refuses; the wrapper names the dictionary and
# the schemas explicitly, so it means the same under any search_path and may be IMMUTABLE.
# COST 500: it really costs ~3 µs a row; at the default cost the planner preferred unaccenting every
# contact (a 10,000-contact seq scan, 47 ms) to the trigram indexes (7 ms).
CREATE_UNACCENT = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent')
       OR NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'conversa_unaccent'
                      AND pronamespace = 'public'::regnamespace) THEN
        PERFORM pg_advisory_xact_lock(hashtext('conversa.create_extension.unaccent'));
        CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
        CREATE OR REPLACE FUNCTION public.conversa_unaccent(text) RETURNS text
            LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT COST 500
            AS $f$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $f$;
    END IF;
END
$$;
"""

NAME = "contacts_contact_name_unaccent_trgm"


class Migration(migrations.Migration):

    dependencies = [
        ("contacts", "0002_phone_trigram_on_upper"),
    ]

    operations = [
        # Never dropped on the way back: other tenants' indexes still need them.
        migrations.RunSQL(CREATE_UNACCENT, reverse_sql=migrations.RunSQL.noop),
        # The expression `apps.contacts.search.accent_free_contains` writes, so the planner matches it.
        migrations.RunSQL(
            f'CREATE INDEX "{NAME}" ON "contacts_contact" '
            f'USING gin ((UPPER(public.conversa_unaccent("name"))) gin_trgm_ops)',
            reverse_sql=f'DROP INDEX "{NAME}"',
        ),
    ]
