"""The agency dashboard's delegated accounts in their order from an index: a table of
(agency, hosting account) with the customer's and the account's names and the end of
the longest-running grant, ``delegated_account_order`` holding an agency's rows by
customer name, then account name (make bench: an agency with 5,000 live grants sorted
all of their accounts, each checked against its grant, owner and guardian row, to show
25: 25–40 ms of PostgreSQL per view).

The database keeps the table, so that no write can leave it behind, whatever makes it
(the grant services, the expiry job, the admin, a queryset ``update()``, a shell, raw
SQL), in the same transaction as the write. ``delegation_accounts_refresh(accounts)``
computes the rows of those accounts again from the tables that decide them; the
triggers call it once per statement for the accounts the statement touched:

- grants whose state, end, agency or grantor change, or that are deleted;
- accounts added to or taken from grants;
- accounts renamed, moved to another customer, or deleted;
- guardian group permissions on hosting accounts given or taken;
- a customer's guardian group linked or unlinked (its agency's accounts);
- a customer renamed (the sort copy of its accounts' rows).

A row says: a grant in state ``active`` delegates the account to the agency, the account
belongs to that grant's grantor, and the agency's guardian group holds the manage
permission on it. The end time is not applied here (no job runs when a grant's end
passes): ``portal.policy`` compares it with the time of the request, and checks the
grant, the owner and the guardian row of every listed account again.

The refresh joins in the order written (``join_collapse_limit = 1``): from the
refreshed accounts' grant rows to their grants, accounts and guardian rows. Left to
choose, the planner started from every active grant whenever the statistics were older
than a bulk load (a test's, a migration's) and joined each to all of its grantor's
accounts: 2.6 s instead of 4 ms a refresh for 5,000 grants on 200 accounts.

Statement triggers with transition tables: a bulk insert of 5,000 grant accounts
refreshes each account once, not once per row; a refresh writes only rows that change,
so that a long transaction does not pile up dead row versions.

Concurrency (PostgreSQL): the refresh locks the accounts' rows first (in id order), so
two transactions refreshing the same account take turns; the second one's statements
then see what the first one committed (READ COMMITTED gives every statement a fresh
snapshot).

Only PostgreSQL gets the triggers; on another database (SQLite in development) the table
stays empty and ``portal.policy`` lists the accounts from the grants directly.
"""

from django.db import migrations, models

from portal.migration_operations import PostgreSQLOnly

# Every delegated (agency, account) row from the tables that decide it, for the accounts
# ``{accounts}`` selects: the refreshed ones, or all of them in the fill. The permission
# and content type are read first (``MANAGE``): joined in, the planner could not use
# guardian's (group, permission, object) index and the fill took 47 s instead of about
# one on the bench dataset.
ROWS = """
    SELECT DISTINCT ON (g.agency_id, a.id)
        g.agency_id, a.id, g.id, g.ends_at, c.name, a.name
    FROM delegation_grant_accounts ga
    JOIN delegation_grant g ON g.id = ga.grant_id
    JOIN accounts_hostingaccount a ON a.id = ga.hostingaccount_id AND a.customer_id = g.grantor_id
    JOIN accounts_customer c ON c.id = a.customer_id
    WHERE {accounts}
      AND g.state = 'active'
      AND EXISTS (
        SELECT 1
        FROM accounts_customergroup cg
        JOIN guardian_groupobjectpermission v ON v.group_id = cg.group_id
        WHERE cg.customer_id = g.agency_id AND v.permission_id = manage
          AND v.content_type_id = accounts_type AND v.object_pk = a.id::text
      )
    -- The grant that runs longest: no end first (as the list showed before this table).
    ORDER BY g.agency_id, a.id, g.ends_at DESC NULLS FIRST, g.id DESC
"""

MANAGE = """
    SELECT ct.id, p.id INTO accounts_type, manage
    FROM django_content_type ct JOIN auth_permission p ON p.content_type_id = ct.id
    WHERE ct.app_label = 'accounts' AND ct.model = 'hostingaccount'
      AND p.codename = 'manage_hostingaccount';
"""

COLUMNS = "(agency_id, account_id, grant_id, ends_at, customer_name, account_name)"

