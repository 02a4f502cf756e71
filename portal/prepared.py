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

Or it names the values its plan depends on, ``server_side=("customer_id",)`` (whole
numbers only): a statement is then prepared for each customer, with the customer's id and
the query's constants written into it as literals, only the other parameters (a moment in
time) left as ``$n``. PostgreSQL plans it knowing the customer, as it plans a call with
the values; with no other parameter that plan is the statement's one plan, and with a
moment left the generic plan it may keep after five calls is still the customer's.
Parsing and planning were half to two thirds of these queries' PostgreSQL CPU on the
bench's data (make bench, docs/PERFORMANCE.md). Each connection keeps the statements of
the ``PER_VALUE_STATEMENTS`` values it ran last and deallocates older ones.

What Django would work out again for every call is worked out at compilation too: the
converters of the columns and select_related's populators. Model instances are made as
``Model.from_db`` makes them, but without ``Model.__init__``'s walk over every field
(about 5 µs an instance, 25–50 instances a list page, make bench): the row's values go
into the new instance's ``__dict__``. That is only done while it is the same (the model
keeps Django's ``__init__`` and ``from_db``, nothing listens to ``pre_init`` or
``post_init``); otherwise ``from_db`` makes them.

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
import hashlib
import itertools
import re
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.db.models import Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.query import RelatedPopulator, ValuesIterable
from django.db.models.signals import post_init, pre_init

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
# Statements prepared per value (server_side=("customer_id",)) on each connection, the
# least recently run first; beyond PER_VALUE_STATEMENTS the oldest is deallocated.
_per_value_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# A statement with its plans took about 160 KB of the backend's memory on the bench's
# data (pg_backend_memory_contexts): at most about 16 MB a connection. A page view of one
# customer prepares up to nine (the access overview).
PER_VALUE_STATEMENTS = 100
# server_side=PER_CUSTOMER: a statement for each customer (PreparedPages' customer_id).
PER_CUSTOMER = ("customer_id",)
# Every PreparedQuery of this process (forget_compiled).
_queries: weakref.WeakSet = weakref.WeakSet()
# Every server-side statement of this process (for one per value, their common name):
# name -> compiled SQL.
STATEMENTS: dict[str, str] = {}
_numbers = itertools.count(1)
_PLACEHOLDER_RE = re.compile(r"%%|%s")
_PER_VALUE_NAME_RE = re.compile(r"(__m?\d+)+$|__h[0-9a-f]{16}$")
_NAME_LENGTH = 63  # PostgreSQL's longest name (NAMEDATALEN - 1)


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
        name = _PER_VALUE_NAME_RE.sub("", name)  # a statement for one customer: its query's
        if name in STATEMENTS:
            return STATEMENTS[name]
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
    # server_side=("customer_id", …): a statement for each of their values.
    per_value: _PerValue | None = None
    # What results_iter would work out for every call: [(position, converters, expression)]
    converters: tuple = ()
    # Model instances: the model's columns (start, end, attnames) and select_related's.
    columns: tuple = ()
    populators: tuple = ()


def _execute(name: str, count: int) -> str:
    """``EXECUTE name(%s, …)`` with ``count`` parameters."""
    return f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


def _server_statement(name: str, sql: str, count: int) -> tuple[str, str]:
    """``PREPARE name AS …`` with $1…$n for Django's %s, and ``EXECUTE name(%s, …)``."""
    numbers = itertools.count(1)
    body = _PLACEHOLDER_RE.sub(lambda m: "%" if m[0] == "%%" else f"${next(numbers)}", sql)
    return f"PREPARE {name} AS {body}", _execute(name, count)


def _named(build) -> str:
    """The name of ``build`` (of the function a ``partial`` calls) for a statement's: at
    most 30 characters, so that with its number and values it stays within
    ``_NAME_LENGTH``, and not ending in "_", so that no "__" comes before its number (a
    per-value statement's name ends in "__" and its values)."""
    while isinstance(build, partial):
        build = build.func
    return build.__name__.strip("_")[:30].rstrip("_")


