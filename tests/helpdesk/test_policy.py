"""The "Tickets" section of portal/policy.py: who sees and acts on which ticket (H3, D5,
U4, K10, S5, S6), as a role × action table."""

import pytest

from accounts.models import User
from portal import policy
from portal.policy import TicketAction
from tests.contacts.factories import ContactFactory
from tests.factories import MembershipFactory, UserFactory
from tests.helpdesk.factories import ParticipantFactory, TicketFactory

pytestmark = pytest.mark.django_db

V, R, C = TicketAction.VIEW, TicketAction.REPLY, TicketAction.CLOSE


@pytest.fixture
def cast(customer, account, agency, delegate, grant, main_customer, owner):
    """Everyone with a relation to one ticket of ``customer`` about ``account``."""
    requester = MembershipFactory(customer=customer, user__email="req@example.com").user
    ticket = TicketFactory(customer=customer, account=account, requester=requester)
    copied = MembershipFactory(customer=customer, user__email="cc@example.com").user
    ParticipantFactory(ticket=ticket, email=copied.email)
    colleague = MembershipFactory(customer=customer, user__email="colleague@example.com").user
    manager = MembershipFactory(
        customer=customer, user__email="mgr@example.com", can_see_all_tickets=True
    ).user
    authorised = MembershipFactory(customer=customer, user__email="auth@example.com").user
    ContactFactory(customer=customer, email=authorised.email, authorised=True)
    outsider_manager = MembershipFactory(owner=True, user__email="stranger@example.com").user
    delegate_ticket = TicketFactory(
        customer=customer, account=account, agency=agency, requester=delegate
    )
    copied_elsewhere = UserFactory(email="cc-nomember@example.com")
    ParticipantFactory(ticket=ticket, email=copied_elsewhere.email)
    return {
        "ticket": ticket,
        "delegate_ticket": delegate_ticket,
        "requester": requester,
        "copied": copied,
        "colleague": colleague,
        "manager": manager,
        "authorised contact": authorised,
        "owner": owner,
        "stranger": outsider_manager,
        "delegate": delegate,
        "copied, no member": copied_elsewhere,
        "staff": UserFactory(staff=True),
    }


# role, ticket, expected allowed actions (empty: does not see it at all)
TABLE = [
    ("requester", "ticket", {V, R, C}),
    ("copied", "ticket", {V, R}),
    ("colleague", "ticket", set()),
    ("manager", "ticket", {V, R, C}),
    ("authorised contact", "ticket", {V, R, C}),
    ("owner", "ticket", {V, R, C}),
    ("stranger", "ticket", set()),
    ("delegate", "ticket", set()),
    ("copied, no member", "ticket", set()),
    ("staff", "ticket", set()),  # staff work in the admin, not through the portal
    ("delegate", "delegate_ticket", {V, R, C}),
    ("manager", "delegate_ticket", {V, R, C}),
    ("colleague", "delegate_ticket", set()),
]


@pytest.mark.parametrize(("role", "which", "allowed"), TABLE)
def test_ticket_access_table(cast, role, which, allowed):
    """H3, D5, K10: who sees a ticket and may answer or close it."""
    access = policy.ticket_access(cast[role], cast[which])
    if not allowed:
        assert access is None
    else:
        assert {a for a in TicketAction if access.allows(a)} == allowed
        assert access.reason


@pytest.mark.parametrize(("role", "which", "allowed"), TABLE)
def test_visible_tickets_agree_with_ticket_access(cast, customer, agency, role, which, allowed):
    """H3, D5: the list shows exactly the tickets the detail lets a user see."""
    user = cast[role]
    listed = set(policy.visible_tickets(user, customer)) | set(policy.visible_tickets(user, agency))
    assert (cast[which] in listed) == bool(allowed)


def test_inactive_and_unverified_users_see_nothing(cast):
    """S6, U6: status, not rows, decides: an inactive requester sees nothing."""
    requester = cast["requester"]
    for status in (User.Status.INACTIVE, User.Status.UNVERIFIED):
        requester.status = status
        requester.save()
        policy.forget(requester)
        assert policy.ticket_access(requester, cast["ticket"]) is None
        assert not policy.visible_tickets(requester, cast["ticket"].customer).exists()


def test_expired_grant_ends_delegate_access(cast, grant):
    """D5, D6: a delegate's access to their ticket ends with the grant."""
    from django.utils import timezone

    grant.ends_at = timezone.now() - timezone.timedelta(seconds=1)
    grant.created_at = grant.ends_at - timezone.timedelta(days=1)
    grant.save()
    assert policy.ticket_access(cast["delegate"], cast["delegate_ticket"]) is None


def test_main_account_user_sees_sub_account_tickets(main_user, sub_customer):
    """C3, H3: the main account's owner manages the sub-account's tickets."""
    ticket = TicketFactory(customer=sub_customer)
    assert policy.ticket_access(main_user, ticket).allows(TicketAction.CLOSE)


def test_ticket_without_customer_is_seen_by_nobody_in_the_portal(member):
    """H2, S22: a ticket of an unknown sender has no customer: portal users never see it."""
    ticket = TicketFactory(customer=None, requester=member)
    assert policy.ticket_access(member, ticket) is None


def test_ticket_accounts_for_members_and_delegates(
    member, readonly_member, customer, account, other_account, agency, delegate, grant
):
    """H1, S4, D5: accounts a ticket may name: the user's own, and granted ones."""
    assert list(policy.ticket_accounts(member, customer)) == [account]
    assert list(policy.ticket_accounts(readonly_member, customer)) == []  # no open tickets
    assert list(policy.ticket_accounts(delegate, agency)) == [account]
    assert other_account not in policy.ticket_accounts(member, customer)