REFRESH = f"""
CREATE OR REPLACE FUNCTION delegation_accounts_refresh(refreshed bigint[]) RETURNS void AS $$
DECLARE
    accounts_type integer;
    manage integer;
BEGIN
    IF refreshed IS NULL OR cardinality(refreshed) = 0 THEN
        RETURN;
    END IF;
    {MANAGE}
    PERFORM 1 FROM accounts_hostingaccount WHERE id = ANY (refreshed) ORDER BY id FOR UPDATE;
    DELETE FROM delegation_delegatedaccount d
    WHERE d.account_id = ANY (refreshed)
      AND (d.agency_id, d.account_id) NOT IN (
        SELECT w.agency_id, w.id FROM (
            {ROWS.format(accounts="ga.hostingaccount_id = ANY (refreshed)")}
        ) AS w (agency_id, id, grant_id, ends_at, customer_name, account_name)
      );
    INSERT INTO delegation_delegatedaccount AS d {COLUMNS}
    {ROWS.format(accounts="ga.hostingaccount_id = ANY (refreshed)")}
    ON CONFLICT (agency_id, account_id) DO UPDATE
        SET grant_id = EXCLUDED.grant_id, ends_at = EXCLUDED.ends_at,
            customer_name = EXCLUDED.customer_name, account_name = EXCLUDED.account_name
        WHERE (d.grant_id, d.ends_at, d.customer_name, d.account_name)
            IS DISTINCT FROM (EXCLUDED.grant_id, EXCLUDED.ends_at,
                              EXCLUDED.customer_name, EXCLUDED.account_name);
END;
$$ LANGUAGE plpgsql SET join_collapse_limit = 1
"""  # noqa: S608 (this module's constants)

# The whole table again: the migration, and ``manage.py bench_data``, which seeds with
# the triggers off (``session_replication_role = replica``).
FILL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION delegation_delegated_fill() RETURNS bigint AS $$
DECLARE
    accounts_type integer;
    manage integer;
    added bigint;
BEGIN
    {MANAGE}
    DELETE FROM delegation_delegatedaccount;
    INSERT INTO delegation_delegatedaccount {COLUMNS}
    {ROWS.format(accounts="true")};
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END;
$$ LANGUAGE plpgsql
"""  # noqa: S608 (this module's constants)

FILL = "SELECT delegation_delegated_fill()"


def _statement_triggers(table: str, name: str, accounts: dict[str, str]) -> list[str]:
    """A function and its statement triggers on ``table`` that refresh the accounts the
    statement touched: ``accounts[event]`` selects them from the transition tables
    ``old_rows``/``new_rows`` (PostgreSQL allows them on one event per trigger)."""
    statements = []
    for event, selected in accounts.items():
        function = f"{name}_{event.lower()}"
        tables = {
            "INSERT": "NEW TABLE AS new_rows",
            "DELETE": "OLD TABLE AS old_rows",
            "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        }[event]
        statements += [
            f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    PERFORM delegation_accounts_refresh(ARRAY(SELECT DISTINCT x.id FROM ({selected}) AS x(id)));
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",  # noqa: S608 (this module's constants)
            f"""
CREATE TRIGGER {function} AFTER {event} ON {table}
    REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {function}()
""",
        ]
    return statements


# Guardian's rows of hosting accounts, in the transition table ``rows``.
_GUARDED = """
    SELECT {rows}.object_pk::bigint FROM {rows}
    JOIN django_content_type ct ON ct.id = {rows}.content_type_id
    WHERE ct.app_label = 'accounts' AND ct.model = 'hostingaccount'
      AND {rows}.object_pk ~ '^[0-9]{{1,18}}$'
"""

# The accounts of the grants received by the customers of the transition table ``rows``.
_AGENCY_ACCOUNTS = """
    SELECT ga.hostingaccount_id FROM delegation_grant_accounts ga
    JOIN delegation_grant g ON g.id = ga.grant_id JOIN {rows} r ON r.customer_id = g.agency_id
