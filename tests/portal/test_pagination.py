"""Capped counts for lists that grow without bound (make bench): tickets (H3), the
activity trail (S27). A page costs the same at a thousand rows and at a million."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from portal.pagination import CappedCountPaginator
from portal.prepared import executed_sql
from tests.helpdesk.factories import TicketFactory


@pytest.mark.django_db
def test_count_stops_past_the_cap(customer):
    AuditEvent.objects.bulk_create(
        AuditEvent(customer=customer, action="login") for _n in range(12)
    )
    events = AuditEvent.objects.filter(customer=customer)
    small = CappedCountPaginator(events, 2, cap=20)
    assert (small.count, small.capped, small.num_pages) == (12, False, 6)
    capped = CappedCountPaginator(events, 2, cap=5)
    with CaptureQueriesContext(connection) as queries:
        assert capped.count == 6
    assert "LIMIT 6" in queries.captured_queries[0]["sql"]
    assert capped.capped
    assert capped.shown_pages == 2
    # Rows past the cap are still shown on the pages that exist.
    assert [e.pk for e in capped.page(3)] == [e.pk for e in events[4:6]]


@pytest.mark.django_db
def test_h3_ticket_list_says_more_than_past_the_cap(client_for, owner, customer, monkeypatch):
    """H3: past the cap the list says "more than" instead of counting every ticket."""
    import helpdesk.views

    TicketFactory.create_batch(8, customer=customer)
    url = reverse("helpdesk:ticket_list", kwargs={"customer": customer.number})
    client = client_for(owner)
    monkeypatch.setattr(helpdesk.views, "PAGE_SIZE", 2)
    assert "Page 1 of 4" in client.get(url).content.decode()
    monkeypatch.setattr(CappedCountPaginator, "cap", 5)
    assert "Page 1 of more than 2" in client.get(url).content.decode()


@pytest.mark.django_db
def test_s27_activity_trail_counts_with_a_cap(client_for, owner, customer):
    AuditEvent.objects.bulk_create(AuditEvent(customer=customer, action="login") for _n in range(3))
    url = reverse("accounts:audit_log", kwargs={"customer": customer.number})
    client = client_for(owner)
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    counts = [
        executed_sql(q["sql"])
        for q in queries.captured_queries
        if "COUNT(" in executed_sql(q["sql"]).upper()
    ]
    assert counts and all("LIMIT" in sql for sql in counts)


@pytest.mark.django_db
def test_d4_agency_dashboard_counts_delegated_accounts_with_the_page(
    client_for, delegate, agency, grant
):
    """D4: the delegated accounts are checked against their grants once per view, in the
    page's query; the total is an index count of the table the database keeps in their
    order (tests/portal/test_agency_dashboard_list.py), not the list computed again, and
    stops past the cap (make bench: all 5,000 entries took 2.6 ms a view)."""
    url = reverse("portal:dashboard", kwargs={"customer": agency.number})
    client = client_for(delegate)
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert b"alice.example" in client.get(url).content
    # The page is a statement prepared on the server: its SQL behind the EXECUTE.
    sqls = [executed_sql(q["sql"]) for q in queries.captured_queries]
    delegated = [sql for sql in sqls if '"delegation_grant_accounts"' in sql]
    assert len(delegated) == 1
    assert "LIMIT 25" in delegated[0]
    counts = [sql for sql in sqls if '"delegation_delegatedaccount"' in sql]
    assert len(counts) == 2 and "COUNT(" in counts[0] and "LIMIT 1001" in counts[0]


def test_admin_urls_resolve_before_the_portal_patterns():
    """The admin's change lists resolve every row's link (preserved filters): its
    patterns come first, so that doing so does not walk every app's patterns."""
    from django.urls import get_resolver

    assert str(get_resolver().url_patterns[0].pattern) == "admin/"


def _events_of(customer_id, action):
    return AuditEvent.objects.filter(customer_id=customer_id, action=action).order_by("-pk")


@pytest.mark.django_db
def test_s27_compiled_list_counts_with_its_cap_and_pages_as_the_orm(customer, monkeypatch):
    """A list compiled once (the activity trail, make bench): its capped count and its
    pages are what the ORM's queryset gives, for each call's values, compiled once."""
    from django.core.paginator import Paginator
    from django.db.models.sql.compiler import SQLCompiler

    import portal.pagination

    AuditEvent.objects.bulk_create(
        [AuditEvent(customer=customer, action="login") for _n in range(9)]
        + [AuditEvent(customer=customer, action="logout") for _n in range(2)]
    )
    monkeypatch.setattr(portal.pagination, "COUNT_CAP", 5)
    listed = portal.pagination.CompiledList(_events_of, capped=True, action=str)
    logins = CappedCountPaginator(listed.paged(customer.pk, 2, action="login"), 2, cap=5)
    assert (logins.count, logins.capped, logins.shown_pages) == (6, True, 2)
    assert [e.pk for e in logins.page(2)] == [e.pk for e in _events_of(customer.pk, "login")[2:4]]
    assert len(logins.page(1)) == 2
    expected = [e.pk for e in _events_of(customer.pk, "logout")]
    as_sql = SQLCompiler.as_sql
    compiled = []

    def counting_as_sql(self, *args, **kwargs):
        compiled.append(self)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting_as_sql)
    logouts = Paginator(listed.paged(customer.pk, 2, action="logout"), 2)
    assert logouts.count == 2
    assert [e.pk for e in logouts.page(1)] == expected
    assert list(Paginator(listed.paged(customer.pk + 1000, 2, action="login"), 2).page(1)) == []
    assert not compiled  # the count and the pages were compiled by the first calls
