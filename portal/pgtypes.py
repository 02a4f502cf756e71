"""Timestamps read from PostgreSQL by psycopg's C loader (make bench).

Django reads every ``timestamptz`` through its own loader (``BaseTzLoader`` of
``django.db.backends.postgresql.psycopg_any``), a subclass of psycopg's pure-Python
loader: each value is parsed with a regular expression and put together in Python (4.2 µs
a value; the access overview reads 267 of them a view, a ticket page about 150). The C
build of psycopg (``psycopg[binary]``) parses the same text in C, but its class cannot be
subclassed. Through the loader here a value takes 1.4 µs (make bench's data).

``use_c_timestamptz_loader`` (a ``connection_created`` receiver) registers on each new
PostgreSQL connection a loader that calls psycopg's C loader and then does what Django's
does: the value gets the connection's time zone (``replace(tzinfo=…)``). It keeps the
``timezone`` attribute Django's cursor compares before it registers its own loader again,
so Django's own keeps working where that differs (a connection whose time zone changed).
Without the C build, psycopg's default is the Python loader, and Django's stays.
"""

from __future__ import annotations

from functools import lru_cache

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import Format

TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid


def _c_loader() -> type | None:
    """psycopg's default text loader of ``timestamptz`` where it is the C build's."""
    loader = psycopg.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    return loader if loader is not None and psycopg.pq.__impl__ == "binary" else None


@lru_cache(maxsize=8)
def timestamptz_loader(timezone) -> type[Loader] | None:
    """A loader of ``timestamptz`` that answers as Django's for ``timezone`` (one class
    per time zone)."""
    c_loader = _c_loader()
    if c_loader is None:
        return None

    class TimestamptzLoader(Loader):
        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self._load = c_loader(oid, context).load

        def load(self, data):
            return self._load(data).replace(tzinfo=self.timezone)

    TimestamptzLoader.timezone = timezone
    return TimestamptzLoader


def use_c_timestamptz_loader(sender, connection, **kwargs) -> None:
    if connection.vendor != "postgresql":
        return
    adapters = connection.connection.adapters
    djangos = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if not hasattr(djangos, "timezone"):  # not Django's BaseTzLoader: leave it
        return
    loader = timestamptz_loader(djangos.timezone)
    if loader is not None:
        adapters.register_loader("timestamptz", loader)
