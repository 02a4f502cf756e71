"""portal.prepared: a queryset compiled once per process answers as the queryset does,
with each call's own values (make bench: the session and memberships reads, S5, U3)."""

import datetime

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Exists, OuterRef
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Customer, Invitation, Membership, UserSession
from portal import policy, sessions
from portal.prepared import PreparedQuery, executed_sql
from tests.accounts.factories import InvitationFactory
from tests.factories import CustomerFactory, MembershipFactory
from tests.helpers import sign_in


def _rows(user_id):
    return (
        Membership.objects.filter(user_id=user_id)
        .select_related("customer", "customer__parent")
        .annotate(has_subs=Exists(Customer.objects.filter(parent_id=OuterRef("customer_id"))))
        .order_by("customer__name")
    )


@pytest.mark.django_db
def test_u3_answers_as_the_queryset_for_each_callers_values(
    owner, customer, main_user, main_customer, sub_customer, django_assert_num_queries
):
    """U3, C3: the same memberships, related customers and annotations as the queryset,
    each call with its own user; one query per call, none for the related objects."""
    MembershipFactory(user=owner, customer=main_customer)
    prepared = PreparedQuery(_rows, user_id=int)
    prepared(user_id=owner.pk)  # compiled
    for user in (owner, main_user, owner):
        with django_assert_num_queries(1):
            got = prepared(user_id=user.pk)
            seen = [(m.pk, m.customer.name, m.customer.parent_id, m.has_subs) for m in got]
        expected = [
            (m.pk, m.customer.name, m.customer.parent_id, m.has_subs) for m in _rows(user.pk)
        ]
        assert seen == expected
        assert {type(m) for m in got} == {Membership}
    assert [m.has_subs for m in prepared(user_id=main_user.pk)] == [True]
    assert prepared(user_id=-1) == []


@pytest.mark.django_db
def test_compiles_once_per_process():
    """The queryset is built and compiled at the first call only."""
    built = []

    def build(user_id):
        built.append(user_id)
        return _rows(user_id)

    prepared = PreparedQuery(build, user_id=int)
    for user_id in (1, 2, 3):
        prepared(user_id=user_id)
    assert len(built) == 1


@pytest.mark.django_db
def test_s5_time_parameter_decides_at_each_call(owner, customer):
    """S5: the session store's query takes the time of each call: a session read before
    its expiry has its data, read after it has none (the row outlived its session)."""
    client = sign_in(Client(), owner)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    expiry = Session.objects.get(session_key=key).expire_date
    before = sessions._SESSION_ROW(key=key, now=expiry - datetime.timedelta(seconds=1))
    after = sessions._SESSION_ROW(key=key, now=expiry + datetime.timedelta(seconds=1))
    assert before[0].session_data and before[0].user == owner
    assert after[0].session_data is None
    assert sessions._SESSION_ROW(key="x" * 32, now=timezone.now()) == []
    assert UserSession.objects.filter(session_key=key).exists()


@pytest.mark.django_db
def test_u3_memberships_come_from_the_prepared_query(owner, customer):
    """U3: the policy's memberships are this request's: a membership added since the
    last read is there after ``forget``."""
    assert list(policy._memberships(owner)) == [customer.pk]
    other = CustomerFactory()
    MembershipFactory(user=owner, customer=other)
    assert list(policy._memberships(owner)) == [customer.pk]  # cached on the user
    policy.forget(owner)
    assert sorted(policy._memberships(owner)) == sorted([customer.pk, other.pk])


@pytest.mark.django_db
def test_a_parameter_missing_from_the_query_is_an_error():
    """A value the build function ignores would be compiled in: refused."""
    prepared = PreparedQuery(
        lambda user_id, now: _rows(user_id), user_id=int, now=datetime.datetime
    )
    with pytest.raises(ImproperlyConfigured, match="'now'"):
        prepared(user_id=1, now=timezone.now())


def test_unknown_parameter_type_and_wrong_call_are_errors():
    with pytest.raises(ImproperlyConfigured):
        PreparedQuery(_rows, user_id=float)
    with pytest.raises(TypeError):
        PreparedQuery(_rows, user_id=int)(customer_id=1)


