"""The portal's PostgreSQL sessions plan without Memoize (portal.pgsettings, make bench)."""

import pytest
from django.db import connection, connections
from django.test import override_settings

from portal import pgsettings

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]


def _memoize_on_a_new_connection() -> str:
    fresh = connections.create_connection("default")
    try:
        with fresh.cursor() as cursor:
            cursor.execute("SHOW enable_memoize")
            return cursor.fetchone()[0]
    finally:
        fresh.close()


def test_h3_a_new_connection_plans_without_memoize():
    """H3: the manager's ticket list (and every page) is planned without Memoize."""
    assert _memoize_on_a_new_connection() == "off"
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_memoize")
        assert cursor.fetchone()[0] == "off"


@override_settings(PG_MEMOIZE=True)
def test_h3_pg_memoize_leaves_postgresqls_default():
    assert _memoize_on_a_new_connection() == "on"


def test_h3_other_databases_are_left_alone():
    class Other:
        vendor = "sqlite"

        @property
        def connection(self):
            raise AssertionError("not asked")

    pgsettings.session_settings(None, Other())
