"""C1 in the database: a sub-account has no sub-accounts, a main account cannot become a
sub-account. Customer.clean() says so to people; this trigger holds it against every
other write (the admin, a shell, raw SQL, two requests at once).

PostgreSQL only; on SQLite (development) the model's clean() is the guard.

Concurrency: the trigger takes a share lock on the intended main account's row. A
transaction that is making that main account a sub-account at the same moment holds the
row's update lock, so one of the two waits, then sees the other's committed change and
fails (READ COMMITTED gives every statement in the function a fresh snapshot).
"""

from django.db import migrations

from portal.migration_operations import PostgreSQLOnly

CREATE = """
CREATE OR REPLACE FUNCTION accounts_customer_one_level() RETURNS trigger AS $$
DECLARE
    main_parent bigint;
BEGIN
    IF NEW.parent_id IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT parent_id INTO main_parent FROM accounts_customer
        WHERE id = NEW.parent_id FOR SHARE;
    IF main_parent IS NOT NULL THEN
        RAISE EXCEPTION 'C1: customer % is a sub-account and cannot have sub-accounts', NEW.parent_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM accounts_customer WHERE parent_id = NEW.id) THEN
        RAISE EXCEPTION 'C1: customer % has sub-accounts and cannot become a sub-account', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS accounts_customer_one_level ON accounts_customer;
CREATE TRIGGER accounts_customer_one_level
    BEFORE INSERT OR UPDATE OF parent_id ON accounts_customer
    FOR EACH ROW EXECUTE FUNCTION accounts_customer_one_level();
"""

DROP = """
DROP TRIGGER IF EXISTS accounts_customer_one_level ON accounts_customer;
DROP FUNCTION IF EXISTS accounts_customer_one_level();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_users_invitations_sub_accounts"),
    ]

    operations = [PostgreSQLOnly(CREATE, DROP)]
