"""Querysets that Django compiles once per process and runs with each call's values.

Two queries run on every signed-in request: the session with its ``UserSession`` row and
user (``portal.sessions``) and the user's memberships (``portal.policy``). Building and
compiling them cost more than running them: about 1.5 and 2.4 ms of Python against
0.3 ms of PostgreSQL each (make bench, docs/PERFORMANCE.md). Their shape never changes,
only a few values do (the session key, the time, the user), so the SQL is compiled once
per database connection alias and every call runs it with its own values, through Django's
cursor (counted, logged and wrapped like any query) and Django's own converters and
related-object populators.

On PostgreSQL the statement is also prepared on the server, once per database connection
(``PREPARE``, sent as set-up outside Django's query log like the connection's time zone),
and each call is an ``EXECUTE`` of it through Django's cursor: PostgreSQL then plans it
once per connection instead of on every request (0.3 and 0.7 ms of planning for the two
queries, make bench). Their plans do not depend on the values (a unique key, a user's
memberships), so the statement's generic plan is the plan. Prepared statements belong to
the database session, not to its transactions; a new connection prepares them again.
Behind a pooler that hands out a server connection per transaction (PgBouncer's
transaction mode) set ``PREPARED_STATEMENTS=0``: the compiled SQL then runs as it is.

A query whose best plan depends on its values (a customer with five contacts or with
thousands) passes ``server_side=False``: it is compiled once, but PostgreSQL plans each
call for its values, as for any query. A prepared statement's generic plan, chosen after
five calls, would be the same for every customer.

The ``build`` function names every value that varies as a parameter; it must not read
anything else that changes between calls (such as the clock): that would be compiled in.
The parameters are found in the compiled query by placeholder values of the declared
type; a parameter that does not turn up in the query is an error at the first call.

What a query names by id is compiled in too, such as the content type of hosting accounts
(guardian's rows). Those ids never change while the portal runs, but a test database
flushed between tests (a live-server test) gets its content types and permissions again
under new ids: every ``post_migrate`` (after ``migrate`` and after a flush) therefore
makes each of these queries compile again at its next call (``forget_compiled``).
"""

from __future__ import annotations

import datetime
import itertools
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.query import ValuesIterable, get_related_populators

# Placeholder values: unlikely in any real query, distinct per parameter.
_PLACEHOLDERS: dict[type, Callable[[int], object]] = {
    str: lambda n: f"\x1fprepared-parameter-{n}\x1f",
    int: lambda n: -2_000_000_000 + n,
    datetime.datetime: lambda n: datetime.datetime(
        1999, 12, 31, 23, 58, n, 123_457, tzinfo=datetime.UTC
    ),
}


# The statements prepared on each PostgreSQL connection (psycopg's), by name.
_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# Every PreparedQuery of this process (forget_compiled).
_queries: weakref.WeakSet = weakref.WeakSet()
# Every server-side statement of this process: name -> (PREPARE text, compiled SQL).
STATEMENTS: dict[str, tuple[str, str]] = {}
_numbers = itertools.count(1)
_PLACEHOLDER_RE = re.compile(r"%%|%s")


def forget_compiled(**_signal) -> None:
    """Every query compiles again at its next call (a ``post_migrate`` receiver, see
    above); a statement prepared on a connection stays there unused."""
    for query in list(_queries):
        query._compiled.clear()


def executed_sql(logged: str) -> str:
    """The SQL a query of Django's log runs: for an ``EXECUTE`` of one of these statements
    the compiled SQL behind it (with %s for its parameters), else the query itself."""
    if logged.startswith("EXECUTE portal_"):
        name = logged.split()[1].split("(")[0]
        if name in STATEMENTS:
            return STATEMENTS[name][1]
    return logged


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    # (position in params, parameter name, adapter of the value or None)
    slots: tuple[tuple[int, str, Callable | None], ...]
    compiler: object
    # PostgreSQL: the PREPARE statement and the EXECUTE that runs it ("" elsewhere).
    prepare: str = ""
    execute: str = ""
    values: bool = False  # a .values() queryset: dicts, not model instances


def _server_statement(name: str, sql: str, count: int) -> tuple[str, str]:
    """``PREPARE name AS …`` with $1…$n for Django's %s, and ``EXECUTE name(%s, …)``."""
    numbers = itertools.count(1)
    body = _PLACEHOLDER_RE.sub(lambda m: "%" if m[0] == "%%" else f"${next(numbers)}", sql)
    arguments = f"({', '.join(['%s'] * count)})" if count else ""
    return f"PREPARE {name} AS {body}", f"EXECUTE {name}{arguments}"


