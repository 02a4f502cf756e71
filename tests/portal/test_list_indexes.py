"""Lists whose order an index serves (make bench, docs/PERFORMANCE.md): a page of a
customer with thousands of rows reads its 25 rows from an index instead of sorting them
all. Each test takes the SQL the page really runs and asks PostgreSQL for its plan."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts.models import Contact
from portal.prepared import executed_sql
from tests.factories import CustomerFactory


def _plans_of(client, url, table: str) -> list[str]:
    """The plans of the page's queries that read ``table`` in some order."""
    client.get(url)
    # The queries as SQL, not prepared statements: a statement prepared for one customer
    # keeps the plan it got before the settings below.
    with override_settings(PREPARED_STATEMENTS=False), CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    sqls = [
        q["sql"]
        for q in queries.captured_queries
        if executed_sql(q["sql"]).startswith(f'SELECT "{table}".')
        and "ORDER BY" in executed_sql(q["sql"])
    ]
    plans = []
    with connection.cursor() as cursor:
        # The test tables are tiny: without these the planner may rightly prefer a scan and
        # a sort. With them a Sort is left only where no index gives the order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        for sql in sqls:
            cursor.execute("EXPLAIN " + sql)
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def _assert_served_by(plans: list[str], *indexes: str) -> None:
    """Each index was used, and no query sorts (no index gave its order)."""
    used = " ".join(plans)
    for index in indexes:
        assert index in used
    assert not [p for p in plans if "Sort" in p]


@pytest.mark.django_db
def test_k5_contacts_page_and_attention_line_read_their_order_from_indexes(
    client_for, owner, customer
):
    """K5, K6: the contacts page (primary first, by name) and the Attn. line it previews
    (accounting contacts first) read their rows in index order; no sort of all contacts."""
    Contact.objects.bulk_create(
        [
            Contact(
                customer=customer,
                name=f"Contact {n}",
                is_standard=n % 2 == 0,
                is_accounting=n % 3 == 0,
                is_primary=n == 0,
            )
            for n in range(6)
        ]
    )
    url = reverse("contacts:contact_list", kwargs={"customer": customer.number})
    plans = _plans_of(client_for(owner), url, "contacts_contact")
    _assert_served_by(plans, "contact_list_order", "contact_attention_order")


@pytest.mark.django_db
def test_c3_sub_accounts_and_switcher_read_their_order_from_indexes(
    client_for, main_user, main_customer
):
    """C3: a main account's sub-accounts on its list (by name) and in the header's
    switcher (case-blind) come from indexes in those orders."""
    for n in range(5):
        CustomerFactory(name=f"Sub {n}", parent=main_customer)
    url = reverse("accounts:sub_account_list", kwargs={"customer": main_customer.number})
    plans = _plans_of(client_for(main_user), url, "accounts_customer")
    _assert_served_by(plans, "customer_sub_list", "customer_sub_switcher")


@pytest.mark.django_db
def test_h3_open_tickets_are_listed_from_their_index(client_for, owner, customer):
    """H3: a manager's default ticket list (the customer's open tickets, newest activity
    first) reads its page in the order of the partial index ticket_customer_open, without
    a sort."""
    from helpdesk.models import Ticket
    from tests.helpdesk.factories import TicketFactory

    for n in range(6):
        TicketFactory(
            customer=customer,
            requester=owner,
            status=Ticket.Status.CLOSED if n % 3 == 0 else Ticket.Status.NEW,
        )
    url = reverse("helpdesk:ticket_list", kwargs={"customer": customer.number})
    plans = _plans_of(client_for(owner), url, "helpdesk_ticket")
    _assert_served_by(plans, "ticket_customer_open")