@dataclass(frozen=True)
class _PerValue:
    """The statements of a query prepared for each value of ``names`` (whole numbers),
    written into their text, with the query's constants as literals and its other
    parameters as $1…$n."""

    names: tuple[str, ...]
    base: str  # the statements' common name
    pieces: tuple[str, ...]  # the text between the places the values go
    places: tuple[int, ...]  # which of the values goes after each piece but the last
    taken: tuple[int, ...]  # the positions in params passed as $1…$n

    @classmethod
    def of(cls, names, base, connection, sql, params, slots) -> _PerValue:
        """A parameter that the SQL holds more than once (the moment, in each of the
        access overview's counts) is one $n, passed once: psycopg splits an ``EXECUTE``
        of more than 50 parameters again on every call (make bench)."""
        slot_forms = {position: (name, adapt) for position, name, adapt in slots}
        numbered: dict[tuple, int] = {}  # (name, adapter) -> its $n
        pieces, places, text, taken = [], [], [], []
        position = 0
        split, marks = _PLACEHOLDER_RE.split(sql), _PLACEHOLDER_RE.findall(sql)
        for piece, mark in itertools.zip_longest(split, marks):
            text.append(piece)
            if mark is None:
                break
            if mark == "%%":
                text.append("%")
                continue
            form = slot_forms.get(position)
            if form is not None and form[0] in names:
                pieces.append("".join(text))
                places.append(names.index(form[0]))
                text = []
            elif form is not None:
                if form not in numbered:
                    taken.append(position)
                    numbered[form] = len(taken)
                text.append(f"${numbered[form]}")
            else:
                text.append(connection.ops.compose_sql("%s", [params[position]]))
            position += 1
        pieces.append("".join(text))
        return cls(names, base, tuple(pieces), tuple(places), tuple(taken))

    def name(self, numbers: list[int]) -> str:
        """The statement's name for these values: the common name and the values, or a
        digest of them where PostgreSQL would cut the name short (two could meet)."""
        suffix = "".join(f"__{n}" if n >= 0 else f"__m{-n}" for n in numbers)
        if len(self.base) + len(suffix) <= _NAME_LENGTH:
            return self.base + suffix
        return f"{self.base}__h{hashlib.blake2b(suffix.encode(), digest_size=8).hexdigest()}"

    def text(self, numbers: list[int]) -> str:
        """The statement's SQL with these values written in."""
        text = [self.pieces[0]]
        for place, piece in zip(self.places, self.pieces[1:], strict=True):
            text.extend((str(numbers[place]), piece))
        return "".join(text)


class PreparedQuery:
    """``PreparedQuery(build, key=str, now=datetime.datetime)``; calling it with
    ``key=…, now=…`` returns the list of model instances ``build(key=…, now=…)`` would
    (for a ``.values(…)`` queryset, its list of dicts)."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *,
        server_side: bool | tuple[str, ...] = True,
        **parameters: type,
    ):
        for kind in parameters.values():
            if kind not in _PLACEHOLDERS:
                raise ImproperlyConfigured(f"PreparedQuery: no placeholder for {kind!r}")
        if isinstance(server_side, tuple):
            for name in server_side:
                if parameters.get(name) is not int:
                    raise ImproperlyConfigured(
                        f"PreparedQuery: {name!r} is not a whole-number parameter"
                    )
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
            if not settings.PREPARED_STATEMENTS:
                cursor.execute(compiled.sql, params)
            elif compiled.per_value:
                per_value = compiled.per_value
                name = self._prepare_for(connection, per_value, values)
                taken = [params[i] for i in per_value.taken]
                cursor.execute(_execute(name, len(taken)), taken)
            elif compiled.prepare:
                self._prepare_on(connection, compiled)
                cursor.execute(compiled.execute, params)
            else:
                cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.compiler.has_extra_select:
            rows = [row[: compiled.compiler.col_count] for row in rows]
        if compiled.converters:
            rows = _converted(rows, compiled.converters, connection)
        if compiled.values:
            return self._dicts(compiled.compiler, rows)
        return self._instances(compiled, rows, alias)

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

    @staticmethod
    def _prepare_for(connection, per_value: _PerValue, values: dict) -> str:
        """The name of the statement for these values, prepared on this connection if it
        is not yet (and the least recently run one beyond PER_VALUE_STATEMENTS
        deallocated)."""
        numbers = [int(values[name]) for name in per_value.names]
        name = per_value.name(numbers)
        raw = connection.connection  # psycopg's, open: Django's cursor opened it
        statements = _per_value_on.get(raw)
        if statements is None:
            statements = _per_value_on[raw] = OrderedDict()
        if name in statements:
            statements.move_to_end(name)
            return name
        with raw.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {per_value.text(numbers)}")
            statements[name] = True
            while len(statements) > PER_VALUE_STATEMENTS:
                old, _ = statements.popitem(last=False)
                cursor.execute(f"DEALLOCATE {old}")
        return name

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
        per_value = None
        if connection.vendor == "postgresql" and self._server_side:
            name = f"portal_{_named(self._build)}_{next(_numbers)}"
            STATEMENTS[name] = sql
            if isinstance(self._server_side, tuple):
                per_value = _PerValue.of(self._server_side, name, connection, sql, params, slots)
            else:
                prepare, execute = _server_statement(name, sql, len(params))
        values = queryset._iterable_class is ValuesIterable
        fields = [column[0] for column in compiler.select[: compiler.col_count]]
        if compiler.has_composite_fields(fields):
            raise ImproperlyConfigured("PreparedQuery: composite fields are not supported")
        converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(fields).items()
        )
        columns, populators = (), ()
        if not values:
            klass_info, select = compiler.klass_info, compiler.select
            start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            names = tuple(column[0].target.attname for column in select[start:end])
            columns = (start, end, names)
            populators = tuple(_populators(klass_info, select, queryset.db))
        compiled = _Compiled(
            sql,
            tuple(params),
            tuple(slots),
            compiler,
            prepare,
            execute,
            values=values,
            converters=converters,
            columns=columns,
            populators=populators,
            per_value=per_value,
        )
        self._compiled[queryset.db] = compiled
        return compiled, queryset.db

    @staticmethod
    def _dicts(compiler, rows) -> list[dict]:
        """The rows of a ``.values()`` queryset, as Django's ``ValuesIterable`` makes them."""
        query = compiler.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        return [dict(zip(names, row, strict=True)) for row in rows]

    @staticmethod
    def _instances(compiled: _Compiled, rows, alias) -> list:
        """Model instances from the rows, as Django's ``ModelIterable`` makes them."""
        compiler = compiled.compiler
        annotations = compiler.annotation_col_map
        model = compiler.klass_info["model"]
        start, end, names = compiled.columns
        populators = compiled.populators
        make = _maker(model)
        objects = []
        for row in rows:
            obj = make(alias, names, row[start:end])
            for populator in populators:
                populator.populate(row, obj)
            for name, position in annotations.items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def _converted(rows, converters, connection) -> list[list]:
    """The rows with Django's converters applied (``SQLCompiler.apply_converters``)."""
    converted = []
    for row in rows:
        row = list(row)
        for position, functions, expression in converters:
            value = row[position]
            for function in functions:
                value = function(value, expression, connection)
            row[position] = value
        converted.append(row)
    return converted


