"""A4, D4: whom a hosting account's history names, decided in portal.policy."""

import pytest

from portal import policy
from tests.factories import CustomerFactory, GrantFactory, MembershipFactory
from tests.helpers import activate_grant

pytestmark = pytest.mark.django_db


def test_a4_d4_who_is_named_in_the_history(owner, delegate, grant, account, agency, customer):
    owner_view = policy.account_access(owner, account)
    delegate_view = policy.account_access(delegate, account)
    other_agency = CustomerFactory()
    other = activate_grant(GrantFactory(grantor=customer, agency=other_agency), [account])
    MembershipFactory(customer=other_agency, can_manage_delegations=True)
    table = [
        # viewer, entry made via, agency of the entry's grant, named?
        (owner_view, "membership", None, True),
        (owner_view, "grant", agency.pk, True),  # the customer reads what a delegate did
        (owner_view, "main_account", None, True),
        (delegate_view, "grant", agency.pk, True),  # its own agency's people
        (delegate_view, "membership", None, False),  # the grantor's users: not theirs (D4)
        (delegate_view, "main_account", None, False),
        (delegate_view, "grant", other.agency_id, False),  # another agency's people
    ]
    for viewer, via, agency_id, expected in table:
        assert policy.may_see_person_in_history(viewer, via=via, agency_id=agency_id) is expected
