"""The agency's list of grants at provider scale (make bench, docs/PERFORMANCE.md)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from delegation import selectors
from tests.factories import CustomerFactory, GrantFactory


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
    listing = queries.captured_queries[0]["sql"]
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
