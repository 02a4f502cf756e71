"""What a delegate may do through a live grant (D4, D5, S5, S6)."""

import pytest
from guardian.shortcuts import assign_perm

from accounts.models import User
from portal import policy
from portal.policy import Action
from tests.factories import HostingAccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (Action.VIEW_ACCOUNT, True),
        (Action.CHANGE_ACCOUNT, True),
        (Action.OPEN_TICKETS, True),
        (Action.VIEW_INVOICES, False),
        (Action.MANAGE_CONTACTS, False),
        (Action.MANAGE_USERS, False),
        (Action.MANAGE_DELEGATIONS, False),
        (Action.SEE_ALL_TICKETS, False),
        (Action.CUSTOMER_SETTINGS, False),
    ],
)
def test_d4_d5_delegate_views_changes_and_opens_tickets_for_granted_accounts_only(
    grant, account, delegate, action, allowed
):
    """D4, D5: view and change the granted account and open tickets about it; nothing
    customer-wide of the grantor."""
    access = policy.account_access(delegate, account)
    assert access.via == policy.Via.GRANT
    assert access.allows(action) is allowed


def test_d4_delegate_has_no_access_to_the_grantor_itself(grant, customer, delegate):
    """D4: no contract data, contacts, users: the grantor's customer is invisible."""
    assert policy.customer_access(delegate, customer) is None
    assert not policy.can(delegate, Action.VIEW_CUSTOMER, customer)
    assert list(policy.visible_accounts(delegate, customer)) == []
    assert list(policy.grantable_accounts(delegate, customer)) == []


def test_d4_only_users_allowed_to_manage_delegations_reach_granted_accounts(grant, agency, account):
    """D4: the agency's other users do not see or reach the granted accounts."""
    plain = MembershipFactory(customer=agency, can_view_products=True).user
    assert policy.account_access(plain, account) is None
    assert list(policy.delegated_accounts(plain, agency)) == []


def test_s6_inactive_delegate_sees_nothing_despite_guardian_rows(grant, agency, account, delegate):
    """S6: guardian's rows stay, but an inactive user reaches nothing."""
    User.objects.filter(pk=delegate.pk).update(status=User.Status.INACTIVE)
    delegate.refresh_from_db()
    assert policy.account_access(delegate, account) is None
    assert list(policy.delegated_accounts(delegate, agency)) == []


def test_d4_grant_from_another_grantor_does_not_reach_the_account_via_a_stale_row(
    grant, agency, delegate
):
    """S5: a guardian row without a live grant lets nobody in."""
    stray = HostingAccountFactory()
    assign_perm(policy.MANAGE_ACCOUNT_PERM, policy.customer_group(agency), stray)
    assert policy.account_access(delegate, stray) is None