def _server_statements(name: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name = %s", [name])
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_prepared_once_per_connection_and_executed_by_name(owner, customer):
    """PostgreSQL plans the statement once per connection: the log shows an EXECUTE of it
    (one query), and its SQL is the compiled queryset's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    prepared = PreparedQuery(_rows, user_id=int)
    with CaptureQueriesContext(connection) as queries:
        first = prepared(user_id=owner.pk)
        second = prepared(user_id=owner.pk)
    assert [m.pk for m in first] == [m.pk for m in second] == [m.pk for m in _rows(owner.pk)]
    logged = [q["sql"] for q in queries.captured_queries]
    assert len(logged) == 2
    assert all(sql.startswith("EXECUTE portal_rows_") for sql in logged)
    assert executed_sql(logged[0]) == prepared.sql
    assert prepared.sql.startswith('SELECT "accounts_membership"."id"')
    name = logged[0].split()[1].split("(")[0]
    assert _server_statements(name) == [name]


@pytest.mark.django_db
def test_prepared_statement_outlives_a_rolled_back_transaction(owner, customer):
    """A statement prepared inside a transaction that is rolled back is still there (it
    belongs to the database session): the next call executes it."""
    from django.db import transaction

    prepared = PreparedQuery(_rows, user_id=int)

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        prepared(user_id=owner.pk)
        raise Rollback
    assert [m.customer_id for m in prepared(user_id=owner.pk)] == [customer.pk]


@pytest.mark.django_db
def test_statement_gone_from_the_connection_is_prepared_again(owner, customer):
    """A connection that lost its statements (a new one after a restart of PostgreSQL or
    the end of CONN_MAX_AGE) gets them prepared again."""
    from django.db import connection

    from portal import prepared as module

    prepared = PreparedQuery(_rows, user_id=int)
    prepared(user_id=owner.pk)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    module._prepared_on.pop(connection.connection, None)  # what a new connection has
    module._per_value_on.pop(connection.connection, None)
    assert [m.customer_id for m in prepared(user_id=owner.pk)] == [customer.pk]


@pytest.mark.django_db
def test_without_server_statements_the_compiled_sql_runs(owner, customer, settings):
    """PREPARED_STATEMENTS=0 (a pooler in transaction mode): the same answers from the
    compiled SQL itself, nothing prepared on the server."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.PREPARED_STATEMENTS = False
    prepared = PreparedQuery(_rows, user_id=int)
    with CaptureQueriesContext(connection) as queries:
        got = prepared(user_id=owner.pk)
    assert [m.pk for m in got] == [m.pk for m in _rows(owner.pk)]
    assert queries.captured_queries[0]["sql"].startswith('SELECT "accounts_membership"."id"')
    name = prepared._compile()[0].execute.split()[1].split("(")[0]
    assert _server_statements(name) == []


@pytest.mark.django_db
def test_k5_values_queryset_answers_its_dicts(customer, django_assert_num_queries):
    """K5, K10: a ``.values()`` queryset (the contacts page's counts) answers the dicts the
    queryset does, for each call's customer and time; no rows is an empty list."""
    from contacts.selectors import _page_summary_counts
    from tests.contacts.factories import ContactFactory

    now = timezone.now()
    ContactFactory(customer=customer, technical=True)
    ContactFactory(
        customer=customer, is_authorised=True, authorised_until=now + datetime.timedelta(days=1)
    )
    prepared = PreparedQuery(_page_summary_counts, customer_id=int, at=datetime.datetime)
    authorised = []
    for at in (now, now + datetime.timedelta(days=2)):
        with django_assert_num_queries(1):
            got = prepared(customer_id=customer.pk, at=at)
        assert got == list(_page_summary_counts(customer.pk, at))
        assert {type(row) for row in got} == {dict}
        authorised.append(got[0]["authorised_now"])
    assert authorised == [1, 0]  # the time limit is a parameter, not compiled in
    assert prepared(customer_id=-1, at=now) == []


@pytest.mark.django_db
def test_server_side_false_compiles_once_but_is_planned_per_call(owner):
    """A query whose plan depends on its values (a customer's size) runs its compiled
    SQL as it is: PostgreSQL plans each call, no statement is prepared."""
    prepared = PreparedQuery(_rows, server_side=False, user_id=int)
    with CaptureQueriesContext(connection) as queries:
        prepared(user_id=owner.pk)
        got = prepared(user_id=owner.pk)
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["SELECT", "SELECT"]
    assert [m.pk for m in got] == [m.pk for m in _rows(owner.pk)]


@pytest.mark.django_db
def test_s5_compiles_again_after_post_migrate(customer):
    """S5 (decisions from current rows): a query names content types and permissions by
    id in its compiled SQL; a flush between live-server tests recreates them under new
    ids, and post_migrate (sent after every flush and migrate) makes every compiled query
    compile again at its next call, else it would look for the old ids (CI: a grant's
    guardian row not found on the access overview after another test's flush)."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    named = {"id": customer.pk}

    def by_named_id(name):
        return Customer.objects.filter(pk=named["id"], name=name)

    prepared = PreparedQuery(by_named_id, name=str)
    assert [c.pk for c in prepared(name=customer.name)] == [customer.pk]
    other = CustomerFactory()
    named["id"] = other.pk
    assert prepared(name=other.name) == []  # the old id is compiled in
    config = apps.get_app_config("portal")
    post_migrate.send(
        sender=config,
        app_config=config,
        verbosity=0,
        interactive=False,
        using="default",
        apps=apps,
        plan=[],
    )
    assert [c.pk for c in prepared(name=other.name)] == [other.pk]


def _events(customer_id):
    from accounts.models import AuditEvent

    return (
        AuditEvent.objects.filter(customer_id=customer_id)
        .select_related("actor", "customer", "customer__parent")
        .defer("summary", "request_id")
        .order_by("pk")
    )


def _state(obj):
    fields = {k: v for k, v in vars(obj).items() if k != "_state"}
    return fields, obj._state.adding, obj._state.db, obj.get_deferred_fields()


@pytest.mark.django_db
def test_u3_instances_are_those_the_queryset_makes(owner, sub_customer, django_assert_num_queries):
    """U3 (the activity log of a customer): the instances are made without Django's
    ``Model.__init__`` (make bench), yet they are what the queryset makes: the same field
    values with converters applied (a JSON column parsed), the same deferred columns, saved
    state and database, and select_related's objects cached on them, none missing."""
    from accounts.models import AuditEvent

    AuditEvent.objects.create(
        customer=sub_customer, actor=owner, action="a", summary="s", data={"k": [1, "ü"]}
    )
    AuditEvent.objects.create(customer=sub_customer, action="b", data={})
    prepared = PreparedQuery(_events, customer_id=int)
    expected = list(_events(sub_customer.pk))
    with django_assert_num_queries(1):
        got = prepared(customer_id=sub_customer.pk)
    with django_assert_num_queries(0):
        pairs = [
            (e.data, e.actor and e.actor.email, e.customer.name, e.customer.parent.name)
            for e in got
        ]
    assert pairs == [
        (e.data, e.actor and e.actor.email, e.customer.name, e.customer.parent.name)
        for e in expected
    ]
    assert pairs[0][0] == {"k": [1, "ü"]}
    assert [_state(e) for e in got] == [_state(e) for e in expected]
    assert [_state(e.customer.parent) for e in got] == [_state(e.customer.parent) for e in expected]
    assert got[0].get_deferred_fields() == {"summary", "request_id"}
    with django_assert_num_queries(1):
        assert got[0].summary == "s"  # a deferred column loads as Django's does


@pytest.mark.django_db
def test_u3_post_init_receivers_still_see_every_instance(owner, customer):
    """U3: while anything listens to ``post_init``, instances are made by
    ``Model.from_db`` as Django makes them, so the receiver sees each of them."""
    from django.db.models.signals import post_init

    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append((sender, instance.pk))

    prepared = PreparedQuery(_rows, user_id=int)
    post_init.connect(receiver, sender=Membership)
    try:
        got = prepared(user_id=owner.pk)
    finally:
        post_init.disconnect(receiver, sender=Membership)
    assert got
    assert seen == [(Membership, m.pk) for m in got]


def _live_invitations(customer_id, at):
    """A list with a customer, a constant and a moment, for the per-customer statements."""
    return Invitation.objects.filter(
        customer_id=customer_id, state=Invitation.State.PENDING, expires_at__gt=at
    ).order_by("pk")


def _statements_like(prefix: str) -> dict[str, tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, statement, parameter_types::text FROM pg_prepared_statements"
            " WHERE starts_with(name, %s)",
            [prefix],
        )
        return {name: (statement, types) for name, statement, types in cursor.fetchall()}


@pytest.mark.django_db
def test_u2_statement_per_customer_answers_for_each_customer_and_moment(owner, customer):
    """U2: prepared for each customer, with the customer and the query's constants written
    in and only the moment left as a parameter: PostgreSQL plans it knowing the customer.
    Each call still answers for its own customer and moment (an invitation that expired
    since is not listed)."""
    other = CustomerFactory()
    now = timezone.now()
    mine = InvitationFactory(customer=customer, expires_at=now + datetime.timedelta(hours=1))
    theirs = InvitationFactory(customer=other, expires_at=now + datetime.timedelta(days=2))
    prepared = PreparedQuery(
        _live_invitations,
        server_side=("customer_id",),
        customer_id=int,
        at=datetime.datetime,
    )
    with CaptureQueriesContext(connection) as queries:
        for who, at, expected in (
            (customer, now, [mine.pk]),
            (other, now, [theirs.pk]),
            (customer, now + datetime.timedelta(hours=2), []),  # expired by then
            (other, now + datetime.timedelta(hours=2), [theirs.pk]),
        ):
            got = [i.pk for i in prepared(customer_id=who.pk, at=at)]
            assert got == expected == [i.pk for i in _live_invitations(who.pk, at)]
    logged = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SELECT")]
    assert len(logged) == 4 and all(sql.startswith("EXECUTE portal_") for sql in logged)
    assert {executed_sql(sql) for sql in logged} == {prepared.sql}
    base = logged[0].split()[1].split("(")[0].rpartition("__")[0]
    statements = _statements_like(base + "__")
    assert sorted(statements) == sorted(f"{base}__{c.pk}" for c in (customer, other))
    text, types = statements[f"{base}__{customer.pk}"]
    assert f'"customer_id" = {customer.pk}' in text and "'pending'" in text
    assert types == '{"timestamp with time zone"}'  # the moment, nothing else


@pytest.mark.django_db
def test_statements_per_customer_beyond_the_limit_are_deallocated(owner, monkeypatch):
    """Each connection keeps the statements of the PER_VALUE_STATEMENTS customers it ran
    last: an older one is deallocated, and prepared again when its customer comes back."""
    from portal import prepared as module

    monkeypatch.setattr(module, "PER_VALUE_STATEMENTS", 2)
    customers = [CustomerFactory() for _n in range(3)]
    for customer in customers:
        InvitationFactory(customer=customer)
    prepared = PreparedQuery(
        _live_invitations, server_side=module.PER_CUSTOMER, customer_id=int, at=datetime.datetime
    )
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        prepared(customer_id=customers[0].pk, at=now)
    base = queries.captured_queries[0]["sql"].split()[1].split("(")[0].rpartition("__")[0]
    for customer in customers[1:]:
        prepared(customer_id=customer.pk, at=now)
    assert sorted(_statements_like(base + "__")) == sorted(f"{base}__{c.pk}" for c in customers[1:])
    again = prepared(customer_id=customers[0].pk, at=now)
    assert [i.customer_id for i in again] == [customers[0].pk]
    assert sorted(_statements_like(base + "__")) == sorted(
        f"{base}__{c.pk}" for c in (customers[0], customers[2])
    )


@pytest.mark.django_db
def test_statement_per_customer_with_two_values_and_without_prepared_statements(
    owner, main_customer, sub_customer, settings
):
    """C3: a statement can be prepared per pair of values (a customer and its main
    account); with PREPARED_STATEMENTS=0 the same query runs as SQL."""

    def subs(main_id, customer_id):
        return Customer.objects.filter(parent_id=main_id).exclude(pk=customer_id).order_by("pk")

    prepared = PreparedQuery(
        subs, server_side=("main_id", "customer_id"), main_id=int, customer_id=int
    )
    with CaptureQueriesContext(connection) as queries:
        got = prepared(main_id=main_customer.pk, customer_id=-5)
    assert [c.pk for c in got] == [sub_customer.pk]
    name = queries.captured_queries[0]["sql"].split()[1]
    assert name.endswith(f"__{main_customer.pk}__m5")
    assert executed_sql(queries.captured_queries[0]["sql"]) == prepared.sql
    settings.PREPARED_STATEMENTS = False
    with CaptureQueriesContext(connection) as queries:
        assert prepared(main_id=main_customer.pk, customer_id=sub_customer.pk) == []
    assert queries.captured_queries[0]["sql"].startswith('SELECT "accounts_customer".')


@pytest.mark.django_db
def test_u2_a_parameter_held_twice_is_passed_once(owner, customer):
    """U2: a moment the SQL holds twice (two conditions on it) is one $n of the statement
    and one value of each EXECUTE (psycopg splits an EXECUTE of more than 50 parameters
    again on every call: the access overview's counts held the moment 13 times)."""
    later = timezone.now() + datetime.timedelta(hours=1)
    live = InvitationFactory(customer=customer, expires_at=later)
    now = timezone.now()
    InvitationFactory(customer=customer, expires_at=later)  # made after the moment

    def twice(customer_id, at):
        return _live_invitations(customer_id, at).filter(created_at__lt=at)

    prepared = PreparedQuery(
        twice, server_side=("customer_id",), customer_id=int, at=datetime.datetime
    )
    assert prepared.sql.count("%s") == 4  # the customer, the state, the moment twice
    with CaptureQueriesContext(connection) as queries:
        got = prepared(customer_id=customer.pk, at=now)
    assert [i.pk for i in got] == [live.pk] == [i.pk for i in twice(customer.pk, now)]
    (executed,) = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("EXECUTE")]
    name = executed.split()[1].split("(")[0]
    assert executed.count("::timestamptz") == 1
    text, types = _statements_like(name)[name]
    assert text.count("$1") == 2 and "$2" not in text
    assert types == '{"timestamp with time zone"}'


