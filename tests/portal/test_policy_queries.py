"""What the policy costs per request (make bench, docs/PERFORMANCE.md). The answers are
the policy's own (tests/portal/test_policy.py); these tests keep the number of queries
behind them fixed, so that a page's cost does not grow with a tenant's size."""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from portal import policy
from tests.factories import HostingAccountFactory
from tests.helpers import activate_grant


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


@pytest.mark.django_db
def test_d4_delegated_accounts_name_content_type_and_permission_by_id(
    delegate, agency, grant, account
):
    """D4 (S5, S6 unchanged): guardian's rows are filtered by the content type's id and
    the permission's id (a scalar subquery), not joined through the permission and
    content-type tables — that join made PostgreSQL compare every account with every
    permission row (6 s at 5,000 grants)."""
    with CaptureQueriesContext(connection) as queries:
        rows = list(policy.delegated_accounts(delegate, agency))
    assert rows == [account]
    assert rows[0].grant_id == grant.pk
    listing = queries.captured_queries[-1]["sql"]
    assert "django_content_type" not in listing
    assert 'JOIN "auth_permission"' not in listing


@pytest.mark.django_db
def test_d4_agency_without_grants_lists_nothing_in_one_query(
    delegate, agency, django_assert_num_queries
):
    """D4: the list of an agency is one query (here: the count of the dashboard)."""
    policy.customer_access(delegate, agency)  # memberships loaded, as on a page
    policy.delegated_accounts(delegate, agency).count()  # content type cached, as on a page
    with django_assert_num_queries(1):
        assert policy.delegated_accounts(delegate, agency).count() == 0


@pytest.mark.django_db
def test_d4_stale_guardian_row_without_live_grant_lists_nothing(delegate, agency, customer, owner):
    """S5, S6: a guardian row alone does not list an account; a live grant is needed."""
    from tests.factories import GrantFactory

    other = HostingAccountFactory(customer=customer, name="other.example")
    grant = activate_grant(GrantFactory(grantor=customer, agency=agency, created_by=owner), [other])
    grant.state = grant.State.REVOKED
    grant.save()
    assert list(policy.delegated_accounts(delegate, agency)) == []
