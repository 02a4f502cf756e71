"""The users page's order from an index: each membership keeps a copy of its user's last
name, first name and address, and ``membership_list_order`` holds the customer's members
owners first, then by those (make bench: a customer with 1,000 members sorted all of them,
joined with their users, to show 25).

The database keeps the copies, so that no write can leave them behind, whatever makes it
(a profile or admin edit, an invitation accepted, a queryset ``update()``, a shell, raw
SQL), in the same transaction as the write:

- a membership written with a new user (or with the copies themselves, as Django's
  ``save()`` does) copies that user's names, whatever it was given;
- a user whose names change (or who is inserted after a membership that already names
  them, as deferred foreign keys allow) passes them on to all their memberships.

Concurrency (PostgreSQL): a membership's trigger reads its user ``FOR SHARE``. A
transaction renaming that user at the same moment holds the row, so one of the two waits:
the rename's own update of the memberships then sees the committed membership (READ
COMMITTED gives every statement in the function a fresh snapshot), or the membership reads
the committed name.

SQLite (development) gets the same triggers in its dialect. Django rebuilds a SQLite
table for some later schema changes, which drops its triggers: a migration that alters
accounts_membership or accounts_user there must create them again.
"""

from django.db import migrations, models

FILL = """
UPDATE accounts_membership SET
    sort_last_name = (SELECT u.last_name FROM accounts_user u WHERE u.id = accounts_membership.user_id),
    sort_first_name = (SELECT u.first_name FROM accounts_user u WHERE u.id = accounts_membership.user_id),
    sort_email = (SELECT u.email FROM accounts_user u WHERE u.id = accounts_membership.user_id)
"""

POSTGRESQL = [
    FILL,
    """
CREATE OR REPLACE FUNCTION accounts_membership_sort_key() RETURNS trigger AS $$
BEGIN
    SELECT u.last_name, u.first_name, u.email
        INTO NEW.sort_last_name, NEW.sort_first_name, NEW.sort_email
        FROM accounts_user u WHERE u.id = NEW.user_id FOR SHARE;
    IF NOT FOUND THEN
        -- The user is inserted later in this transaction (deferred foreign key): the
        -- user's trigger fills them then.
        NEW.sort_last_name := '';
        NEW.sort_first_name := '';
        NEW.sort_email := '';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER accounts_membership_sort_key
    BEFORE INSERT OR UPDATE OF user_id, sort_last_name, sort_first_name, sort_email
    ON accounts_membership
    FOR EACH ROW EXECUTE FUNCTION accounts_membership_sort_key()
""",
    """
CREATE OR REPLACE FUNCTION accounts_user_sort_key() RETURNS trigger AS $$
BEGIN
    UPDATE accounts_membership
        SET sort_last_name = NEW.last_name, sort_first_name = NEW.first_name,
            sort_email = NEW.email
        WHERE user_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER accounts_user_sort_key_insert
    AFTER INSERT ON accounts_user
    FOR EACH ROW EXECUTE FUNCTION accounts_user_sort_key()
""",
    """
CREATE TRIGGER accounts_user_sort_key_update
    AFTER UPDATE OF last_name, first_name, email ON accounts_user
    FOR EACH ROW
    WHEN (OLD.last_name IS DISTINCT FROM NEW.last_name
          OR OLD.first_name IS DISTINCT FROM NEW.first_name
          OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION accounts_user_sort_key()
""",
]

POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS accounts_user_sort_key_update ON accounts_user",
    "DROP TRIGGER IF EXISTS accounts_user_sort_key_insert ON accounts_user",
    "DROP FUNCTION IF EXISTS accounts_user_sort_key()",
    "DROP TRIGGER IF EXISTS accounts_membership_sort_key ON accounts_membership",
    "DROP FUNCTION IF EXISTS accounts_membership_sort_key()",
]

# SQLite's triggers run after the row is written; recursive triggers are off (its
# default), so the membership's own update does not fire it again.
_SQLITE_COPY = """
    UPDATE accounts_membership SET
        sort_last_name = COALESCE((SELECT last_name FROM accounts_user WHERE id = NEW.user_id), ''),
        sort_first_name = COALESCE((SELECT first_name FROM accounts_user WHERE id = NEW.user_id), ''),
        sort_email = COALESCE((SELECT email FROM accounts_user WHERE id = NEW.user_id), '')
    WHERE id = NEW.id;
"""
_SQLITE_FROM_USER = """
    UPDATE accounts_membership
        SET sort_last_name = NEW.last_name, sort_first_name = NEW.first_name,
            sort_email = NEW.email
        WHERE user_id = NEW.id;
"""

SQLITE = [
    FILL,
    f"""
CREATE TRIGGER accounts_membership_sort_key_insert AFTER INSERT ON accounts_membership
BEGIN {_SQLITE_COPY} END
""",
    f"""
CREATE TRIGGER accounts_membership_sort_key_update
    AFTER UPDATE OF user_id, sort_last_name, sort_first_name, sort_email ON accounts_membership
BEGIN {_SQLITE_COPY} END
""",
    f"""
CREATE TRIGGER accounts_user_sort_key_insert AFTER INSERT ON accounts_user
BEGIN {_SQLITE_FROM_USER} END
""",
    f"""
CREATE TRIGGER accounts_user_sort_key_update
    AFTER UPDATE OF last_name, first_name, email ON accounts_user
BEGIN {_SQLITE_FROM_USER} END
""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS accounts_user_sort_key_update",
    "DROP TRIGGER IF EXISTS accounts_user_sort_key_insert",
    "DROP TRIGGER IF EXISTS accounts_membership_sort_key_update",
    "DROP TRIGGER IF EXISTS accounts_membership_sort_key_insert",
]

SQL = {"postgresql": (POSTGRESQL, POSTGRESQL_REVERSE), "sqlite": (SQLITE, SQLITE_REVERSE)}


class SortKeyTriggers(migrations.RunSQL):
    """The statements of the database's dialect; another database gets none."""

    def __init__(self):
        super().__init__(sql=[], reverse_sql=[])

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        forwards, _reverse = SQL.get(schema_editor.connection.vendor, ([], []))
        self._run_sql(schema_editor, forwards)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        _forwards, reverse = SQL.get(schema_editor.connection.vendor, ([], []))
        self._run_sql(schema_editor, reverse)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_list_order_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="sort_last_name",
            field=models.CharField(blank=True, default="", editable=False, max_length=150),
        ),
        migrations.AddField(
            model_name="membership",
            name="sort_first_name",
            field=models.CharField(blank=True, default="", editable=False, max_length=150),
        ),
        migrations.AddField(
            model_name="membership",
            name="sort_email",
            field=models.CharField(blank=True, default="", editable=False, max_length=254),
        ),
        SortKeyTriggers(),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                fields=["customer", "-is_owner", "sort_last_name", "sort_first_name", "sort_email"],
                name="membership_list_order",
            ),
        ),
    ]