def _plain(model) -> bool:
    """Whether ``Model.from_db`` would only set the row's values on a new instance: the
    model keeps Django's ``__init__`` and ``from_db`` and nothing listens to its
    ``pre_init`` or ``post_init``."""
    return (
        not pre_init.receivers
        and not post_init.receivers
        and model.__init__ is Model.__init__
        and model.from_db.__func__ is Model.from_db.__func__
    )


def _maker(model) -> Callable:
    """``make(alias, names, values)``: ``model.from_db``, or for a ``_plain`` model the
    same instance made by ``_from_db``."""
    return partial(_from_db, model) if _plain(model) else model.from_db


def _from_db(model, alias, names, values):
    """What ``model.from_db(alias, names, values)`` returns for a ``_plain`` model, without
    ``Model.__init__``'s walk over every field (make bench: 5 µs an instance). A column
    the query did not read stays deferred, as Django leaves it: not in ``__dict__``."""
    obj = model.__new__(model)
    state = ModelState()
    state.adding = False
    state.db = alias
    obj.__dict__["_state"] = state
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


class _RelatedPopulator(RelatedPopulator):
    """Django's ``select_related`` populator, making its instances by ``_from_db``."""

    def __init__(self, klass_info, select, db):
        super().__init__(klass_info, select, db)
        self.related_populators = _populators(klass_info, select, db)

    def populate(self, row, from_obj):
        if self.reorder_for_init:
            data = self.reorder_for_init(row)
        else:
            data = row[self.cols_start : self.cols_end]
        if data[self.pk_idx] is None:
            obj = None
        else:
            obj = _maker(self.model_cls)(self.db, self.init_list, data)
            for populator in self.related_populators:
                populator.populate(row, obj)
        self.local_setter(from_obj, obj)
        if obj is not None:
            self.remote_setter(obj, from_obj)


def _populators(klass_info, select, db) -> list[_RelatedPopulator]:
    """``django.db.models.query.get_related_populators`` with ``_RelatedPopulator``."""
    return [
        _RelatedPopulator(info, select, db) for info in klass_info.get("related_klass_infos", [])
    ]


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
    ``PreparedQuery``'s): ``build(customer_id, status=…)``, called with ``status=…``.

    ``server_side=True`` prepares each page's statement on the server (``PreparedQuery``):
    only for a page query whose plan is the same whatever the customer, because
    PostgreSQL may then run every customer's page with one generic plan;
    ``server_side=PER_CUSTOMER`` prepares one for each customer."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        pages: int = 64,
        page: Callable | None = None,
        server_side: bool | tuple[str, ...] = False,
        **parameters: type,
    ):
        self._build = build
        self._pages = pages
        self._page = page or _slice
        self._server_side = server_side
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

        return PreparedQuery(page_rows, server_side=self._server_side, **self._parameters)
