"""The agency's list of grants at provider scale (make bench, docs/PERFORMANCE.md)."""

from datetime import timedelta

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from delegation import selectors
from delegation.models import Grant, GrantRequest
from portal.prepared import executed_sql
from tests.factories import CustomerFactory, GrantFactory, HostingAccountFactory, UserFactory


@pytest.mark.django_db
def test_d3_received_grants_page_joins_no_grantors(agency):
    """D3, D4: pending first, then newest; the grantors of the page come in their own
    query instead of being joined to every grant of the agency before the sort."""
    grantors = [CustomerFactory(name=f"Grantor {n}") for n in range(4)]
    grants = [GrantFactory(grantor=g, agency=agency) for g in grantors]
    grants[1].state = grants[1].State.ACTIVE
    grants[1].save()
    with CaptureQueriesContext(connection) as queries:
        page = list(selectors.grants_received(agency)[:3])
    listing = executed_sql(queries.captured_queries[0]["sql"])
    assert "accounts_customer" not in listing
    assert [g.grantor.name for g in page] == ["Grantor 3", "Grantor 2", "Grantor 0"]
    assert len(queries.captured_queries) == 3  # grants, grantors, accounts


@pytest.mark.django_db
def test_d3_received_grants_order_is_served_by_an_index(agency):
    """D3: the agency's list (pending first, then newest) reads its page from the index
    ``grant_agency_list`` in that order; nothing sorts all of the agency's grants (make
    bench: 6,000 grants, 4.5 ms per view before)."""
    for n in range(3):
        GrantFactory(grantor=CustomerFactory(name=f"Grantor {n}"), agency=agency)
    with connection.cursor() as cursor:
        # The test table is tiny: a Sort is left only where no index gives the order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        plan = selectors.grants_received(agency)[:25].explain()
    assert "grant_agency_list" in plan
    assert "Sort" not in plan


DAY = timedelta(days=1)


def _grants_with_accounts(*, grantor=None, agency=None, n=7):
    """``n`` grants a minute apart, some ended, some with several accounts (shuffled
    names, two kinds) and one with none."""
    start = timezone.now() - timedelta(days=1)
    grants = []
    for i in range(n):
        g = GrantFactory(
            grantor=grantor or CustomerFactory(name=f"Grantor {i}"),
            agency=agency or CustomerFactory(name=f"Agency {i}"),
            created_at=start + timedelta(minutes=i),
            state=[Grant.State.PENDING, Grant.State.ACTIVE, Grant.State.REVOKED][i % 3],
        )
        owner = g.grantor
        accounts = [
            HostingAccountFactory(customer=owner, name=f"{name}{g.pk}.example")
            for name in ("zeta", "alpha", "mid")[: i % 4]
        ]
        if i % 2:
            accounts.append(HostingAccountFactory(customer=owner, package=True))
        g.accounts.set(accounts)
        grants.append(g)
    return grants


def _as_shown(grants):
    return [
        (g.pk, [a.name for a in g.accounts.all()], g.get_effective_state_display()) for g in grants
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("received", [False, True])
def test_d1_d3_grant_list_pages_answer_as_the_selectors(customer, received):
    """D1, D2 (the grantor's list) and D3, D4 (the administrator's list): the compiled
    queries of ``GrantList`` give each page the grants of ``grants_given`` /
    ``grants_received`` in their order, with the same administrator or grantor, account
    names and state label, and the same count; nothing of another customer."""
    side = {"agency": customer} if received else {"grantor": customer}
    _grants_with_accounts(**side)
    _grants_with_accounts(n=3)  # other customers' grants
    queryset = (selectors.grants_received if received else selectors.grants_given)(customer)
    grants = selectors.GrantList(customer, received=received, page_size=3)
    assert grants.count() == queryset.count() == 7
    labels = Grant.state_labels()
    paginator = Paginator(grants, 3)
    for number in paginator.page_range:
        expected = list(queryset[(number - 1) * 3 : number * 3])
        with CaptureQueriesContext(connection) as queries:
            shown = list(paginator.page(number).object_list)
            other = [(g.grantor if received else g.agency).name for g in shown]
        assert len(queries.captured_queries) == 2  # the page with its customers, accounts
        assert [(g.pk, g.account_names, labels[g.effective_state()]) for g in shown] == (
            _as_shown(expected)
        )
        assert other == [(g.grantor if received else g.agency).name for g in expected]
    assert selectors.GrantList(customer, received=not received, page_size=3).count() == 0


@pytest.mark.django_db
def test_d3_received_page_joins_the_grantors_of_its_page_only(agency):
    """D3: the compiled page query picks the page from the agency's grants alone (the
    index's order) and joins the grantors of those grants only."""
    _grants_with_accounts(agency=agency, n=2)
    with CaptureQueriesContext(connection) as queries:
        selectors.GrantList(agency, received=True, page_size=25)[0:2]
    listing = executed_sql(queries.captured_queries[0]["sql"])
    inner = listing[listing.index("IN (SELECT") :]
    assert "accounts_customer" not in inner and "LIMIT 25" in inner


@pytest.mark.django_db
def test_d1_empty_list_reads_no_page(customer):
    """D1: a customer without grants: the count, and no page query (as a queryset)."""
    with CaptureQueriesContext(connection) as queries:
        page = Paginator(selectors.GrantList(customer, received=False, page_size=25), 25).get_page(
            1
        )
        assert list(page.object_list) == []
    assert len(queries.captured_queries) == 1


@pytest.mark.django_db
def test_grant_requests_compiled_answer_as_the_queryset(customer):
    """U5: the grantor's latest requests for an administrator's customer number, as
    ``grant_requests_of(…)[:n]`` gives them."""
    for n in range(4):
        GrantRequest.objects.create(
            grantor=customer,
            requested_by=UserFactory(),
            company=f"Firma {n}",
            first_name="A",
            last_name="B",
            street="S 1",
            postal_code="1",
            city="C",
            country="DE",
            phone="1",
            email=f"a{n}@example.com",
            created_at=timezone.now() - timedelta(hours=n),
        )
    expected = list(selectors.grant_requests_of(customer)[:3])
    assert selectors.latest_grant_requests(customer, 3) == expected
    assert selectors.latest_grant_requests(CustomerFactory(), 3) == []


def test_state_labels_are_the_display_in_every_language():
    """D6: the list's state label is ``get_effective_state_display`` in each language."""
    for language in ("en", "de", "hu"):
        with translation.override(language):
            labels = Grant.state_labels()
            for state in Grant.State:
                assert labels[state] == str(Grant.State(state).label)
                grant = Grant(state=state, key_hash="x", key_expires_at=timezone.now() + DAY)
                assert labels[grant.effective_state()] == grant.get_effective_state_display()
