"""The delegated-accounts triggers (``0004``) plan their statements on every call.

PL/pgSQL keeps a statement's plan for the life of the connection: after five calls it may
switch to a generic plan, one that does not look at the call's accounts, and a statement
without parameters (a trigger's, over its transition tables) is only ever planned once.
A connection lives long (``CONN_MAX_AGE``, a test run's), so a plan made while the tables
held a few rows stayed in use after they held thousands. The refresh's generic plan
walked every active grant, by ``grant_live_order``, for each account it refreshed: 6,000
grant rows read to refresh one account in a 3,000-grant test; a CI run's bulk load of
5,000 grants went past 300 s.

- ``delegation_accounts_refresh`` and ``delegation_customer_delegated`` plan each call
  (``plan_cache_mode = force_custom_plan``) for the accounts and customer it is given;
- the statement triggers select their accounts from the transition tables by
  ``EXECUTE``, planned with the rows the statement wrote.

Planning costs well under a millisecond a write; the refresh of one account reads that
account's grants.
"""

import importlib

from django.db import migrations

delegated = importlib.import_module("delegation.migrations.0004_delegated_account_list")

CUSTOM_PLANS = ["delegation_accounts_refresh(bigint[])", "delegation_customer_delegated()"]


def _trigger_function(function: str, selected: str, *, planned_each_time: bool) -> str:
    if planned_each_time:
        body = f"""
DECLARE
    refreshed bigint[];
BEGIN
    EXECUTE $selected$SELECT ARRAY(SELECT DISTINCT x.id FROM ({selected}) AS x(id))$selected$
        INTO refreshed;
    PERFORM delegation_accounts_refresh(refreshed);
    RETURN NULL;
END;"""
    else:  # 0004's
        body = f"""
BEGIN
    PERFORM delegation_accounts_refresh(ARRAY(SELECT DISTINCT x.id FROM ({selected}) AS x(id)));
    RETURN NULL;
END;"""
    return (
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$ {body} $$ LANGUAGE plpgsql"
    )


def _statements(*, planned_each_time: bool) -> list[str]:
    setting = "SET plan_cache_mode = force_custom_plan" if planned_each_time else "RESET ALL"
    return [
        *(f"ALTER FUNCTION {function} {setting}" for function in CUSTOM_PLANS),
        # 0004's refresh keeps its join order.
        "ALTER FUNCTION delegation_accounts_refresh(bigint[]) SET join_collapse_limit = 1",
        *(
            _trigger_function(
                f"{name}_{event.lower()}", selected, planned_each_time=planned_each_time
            )
            for (_table, name), accounts in delegated._TRIGGERS.items()
            for event, selected in accounts.items()
        ),
    ]


class PlannedEachCall(migrations.RunSQL):
    """The statements on PostgreSQL; another database has no triggers (``0004``)."""

    def __init__(self):
        super().__init__(sql=[], reverse_sql=[])

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            self._run_sql(schema_editor, _statements(planned_each_time=True))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            self._run_sql(schema_editor, _statements(planned_each_time=False))


class Migration(migrations.Migration):
    dependencies = [("delegation", "0005_grant_live_order")]

    operations = [PlannedEachCall()]