"""

_TRIGGERS = {
    # Grants: state, end, agency or grantor changed (other updates refresh nothing), or
    # deleted (the rows that name them too, for grants deleted after their accounts).
    ("delegation_grant", "delegation_grant_delegated"): {
        "UPDATE": """
            SELECT ga.hostingaccount_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            JOIN delegation_grant_accounts ga ON ga.grant_id = n.id
            WHERE (o.state, o.ends_at, o.agency_id, o.grantor_id)
                IS DISTINCT FROM (n.state, n.ends_at, n.agency_id, n.grantor_id)
            UNION SELECT d.account_id FROM old_rows o JOIN new_rows n ON n.id = o.id
            JOIN delegation_delegatedaccount d ON d.grant_id = n.id
            WHERE (o.state, o.ends_at, o.agency_id, o.grantor_id)
                IS DISTINCT FROM (n.state, n.ends_at, n.agency_id, n.grantor_id)
        """,
        "DELETE": """
            SELECT ga.hostingaccount_id FROM old_rows o
            JOIN delegation_grant_accounts ga ON ga.grant_id = o.id
            UNION SELECT d.account_id FROM old_rows o
            JOIN delegation_delegatedaccount d ON d.grant_id = o.id
        """,
    },
    # A grant's accounts.
    ("delegation_grant_accounts", "delegation_grant_account_delegated"): {
        "INSERT": "SELECT hostingaccount_id FROM new_rows",
        "DELETE": "SELECT hostingaccount_id FROM old_rows",
        "UPDATE": "SELECT hostingaccount_id FROM old_rows "
        "UNION SELECT hostingaccount_id FROM new_rows",
    },
    # Hosting accounts: renamed or moved to another customer (other updates refresh
    # nothing), deleted.
    ("accounts_hostingaccount", "delegation_hostingaccount_delegated"): {
        "UPDATE": """
            SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE (o.name, o.customer_id) IS DISTINCT FROM (n.name, n.customer_id)
        """,
        "DELETE": "SELECT id FROM old_rows",
    },
    # Guardian's group permissions on hosting accounts (the others are left alone).
    ("guardian_groupobjectpermission", "delegation_guardian_delegated"): {
        "INSERT": _GUARDED.format(rows="new_rows"),
        "DELETE": _GUARDED.format(rows="old_rows"),
        "UPDATE": _GUARDED.format(rows="old_rows") + " UNION " + _GUARDED.format(rows="new_rows"),
    },
    # A customer's guardian group: the accounts of the grants it received as an agency.
    ("accounts_customergroup", "delegation_customergroup_delegated"): {
        "INSERT": _AGENCY_ACCOUNTS.replace("{rows}", "new_rows"),
        "DELETE": _AGENCY_ACCOUNTS.replace("{rows}", "old_rows"),
        "UPDATE": _AGENCY_ACCOUNTS.replace("{rows}", "old_rows")
        + " UNION "
        + _AGENCY_ACCOUNTS.replace("{rows}", "new_rows"),
    },
}

TRIGGERS = [
    statement
    for (table, name), accounts in _TRIGGERS.items()
    for statement in _statement_triggers(table, name, accounts)
] + [
    # Customers renamed: the sort copy of their accounts' rows.
    """
CREATE OR REPLACE FUNCTION delegation_customer_delegated() RETURNS trigger AS $$
BEGIN
    UPDATE delegation_delegatedaccount SET customer_name = NEW.name
        WHERE account_id IN (SELECT id FROM accounts_hostingaccount WHERE customer_id = NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
""",
    """
CREATE TRIGGER delegation_customer_delegated
    AFTER UPDATE OF name ON accounts_customer
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION delegation_customer_delegated()
""",
]

POSTGRESQL = [REFRESH, FILL_FUNCTION, *TRIGGERS, FILL]

POSTGRESQL_REVERSE = [
    *(
        f"DROP TRIGGER IF EXISTS {name}_{event.lower()} ON {table}"
        for (table, name), accounts in _TRIGGERS.items()
        for event in accounts
    ),
    *(
        f"DROP FUNCTION IF EXISTS {name}_{event.lower()}()"
        for (_table, name), accounts in _TRIGGERS.items()
        for event in accounts
    ),
    "DROP TRIGGER IF EXISTS delegation_customer_delegated ON accounts_customer",
    "DROP FUNCTION IF EXISTS delegation_customer_delegated()",
    "DROP FUNCTION IF EXISTS delegation_delegated_fill()",
    "DROP FUNCTION IF EXISTS delegation_accounts_refresh(bigint[])",
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_membership_list_order"),
        ("delegation", "0003_grant_agency_list_index"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="DelegatedAccount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("ends_at", models.DateTimeField(null=True)),
                ("customer_name", models.CharField(max_length=200)),
                ("account_name", models.CharField(max_length=253)),
                (
                    "account",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="delegated_rows",
                        to="accounts.hostingaccount",
                    ),
                ),
                (
                    "agency",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounts.customer",
                    ),
                ),
                (
                    "grant",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="delegation.grant",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["agency", "customer_name", "account_name", "account"],
                        include=("ends_at",),
                        name="delegated_account_order",
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("agency", "account"), name="delegated_account_once"
                    )
                ],
            },
        ),
        # On PostgreSQL; another database gets none (see above).
        PostgreSQLOnly(POSTGRESQL, POSTGRESQL_REVERSE),
    ]
