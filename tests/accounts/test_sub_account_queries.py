"""The sub-account overview of a main account with many sub-accounts (make bench)."""

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import selectors
from tests.factories import CustomerFactory, HostingAccountFactory


@pytest.mark.django_db
def test_c3_sub_accounts_counted_plainly_with_their_account_numbers(main_customer):
    """C3, C4: each sub-account with its number of hosting accounts; the paginator's count
    is a plain count of sub-accounts, no join with every hosting account."""
    first = CustomerFactory(name="A Shop", parent=main_customer)
    CustomerFactory(name="B Events", parent=main_customer)
    HostingAccountFactory.create_batch(3, customer=first)
    paginator = Paginator(selectors.sub_accounts_of(main_customer), 25)
    with CaptureQueriesContext(connection) as queries:
        assert paginator.count == 2
    assert "hostingaccount" not in queries.captured_queries[0]["sql"].lower()
    page = paginator.get_page(1)
    assert [(c.name, c.hosting_account_count) for c in page] == [("A Shop", 3), ("B Events", 0)]
