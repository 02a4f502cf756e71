"""The delegated-accounts refresh (``0004``) reads only the grants of the accounts it
refreshes, whatever the statistics and whatever plan a connection keeps.

A connection lives long (``CONN_MAX_AGE``, a test run's). PL/pgSQL keeps a statement's
plan for its life: after five calls it may switch to a generic plan, one that does not
look at the call's accounts, and a statement without parameters (a trigger's, over its
transition tables) is planned once. Statistics lag behind a bulk load too. Either way the
planner could start the refresh from every active grant (by ``grant_live_order``) and
look each one up among the refreshed accounts' grants: 6,000 index scans to refresh one
account among 3,000 grants; a CI run's bulk load of 5,000 grants went past 300 s.

- the refresh finds its rows one step at a time, by LATERAL subqueries kept apart by
  ``OFFSET 0``: the accounts, their customers, their grants' ids, those grants by id,
  the agency's guardian row; each step runs once per row of the one before, by its key;
- the refresh and the customer-rename function are planned on each call
  (``plan_cache_mode = force_custom_plan``), with the sizes the tables have then;
- the statement triggers select their accounts from the transition tables by
  ``EXECUTE``, planned with the rows the statement wrote; those of grants and of
  agencies' guardian groups take the same steps (a grant's accounts by its id, an
  agency's grants by its id).

The fill (``delegation_delegated_fill``, the whole table at once) keeps 0004's joins.
"""

import importlib

from django.db import migrations

from portal.migration_operations import PostgreSQLOnly

delegated = importlib.import_module("delegation.migrations.0004_delegated_account_list")

CUSTOM_PLANS = ["delegation_accounts_refresh(bigint[])", "delegation_customer_delegated()"]


# The rows of the refreshed accounts, looked up one step at a time: each LATERAL
# subquery (kept apart by OFFSET 0) runs once per row of the step before it, by the one
# key it is given, so that no statistics can make the planner start from the grants.
REFRESH_ROWS = """
    SELECT DISTINCT ON (g.agency_id, a.id)
        g.agency_id, a.id, g.id, g.ends_at, c.name, a.name
    FROM unnest(refreshed) AS r (id)
    CROSS JOIN LATERAL (
        SELECT a.id, a.name, a.customer_id FROM accounts_hostingaccount a
        WHERE a.id = r.id OFFSET 0
    ) AS a
    CROSS JOIN LATERAL (
        SELECT c.name FROM accounts_customer c WHERE c.id = a.customer_id OFFSET 0
    ) AS c
    CROSS JOIN LATERAL (
        SELECT ga.grant_id FROM delegation_grant_accounts ga
        WHERE ga.hostingaccount_id = a.id OFFSET 0
    ) AS ga
    CROSS JOIN LATERAL (
        SELECT g.id, g.agency_id, g.grantor_id, g.state, g.ends_at FROM delegation_grant g
        WHERE g.id = ga.grant_id OFFSET 0
    ) AS g
    WHERE g.state = 'active' AND g.grantor_id = a.customer_id
      AND EXISTS (
        SELECT 1
        FROM accounts_customergroup cg
        JOIN guardian_groupobjectpermission v ON v.group_id = cg.group_id
        WHERE cg.customer_id = g.agency_id AND v.permission_id = manage
          AND v.content_type_id = accounts_type AND v.object_pk = a.id::text
        OFFSET 0
      )
    -- The grant that runs longest: no end first (as the list showed before this table).
    ORDER BY g.agency_id, a.id, g.ends_at DESC NULLS FIRST, g.id DESC
"""


# 0004's refresh, with the rows above for its rows (in its DELETE and its INSERT).
_ROWS_0004 = delegated.ROWS.format(accounts="ga.hostingaccount_id = ANY (refreshed)")
if delegated.REFRESH.count(_ROWS_0004) != 2:
    raise RuntimeError("0004's refresh has changed: rewrite 0006's from it")
