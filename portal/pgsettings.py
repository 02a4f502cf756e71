"""Planner settings of the portal's PostgreSQL sessions.

PostgreSQL's Memoize node (a cache in front of the inner side of a nested loop) sizes
its hash table from the rows the planner expects, not from those a ``LIMIT`` lets
through: the manager's ticket list (a page of 25 of 29,000 open tickets, each with its
hosting account and requester) spent 1.0 of its 1.1 ms of execution creating and
dropping two such tables (``EXPLAIN ANALYZE``, make bench; PostgreSQL 15), the admin's
ticket search 0.3 ms, the activity trail 0.1 ms. The portal's pages read pages of rows
with their related rows by primary key, where a cache saves next to nothing, so each
new connection turns Memoize off (``PG_MEMOIZE=1`` leaves PostgreSQL's default).
"""

from __future__ import annotations

from django.conf import settings


def session_settings(sender, connection, **kwargs) -> None:
    """A ``connection_created`` receiver: the planner settings on a new connection."""
    if connection.vendor != "postgresql" or getattr(settings, "PG_MEMOIZE", False):
        return
    with connection.connection.cursor() as cursor:
        cursor.execute("SET enable_memoize = off")
