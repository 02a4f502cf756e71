"""Planner settings of the portal's PostgreSQL sessions.

PostgreSQL's Memoize node (a cache in front of the inner side of a nested loop) sizes
its hash table from the rows the planner expects, not from those a ``LIMIT`` lets
through: the manager's ticket list (a page of 25 of 29,000 open tickets, each with its
hosting account and requester) spent 1.0 of its 1.1 ms of execution creating and
dropping two such tables (``EXPLAIN ANALYZE``, make bench; PostgreSQL 15), the admin's
ticket search 0.3 ms, the activity trail 0.1 ms. The portal's pages read pages of rows
with their related rows by primary key, where a cache saves next to nothing, so each
new connection turns Memoize off (``PG_MEMOIZE=1`` leaves PostgreSQL's default).

The statements the portal prepares (``portal.prepared``) run their generic plan from the
first call (``plan_cache_mode = force_generic_plan``). Their plans do not depend on the
values left as parameters: a statement whose plan depends on the customer is prepared
for each customer, with the customer written in, and only the moment (now, the start of
a window) left as a parameter. Left to choose, PostgreSQL compares the generic plan's
estimated cost with the custom plans' and, where it guesses a range of moments worse
than it is, plans every call again: two of the access overview's sections, the same
plan each time, 0.65 and 0.2 ms of planning against 0.15 and 0.1 ms of running it
(``EXPLAIN ANALYZE``, make bench). Nothing else on these connections is prepared:
Django's psycopg cursors bind on the client. A database configured with
``server_side_binding`` has psycopg prepare any query run five times, whatever its
values: there PostgreSQL keeps its own choice. In PL/pgSQL the triggers' statements look
rows up by key, and the delegated-accounts refresh, whose plan does depend on its
values, keeps its own ``force_custom_plan`` (``delegation/migrations/0006``).
``PG_GENERIC_PLANS=0`` leaves PostgreSQL's default (``auto``).
"""

from __future__ import annotations

from django.conf import settings


def session_settings(sender, connection, **kwargs) -> None:
    """A ``connection_created`` receiver: the planner settings on a new connection."""
    if connection.vendor != "postgresql":
        return
    statements = []
    if not getattr(settings, "PG_MEMOIZE", False):
        statements.append("SET enable_memoize = off")
    server_side_binding = connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
    if getattr(settings, "PG_GENERIC_PLANS", True) and not server_side_binding:
        statements.append("SET plan_cache_mode = force_generic_plan")
    if statements:
        with connection.connection.cursor() as cursor:
            # One round trip: psycopg sends a query without parameters as it is.
            cursor.execute("; ".join(statements))
