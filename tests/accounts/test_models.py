"""Rules about one row: one level of sub-accounts (C1), the collective invoice (C4),
invitation states (U2), the permission set (U3)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Customer, Invitation, Membership
from tests.accounts.factories import InvitationFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_sub_account_cannot_have_sub_accounts(sub_customer):
    """C1: Customer.clean refuses a second level."""
    deeper = Customer(number=999001, name="Too deep", parent=sub_customer)
    with pytest.raises(ValidationError, match="C1"):
        deeper.full_clean()


def test_a_main_account_cannot_become_a_sub_account(main_customer, sub_customer):
    """C1: a customer with sub-accounts cannot get a main account itself."""
    main_customer.parent = CustomerFactory()
    with pytest.raises(ValidationError, match="C1"):
        main_customer.full_clean()


def test_only_a_sub_account_is_on_a_collective_invoice(customer):
    """C4: the flag needs a main account, in clean() and in the database."""
    customer.on_collective_invoice = True
    with pytest.raises(ValidationError, match="C4"):
        customer.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        customer.save()


def test_invitation_states_as_the_customer_sees_them(customer):
    """U2: a pending invitation past its end shows as expired before the job marks it."""
    fresh = InvitationFactory(customer=customer)
    late = InvitationFactory(customer=customer, expired=True)
    assert fresh.shown_state == Invitation.State.PENDING and fresh.is_usable()
    assert late.state == Invitation.State.PENDING
    assert late.shown_state == Invitation.State.EXPIRED and not late.is_usable()
    assert list(Invitation.objects.usable()) == [fresh]


def test_one_pending_invitation_per_address(customer):
    """U2: the database keeps one pending invitation per address and customer."""
    InvitationFactory(customer=customer, email="a@example.com")
    InvitationFactory(customer=customer, email="a@example.com", cancelled=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        InvitationFactory(customer=customer, email="a@example.com")


def test_an_invitation_ends_after_it_starts(customer):
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        InvitationFactory(customer=customer, created_at=now, expires_at=now - timedelta(days=1))


def test_the_permission_set_is_shared_by_memberships_and_invitations():
    """U3: eight permissions and three notification choices, the owner having all."""
    assert len(Membership.PERMISSION_FIELDS) == 8
    assert Membership.NOTIFICATION_FIELDS == ("notify_invoices", "notify_orders", "notify_support")
    assert Invitation.choice_fields() == Membership.choice_fields()
    owner = Membership(is_owner=True)
    assert owner.has_flag("can_view_invoices")
    assert owner.permission_labels() == ["owner (all permissions)"]