class PreparedQuery:
    """``PreparedQuery(build, key=str, now=datetime.datetime)``; calling it with
    ``key=…, now=…`` returns the list of model instances ``build(key=…, now=…)`` would
    (for a ``.values(…)`` queryset, its list of dicts)."""

    def __init__(
        self, build: Callable[..., QuerySet], *, server_side: bool = True, **parameters: type
    ):
        for kind in parameters.values():
            if kind not in _PLACEHOLDERS:
                raise ImproperlyConfigured(f"PreparedQuery: no placeholder for {kind!r}")
        self._build = build
        self._server_side = server_side
        self._parameters = parameters
        self._compiled: dict[str, _Compiled] = {}  # by database alias
        self._model = None
        _queries.add(self)

    def __call__(self, **values) -> list:
        if values.keys() != self._parameters.keys():
            raise TypeError(f"expected the parameters {sorted(self._parameters)}")
        compiled, alias = self._compile()
        params = list(compiled.params)
        for position, name, adapt in compiled.slots:
            value = values[name]
            params[position] = adapt(value) if adapt is not None else value
        connection = connections[alias]
        with connection.cursor() as cursor:
            if compiled.prepare and settings.PREPARED_STATEMENTS:
                self._prepare_on(connection, compiled)
                cursor.execute(compiled.execute, params)
            else:
                cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.values:
            return self._dicts(compiled.compiler, rows)
        return self._instances(compiled.compiler, rows, alias)

    @property
    def sql(self) -> str:
        """The compiled SQL (what an ``EXECUTE`` in the query log runs)."""
        return self._compile()[0].sql

    @staticmethod
    def _prepare_on(connection, compiled: _Compiled) -> None:
        raw = connection.connection  # psycopg's, open: Django's cursor opened it
        names = _prepared_on.get(raw)
        if names is None:
            names = _prepared_on[raw] = set()
        if compiled.prepare not in names:
            with raw.cursor() as cursor:
                cursor.execute(compiled.prepare)
            names.add(compiled.prepare)

    def _placeholders(self) -> dict:
        return {
            name: _PLACEHOLDERS[kind](n) for n, (name, kind) in enumerate(self._parameters.items())
        }

    def _compile(self) -> tuple[_Compiled, str]:
        """The compiled query for the database the queryset reads from, and its alias."""
        if self._model is not None:
            alias = router.db_for_read(self._model)
            compiled = self._compiled.get(alias)
            if compiled is not None:
                return compiled, alias
        placeholders = self._placeholders()
        queryset = self._build(**placeholders)
        self._model = queryset.model
        connection = connections[queryset.db]
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        slots = []
        for name, placeholder in placeholders.items():
            forms = [(placeholder, None)]
            if isinstance(placeholder, datetime.datetime):
                adapt = connection.ops.adapt_datetimefield_value
                forms.append((adapt(placeholder), adapt))
            found = [
                (position, name, adapt)
                for position, param in enumerate(params)
                for form, adapt in forms
                if type(param) is type(form) and param == form
            ]
            if not found:
                raise ImproperlyConfigured(f"PreparedQuery: {name!r} is not a parameter of {sql}")
            slots.extend(found)
        prepare = execute = ""
        if connection.vendor == "postgresql" and self._server_side:
            name = f"portal_{self._build.__name__.strip('_')}_{next(_numbers)}"
            prepare, execute = _server_statement(name, sql, len(params))
            STATEMENTS[name] = (prepare, sql)
        values = queryset._iterable_class is ValuesIterable
        compiled = _Compiled(
            sql, tuple(params), tuple(slots), compiler, prepare, execute, values=values
        )
        self._compiled[queryset.db] = compiled
        return compiled, queryset.db

    @staticmethod
    def _dicts(compiler, rows) -> list[dict]:
        """The rows of a ``.values()`` queryset, as Django's ``ValuesIterable`` makes them."""
        query = compiler.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        return [dict(zip(names, row, strict=True)) for row in compiler.results_iter([rows])]

    @staticmethod
    def _instances(compiler, rows, alias) -> list:
        """Model instances from the rows, as Django's ``ModelIterable`` makes them."""
        if compiler.has_extra_select:
            rows = [row[: compiler.col_count] for row in rows]
        select, klass_info = compiler.select, compiler.klass_info
        annotations = compiler.annotation_col_map
        model = klass_info["model"]
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        names = [column[0].target.attname for column in select[start:end]]
        populators = get_related_populators(klass_info, select, alias)
        objects = []
        for row in compiler.results_iter([rows]):
            obj = model.from_db(alias, names, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in annotations.items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def _slice(queryset: QuerySet, offset: int, size: int) -> QuerySet:
    return queryset[offset : offset + size]


class PreparedPages:
    """``build(customer_id)[offset : offset + size]`` as a list, compiled once per process
    for each page (Django writes LIMIT and OFFSET into the SQL, so each page is a query of
    its own) and planned per call (a customer with ten rows or with thousands). Pages past
    the first ``pages``, and offsets that are not a whole page, run through the ORM.

    ``page(queryset, offset, size)``, if given, makes the page's query from the list's
    (by default the slice above): e.g. pick the page's ids in a subquery, then join.
    ``parameters`` names values the list takes beside the customer, with their types (as
    ``PreparedQuery``'s): ``build(customer_id, status=…)``, called with ``status=…``."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        pages: int = 64,
        page: Callable | None = None,
        **parameters: type,
    ):
        self._build = build
        self._pages = pages
        self._page = page or _slice
        self._parameters = {"customer_id": int, **parameters}
        self._prepared: dict[tuple[int, int], PreparedQuery] = {}

    def __call__(self, customer_id: int, offset: int, size: int, **values) -> list:
        query = self._prepared.get((offset, size))
        if query is None:
            if offset % size or offset // size >= self._pages:
                return list(self._page(self._build(customer_id, **values), offset, size))
            query = self._prepared[offset, size] = self._prepare(offset, size)
        return query(customer_id=customer_id, **values)

    def _prepare(self, offset: int, size: int) -> PreparedQuery:
        build, page = self._build, self._page

        def page_rows(customer_id, **values):
            return page(build(customer_id, **values), offset, size)

        return PreparedQuery(page_rows, server_side=False, **self._parameters)
