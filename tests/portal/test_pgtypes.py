"""portal.pgtypes: timestamps parsed by psycopg's C build answer exactly as Django's own
loader answers them (make bench: 4.2 → 1.4 µs a value, 267 values on the access
overview)."""

import datetime

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, register_tzloader
from django.utils import timezone
from psycopg.pq import Format

from accounts.models import User
from portal import pgtypes

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's loaders"),
]

# Literals that cover the parser: whole seconds, every microsecond digit, the first and
# the last years PostgreSQL's text and Python's datetime share, a leap day, an offset the
# session turns into UTC.
LITERALS = [
    "2026-12-07 04:24:11+00",
    "2026-12-07 04:24:11.000001+00",
    "2026-12-07 04:24:11.123456+00",
    "2026-12-07 04:24:11.999999+00",
    "2026-12-07 04:24:11.5+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "2024-02-29 12:00:00+00",
    "2026-06-30 23:30:00-05:30",
]


def _read(loader_setup) -> list:
    with connection.cursor() as cursor:
        loader_setup(cursor.cursor)
        cursor.execute(
            "SELECT v::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS t(v, n) ORDER BY n",
            [LITERALS],
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_c_build_is_what_psycopg_uses_here():
    """The tests run on psycopg[binary], as production does (pyproject.toml)."""
    assert psycopg.pq.__impl__ == "binary"
    assert pgtypes.timestamptz_loader(datetime.UTC) is not None


def test_new_connections_read_timestamps_through_the_c_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(pgtypes.TIMESTAMPTZ_OID, Format.TEXT)
    assert loader is pgtypes.timestamptz_loader(connection.timezone)
    assert not issubclass(loader, BaseTzLoader)
    with connection.cursor() as cursor:  # Django's cursor keeps it: the same time zone
        used = cursor.cursor.adapters.get_loader(pgtypes.TIMESTAMPTZ_OID, Format.TEXT)
        assert used is loader


def test_values_and_time_zone_are_djangos():
    """Each literal reads as Django's own loader reads it: the same moment and the very
    time zone object Django gives (datetime.UTC)."""
    djangos = _read(lambda raw: register_tzloader(connection.timezone, raw))
    ours = _read(lambda raw: None)
    assert ours == djangos
    assert [v.isoformat() for v in ours] == [v.isoformat() for v in djangos]
    assert all(
        v.tzinfo is d.tzinfo is connection.timezone for v, d in zip(ours, djangos, strict=True)
    )
    assert ours[2] == datetime.datetime(2026, 12, 7, 4, 24, 11, 123456, tzinfo=datetime.UTC)
    assert ours[-1] == datetime.datetime(2026, 7, 1, 5, 0, tzinfo=datetime.UTC)


def test_a_model_reads_back_what_it_wrote(owner):
    moment = timezone.now().replace(microsecond=654321)
    User.objects.filter(pk=owner.pk).update(last_activity=moment)
    assert User.objects.get(pk=owner.pk).last_activity == moment


def test_out_of_range_is_an_error_as_with_djangos():
    """'infinity' has no datetime: an error with both loaders, never a wrong value."""
    for setup in (lambda raw: register_tzloader(connection.timezone, raw), lambda raw: None):
        with pytest.raises(Exception, match="(?i)infinity|too large|date"):
            with connection.cursor() as cursor:
                setup(cursor.cursor)
                cursor.execute("SELECT 'infinity'::timestamptz")
                cursor.fetchall()