def test_a_statement_per_value_needs_whole_numbers():
    with pytest.raises(ImproperlyConfigured, match="'at'"):
        PreparedQuery(_live_invitations, server_side=("at",), customer_id=int, at=datetime.datetime)


@pytest.mark.django_db
def test_statement_names_stay_within_postgresqls_length(main_customer, sub_customer):
    """PostgreSQL cuts names longer than 63 characters short, so that two statements for
    different values could meet: a long name ends in a digest of the values instead."""

    def a_list_of_sub_accounts_with_a_very_long_name(main_id, customer_id):
        return Customer.objects.filter(parent_id=main_id).exclude(pk=customer_id).order_by("pk")

    prepared = PreparedQuery(
        a_list_of_sub_accounts_with_a_very_long_name,
        server_side=("main_id", "customer_id"),
        main_id=int,
        customer_id=int,
    )
    names = []
    for customer_id in (10**18, 10**18 + 1):
        with CaptureQueriesContext(connection) as queries:
            got = prepared(main_id=main_customer.pk, customer_id=customer_id)
        assert [c.pk for c in got] == [sub_customer.pk]
        names.append(queries.captured_queries[0]["sql"].split()[1])
        assert executed_sql(queries.captured_queries[0]["sql"]) == prepared.sql
    assert names[0] != names[1] and all(len(name) <= 63 and "__h" in name for name in names)
    assert sorted(_statements_like(names[0].rpartition("__")[0] + "__")) == sorted(names)