REFRESH = delegated.REFRESH.replace(_ROWS_0004, REFRESH_ROWS)

# The triggers that join tables to find their accounts take the same steps: a grant's
# accounts (and delegated rows) by its id, an agency's grants by the agency's id. Joined
# freely, with statistics from before a bulk load, an agency's new guardian group once
# compared every grant with every grant account (CI: 1–2 s an agency).
_CHANGED = """(o.state, o.ends_at, o.agency_id, o.grantor_id)
    IS DISTINCT FROM (n.state, n.ends_at, n.agency_id, n.grantor_id)"""
_ACCOUNTS_OF_GRANT = """
    CROSS JOIN LATERAL (
        SELECT ga.hostingaccount_id FROM delegation_grant_accounts ga
        WHERE ga.grant_id = {grant} OFFSET 0
    ) AS ga"""
_ROWS_OF_GRANT = """
    CROSS JOIN LATERAL (
        SELECT d.account_id FROM delegation_delegatedaccount d
        WHERE d.grant_id = {grant} OFFSET 0
    ) AS d"""
_OF_AGENCIES = """
    SELECT ga.hostingaccount_id FROM {rows} r
    CROSS JOIN LATERAL (
        SELECT g.id FROM delegation_grant g WHERE g.agency_id = r.customer_id OFFSET 0
    ) AS g""" + _ACCOUNTS_OF_GRANT.format(grant="g.id")  # noqa: S608 (this module's constants)
_UPDATED = "FROM old_rows o JOIN new_rows n ON n.id = o.id"

SELECTED = {
    "delegation_grant_delegated": {
        "UPDATE": f"""
            SELECT ga.hostingaccount_id {_UPDATED} {_ACCOUNTS_OF_GRANT.format(grant="n.id")}
            WHERE {_CHANGED}
            UNION SELECT d.account_id {_UPDATED} {_ROWS_OF_GRANT.format(grant="n.id")}
            WHERE {_CHANGED}""",
        "DELETE": f"""
            SELECT ga.hostingaccount_id FROM old_rows o {_ACCOUNTS_OF_GRANT.format(grant="o.id")}
            UNION SELECT d.account_id FROM old_rows o {_ROWS_OF_GRANT.format(grant="o.id")}""",  # noqa: S608
    },
    "delegation_customergroup_delegated": {
        "INSERT": _OF_AGENCIES.format(rows="new_rows"),
        "DELETE": _OF_AGENCIES.format(rows="old_rows"),
        "UPDATE": _OF_AGENCIES.format(rows="old_rows")
        + " UNION "
        + _OF_AGENCIES.format(rows="new_rows"),
    },
}

# The statement triggers: their accounts from the transition tables by EXECUTE.
_PLANNED_EACH_STATEMENT = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
DECLARE
    refreshed bigint[];
BEGIN
    EXECUTE $selected$SELECT ARRAY(SELECT DISTINCT x.id FROM ({selected}) AS x(id))$selected$
        INTO refreshed;
    PERFORM delegation_accounts_refresh(refreshed);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""

FORWARDS = [
    REFRESH,
    *(
        f"ALTER FUNCTION {function} SET plan_cache_mode = force_custom_plan"
        for function in CUSTOM_PLANS
    ),
    *(
        _PLANNED_EACH_STATEMENT.format(
            function=f"{name}_{event.lower()}",
            selected=SELECTED.get(name, {}).get(event, selected),
        )
        for (_table, name), accounts in delegated._TRIGGERS.items()
        for event, selected in accounts.items()
    ),
]

# 0004's functions again (CREATE OR REPLACE sets a function's settings anew).
BACKWARDS = [
    delegated.REFRESH,
    *(s for s in delegated.TRIGGERS if s.lstrip().startswith("CREATE OR REPLACE FUNCTION")),
]


class Migration(migrations.Migration):
    dependencies = [("delegation", "0005_grant_live_order")]

    operations = [PostgreSQLOnly(FORWARDS, BACKWARDS)]  # another database has no triggers
