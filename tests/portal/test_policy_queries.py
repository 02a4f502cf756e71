"""What the policy costs per request (make bench, docs/PERFORMANCE.md). The answers are
the policy's own (tests/portal/test_policy.py); these tests keep the number of queries
behind them fixed, so that a page's cost does not grow with a tenant's size."""

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from portal import policy
from tests.factories import CustomerFactory, HostingAccountFactory, MembershipFactory
from tests.helpers import activate_grant


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


@pytest.mark.django_db
def test_member_page_takes_its_customer_from_the_memberships(
    owner, customer, django_assert_num_queries
):
    """C3/U3 unchanged; the customer of an own membership costs no query of its own."""
    request = _request(owner)
    with django_assert_num_queries(1):
        assert policy.get_customer_for(request, customer.number) == customer
    assert request.access.via == policy.Via.MEMBERSHIP


@pytest.mark.django_db
def test_sub_account_through_main_account_and_outsider(
    main_user, sub_customer, customer, django_assert_num_queries
):
    """C3: a sub-account is looked up (one query more); another tenant stays a 404."""
    request = _request(main_user)
    with django_assert_num_queries(2):
        assert policy.get_customer_for(request, sub_customer.number) == sub_customer
    assert request.access.via == policy.Via.MAIN_ACCOUNT
    from django.http import Http404

    with pytest.raises(Http404):
        policy.get_customer_for(_request(main_user), customer.number)


@pytest.mark.django_db
def test_switcher_costs_no_query_without_sub_accounts(owner, customer, django_assert_num_queries):
    """C3: no sub-accounts, nothing to look up beyond the memberships."""
    policy.get_customer_for(_request(owner), customer.number)  # memberships loaded
    with django_assert_num_queries(0):
        assert policy.actable_customers(owner) == [customer]


@pytest.mark.django_db
def test_switcher_is_capped_and_sorted(main_user, main_customer):
    """C3: with a limit, the first customers by name and one more to say there are more."""
    names = [f"Sub {n:02d}" for n in range(20)]
    for name in reversed(names):
        CustomerFactory(name=name, parent=main_customer)
    every = policy.actable_customers(main_user)
    assert len(every) == 21
    policy.forget(main_user)
    first = policy.actable_customers(main_user, limit=5)
    assert first == every[:6]
    assert [c.name for c in first] == ["Main Holding AG", *names[:5]]


@pytest.mark.django_db
def test_c3_switcher_leaves_out_own_sub_accounts_once(main_user, main_customer):
    """C3: a user who is also a member of some sub-accounts sees each customer once, and
    still the first customers by name (the compiled query reads as many more)."""
    subs = [CustomerFactory(name=f"Sub {n:02d}", parent=main_customer) for n in range(12)]
    for sub in subs[:4]:
        MembershipFactory(user=main_user, customer=sub)
    policy.forget(main_user)
    every = policy.actable_customers(main_user)
    assert len(every) == len({c.pk for c in every}) == 13
    policy.forget(main_user)
    for limit in (1, 3, 6, 20):
        first = policy.actable_customers(main_user, limit=limit)
        assert first == every[: limit + 1]
        policy.forget(main_user)


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
def test_d4_delegated_accounts_read_the_agencys_group_once(delegate, agency, grant, account):
    """D4 (S5, S6 unchanged): the agency's guardian group is one scalar subquery, not a
    join through ``auth_group`` for every pair, and the pairs take the account's owner
    from the listed account instead of reading every account a second time (make bench:
    the agency dashboard's list 35–42 → 25 ms of PostgreSQL at 5,000 grants)."""
    with CaptureQueriesContext(connection) as queries:
        assert list(policy.delegated_accounts(delegate, agency)) == [account]
    listing = queries.captured_queries[-1]["sql"]
    assert '"auth_group"' not in listing
    assert 'JOIN "accounts_hostingaccount"' not in listing


@pytest.mark.django_db
def test_d4_account_no_longer_the_grantors_is_not_listed(
    delegate, agency, grant, account, other_customer
):
    """D4, S6: the live grant and its guardian row stay, but the account now belongs to
    another customer: the agency neither lists it nor reaches it."""
    account.customer = other_customer
    account.save()
    assert list(policy.delegated_accounts(delegate, agency)) == []
    policy.forget(delegate)
    assert policy.account_access(delegate, account) is None


