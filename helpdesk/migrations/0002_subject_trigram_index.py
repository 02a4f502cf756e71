"""A trigram index for the staff search in ticket subjects (H4: fast at a million
tickets). PostgreSQL only: Django's icontains there is UPPER(subject::text) LIKE
UPPER(%s), which this index serves; other databases search without it."""

from django.db import migrations

INDEX = "helpdesk_ticket_subject_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON helpdesk_ticket "
        "USING gin (UPPER(subject::text) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
