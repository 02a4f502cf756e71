"""The portal's PostgreSQL sessions plan without Memoize and run prepared statements'
generic plans (portal.pgsettings, make bench)."""

import pytest
from django.db import connection, connections
from django.test import override_settings

from portal import pgsettings

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]


def _on_a_new_connection(*names: str, **options) -> list[str]:
    """The settings ``names`` on a new connection (with these database ``OPTIONS``)."""
    fresh = connections.create_connection("default")
    if options:
        merged = {**fresh.settings_dict.get("OPTIONS", {}), **options}
        fresh.settings_dict = {**fresh.settings_dict, "OPTIONS": merged}
    try:
        with fresh.cursor() as cursor:
            shown = []
            for name in names:
                cursor.execute(f"SHOW {name}")
                shown.append(cursor.fetchone()[0])
            return shown
    finally:
        fresh.close()


def test_h3_a_new_connection_plans_without_memoize():
    """H3: the manager's ticket list (and every page) is planned without Memoize."""
    assert _on_a_new_connection("enable_memoize") == ["off"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_memoize")
        assert cursor.fetchone()[0] == "off"


@override_settings(PG_MEMOIZE=True)
def test_h3_pg_memoize_leaves_postgresqls_default():
    assert _on_a_new_connection("enable_memoize") == ["on"]


def test_h3_prepared_statements_run_their_generic_plan():
    """H3: a statement prepared per customer is not planned again on every call."""
    assert _on_a_new_connection("plan_cache_mode") == ["force_generic_plan"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone()[0] == "force_generic_plan"
        # A prepared statement with a moment as its parameter: its first call already
        # runs the generic plan (PostgreSQL's default plans the first five for their values).
        cursor.execute(
            "PREPARE pgsettings_probe (timestamptz) AS "
            "SELECT count(*) FROM delegation_grant WHERE ends_at > $1"
        )
        try:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE pgsettings_probe (now())")
            (plan,) = cursor.fetchone()[0]
        finally:
            cursor.execute("DEALLOCATE pgsettings_probe")
    # A custom plan would hold the moment itself.
    assert "$1" in str(plan["Plan"])


def test_h3_the_delegated_refresh_keeps_its_custom_plans():
    """H3 (D4): the refresh whose plan depends on its accounts is planned on each call."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT proname, proconfig FROM pg_proc WHERE proname IN "
            "('delegation_accounts_refresh', 'delegation_customer_delegated')"
        )
        configs = dict(cursor.fetchall())
    assert len(configs) == 2
    for config in configs.values():
        assert "plan_cache_mode=force_custom_plan" in config


@override_settings(PG_GENERIC_PLANS=False, PG_MEMOIZE=True)
def test_h3_pg_generic_plans_off_leaves_postgresqls_default():
    assert _on_a_new_connection("plan_cache_mode") == ["auto"]


def test_h3_server_side_binding_leaves_the_choice_to_postgresql():
    """H3: where psycopg prepares every query run five times, no plan is forced on them."""
    shown = _on_a_new_connection("plan_cache_mode", "enable_memoize", server_side_binding=True)
    assert shown == ["auto", "off"]


def test_h3_other_databases_are_left_alone():
    class Other:
        vendor = "sqlite"

        @property
        def connection(self):
            raise AssertionError("not asked")

    pgsettings.session_settings(None, Other())