@pytest.mark.django_db
def test_d4_another_agencys_guardian_row_does_not_list(delegate, agency, grant, account):
    """S5, S6: the guardian row must be the grant's own agency's; with the agency's row
    gone and another customer's group holding one, the account is not listed."""
    from guardian.shortcuts import assign_perm, remove_perm

    remove_perm(policy.MANAGE_ACCOUNT_PERM, policy.customer_group(agency), account)
    assign_perm(
        policy.MANAGE_ACCOUNT_PERM, policy.customer_group(CustomerFactory(name="X")), account
    )
    assert list(policy.delegated_accounts(delegate, agency)) == []
    policy.forget(delegate)
    assert policy.account_access(delegate, account) is None


@pytest.mark.django_db
def test_d4_agency_without_grants_lists_nothing_without_a_query(
    delegate, agency, django_assert_num_queries
):
    """D4: a customer that holds no active grant has no delegated accounts; the
    memberships already say so, and the list costs no query."""
    policy.customer_access(delegate, agency)  # memberships loaded, as on a page
    with django_assert_num_queries(0):
        assert policy.delegated_accounts(delegate, agency).count() == 0


@pytest.mark.django_db
def test_d4_agency_with_a_grant_lists_in_one_query(
    delegate, agency, customer, owner, account, django_assert_num_queries
):
    """D4: with an active grant the list is one query, checked in full (live grant,
    guardian row, grantor's own account)."""
    from tests.factories import GrantFactory

    activate_grant(GrantFactory(grantor=customer, agency=agency, created_by=owner), [account])
    policy.customer_access(delegate, agency)  # memberships loaded, as on a page
    policy.delegated_accounts(delegate, agency).count()  # content type cached, as on a page
    with django_assert_num_queries(1):
        assert list(policy.delegated_accounts(delegate, agency)) == [account]


@pytest.mark.django_db
def test_d4_stale_guardian_row_without_live_grant_lists_nothing(delegate, agency, customer, owner):
    """S5, S6: a guardian row alone does not list an account; a live grant is needed."""
    from tests.factories import GrantFactory

    other = HostingAccountFactory(customer=customer, name="other.example")
    grant = activate_grant(GrantFactory(grantor=customer, agency=agency, created_by=owner), [other])
    grant.state = grant.State.REVOKED
    grant.save()
    assert list(policy.delegated_accounts(delegate, agency)) == []


@pytest.mark.django_db
def test_c3_sub_account_count_costs_no_query_without_sub_accounts(
    owner, customer, django_assert_num_queries
):
    """C3: the memberships say the customer has no sub-accounts; nothing is counted."""
    policy.customer_access(owner, customer)  # memberships loaded, as on a page
    with django_assert_num_queries(0):
        assert policy.sub_account_count(owner, customer) == 0


@pytest.mark.django_db
def test_c3_sub_account_count_of_a_main_account(main_user, main_customer, sub_customer):
    """C3: a main account's sub-accounts are counted; a sub-account has none of its own."""
    assert policy.sub_account_count(main_user, main_customer) == 1
    assert policy.sub_account_count(main_user, sub_customer) == 0


@pytest.mark.django_db
def test_access_review_comes_with_the_memberships(owner, customer, django_assert_num_queries):
    """The access review (issue 7) of a customer of one's own is read with the memberships:
    the dashboard's reminder and the access overview need no query for it."""
    from django.utils import timezone

    from accounts.models import AccessReview
    from accounts.selectors import access_review_of

    AccessReview.objects.create(
        customer=customer,
        due_at=timezone.now(),
        confirmed_at=timezone.now(),
        confirmed_by=owner,
    )
    page_customer = policy.get_customer_for(_request(owner), customer.number)
    with django_assert_num_queries(0):
        review = access_review_of(page_customer)
        assert review.pk is not None and review.confirmed_by == owner


@pytest.mark.django_db
def test_access_review_without_a_row_has_the_defaults(owner, customer, django_assert_num_queries):
    """Issue 7: no review row yet: an unsaved one due after the first interval, no query."""
    from accounts.selectors import access_review_of

    page_customer = policy.get_customer_for(_request(owner), customer.number)
    with django_assert_num_queries(0):
        review = access_review_of(page_customer)
    assert review.pk is None and review.due_at > customer.created_at
