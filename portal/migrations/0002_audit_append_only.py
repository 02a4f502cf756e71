"""The audit trail is append-only in the database itself (S27).

On PostgreSQL a trigger refuses every UPDATE and DELETE on accounts_auditevent, whoever
sends it: the ORM, the admin, a script or psql. TRUNCATE is left to the table's owner
(test databases are emptied with it); the portal never issues one. Other databases (the
SQLite of development) get nothing: there the rule rests on the code and the read-only
admin.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION portal_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit events are never changed or deleted (S27).';
END
$$;
DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;
CREATE TRIGGER accounts_auditevent_append_only
    BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;
DROP FUNCTION IF EXISTS portal_audit_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("portal", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_trigger, drop_trigger, elidable=False)]
