"""Staff in the admin: deactivate and verify users (U4, U6, S5), create logins and
customers for newcomers with a set-password mail (U5), handle "has left" requests (U4)."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import AuditEvent, Customer, Membership, StaffRequest, User, UserSession
from contacts.models import Contact
from tests.accounts.factories import StaffRequestFactory
from tests.factories import UserFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db

NEWCOMER = {
    "company": "Delta Agentur GmbH",
    "first_name": "Dora",
    "last_name": "Delta",
    "street": "Hauptstraße 1",
    "postal_code": "10115",
    "city": "Berlin",
    "country": "Germany",
    "phone": "+49 30 1234567",
    "email": "Dora@Delta.example",
}


def action(staff_client, model, name, objects):
    return staff_client.post(
        reverse(f"admin:accounts_{model}_changelist"),
        {"action": name, "_selected_action": [o.pk for o in objects]},
    )


def test_staff_deactivate_a_user_and_their_sessions_end(staff_client, member, customer):
    """U4, U6, S5: inactive at once — the person's next request is signed out; recorded
    for staff only (no customer on the event)."""
    member_client = sign_in(Client(), member)
    assert member_client.get(customer.get_absolute_url()).status_code == 200
    action(staff_client, "user", "deactivate", [member])
    member.refresh_from_db()
    assert member.status == User.Status.INACTIVE and not member.is_active
    assert reverse("accounts:login") in member_client.get(customer.get_absolute_url())["Location"]
    assert not UserSession.objects.filter(user=member).exists()
    event = AuditEvent.objects.get(action="user.deactivated")
    assert event.customer is None
    # U4: the membership (and with it the person's tickets' organisation) stays.
    assert Membership.objects.filter(user=member, customer=customer).exists()


def test_staff_verify_unverified_users_only(staff_client):
    """U6: verify turns unverified into active; an inactive user stays inactive."""
    unverified = UserFactory(unverified=True)
    inactive = UserFactory(inactive=True)
    action(staff_client, "user", "verify", [unverified, inactive])
    unverified.refresh_from_db()
    inactive.refresh_from_db()
    assert unverified.status == User.Status.ACTIVE
    assert inactive.status == User.Status.INACTIVE


def test_staff_create_a_login_and_the_person_chooses_a_password(
    staff_client, django_capture_on_commit_callbacks
):
    """U5: a staff-created login has no password; the person gets a set-password link."""
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:accounts_user_add"),
            {"email": "New@Example.com", "first_name": "Nel", "last_name": "New", "language": "de"},
        )
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert not user.has_usable_password() and user.status == User.Status.ACTIVE
    [message] = mail.outbox
    assert message.to == ["new@example.com"]
    assert re.search(r"/password/set/[^/]+/[^/]+/", message.body)


def test_staff_create_a_customer_for_a_newcomer(staff_client, django_capture_on_commit_callbacks):
    """U5, seed 000: company, name, address, phone and e-mail give a customer number and a
    login that owns it; the person gets a set-password mail."""
    page = staff_client.get(reverse("admin:accounts_customer_changelist"))
    assert reverse("admin:accounts_customer_newcomer").encode() in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse("admin:accounts_customer_newcomer"), NEWCOMER)
    assert response.status_code == 302
    customer = Customer.objects.get(name="Delta Agentur GmbH")
    assert customer.address_lines() == ["Hauptstraße 1", "10115 Berlin", "Germany"]
    assert customer.phone == "+49 30 1234567" and customer.email == "dora@delta.example"
    user = User.objects.get(email="dora@delta.example")
    assert (user.first_name, user.last_name) == ("Dora", "Delta")
    assert Membership.objects.get(user=user, customer=customer).is_owner
    assert not user.has_usable_password()
    assert {tuple(m.to) for m in mail.outbox} == {("dora@delta.example",)}
    assert any("/password/set/" in m.body for m in mail.outbox)
    # K3, K11: the person is the new customer's standard and primary contact; their
    # address counts once they confirm it (K4: the other mail).
    contact = Contact.objects.get(customer=customer)
    assert contact.is_standard and contact.is_primary and contact.is_authorised
    assert contact.name == "Dora Delta" and contact.pending_email == "dora@delta.example"
    assert AuditEvent.objects.filter(
        action="customer.created_for_newcomer", customer=customer
    ).exists()


def test_a_newcomer_who_has_a_login_keeps_it(owner, staff_user):
    """U5: an address with a login gets the new customer, and no password mail."""
    result = services.customer_create_for_newcomer(
        **{**NEWCOMER, "email": owner.email}, created_by=staff_user
    )
    assert result.user == owner and not result.login_created
    assert Membership.objects.get(user=owner, customer=result.customer).is_owner
    assert owner.has_usable_password()


def test_the_newcomer_page_is_for_staff_only(client_for, owner):
    response = client_for(owner).get(reverse("admin:accounts_customer_newcomer"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_staff_handle_a_has_left_request(staff_client, customer):
    """U4: one action sets the person inactive and closes the request."""
    staff_request = StaffRequestFactory(customer=customer)
    action(staff_client, "staffrequest", "deactivate_and_close", [staff_request])
    staff_request.refresh_from_db()
    staff_request.user.refresh_from_db()
    assert staff_request.state == StaffRequest.State.DONE
    assert staff_request.handled_by is not None
    assert staff_request.user.status == User.Status.INACTIVE


def test_changing_the_status_in_the_user_form_ends_sessions_too(staff_client, member, customer):
    """U6, S5: setting the status in the user's admin page goes through the same service."""
    member_client = sign_in(Client(), member)
    response = staff_client.post(
        reverse("admin:accounts_user_change", args=[member.pk]),
        {
            "email": member.email,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "language": "en",
            "status": "inactive",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    member.refresh_from_db()
    assert member.status == User.Status.INACTIVE
    assert reverse("accounts:login") in member_client.get(customer.get_absolute_url())["Location"]
    assert AuditEvent.objects.filter(action="user.deactivated", customer=None).exists()


def test_the_admin_pages_render(staff_client, owner, customer, sub_customer):
    """H4: staff's pages for users, customers, invitations, link and staff requests and
    contract data open (and never show an invitation's token hash)."""
    from billing.models import Invoice
    from tests.accounts.factories import InvitationFactory, LinkRequestFactory
    from tests.billing.factories import ContractFactory, InvoiceLineFactory

    invitation = InvitationFactory(customer=customer)
    link = LinkRequestFactory(main=sub_customer.parent, sub=customer)
    staff_request = StaffRequestFactory(customer=customer)
    invoice = InvoiceLineFactory(invoice__customer=customer).invoice
    contract = ContractFactory(customer=customer)
    pages = [
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[owner.pk]),
        reverse("admin:accounts_user_add"),
        reverse("admin:accounts_customer_change", args=[sub_customer.parent.pk]),
        reverse("admin:accounts_customer_newcomer"),
        reverse("admin:accounts_invitation_changelist"),
        reverse("admin:accounts_invitation_change", args=[invitation.pk]),
        reverse("admin:accounts_subaccountlinkrequest_change", args=[link.pk]),
        reverse("admin:accounts_staffrequest_change", args=[staff_request.pk]),
        reverse("admin:billing_invoice_change", args=[invoice.pk]),
        reverse("admin:billing_contract_change", args=[contract.pk]),
    ]
    for page in pages:
        response = staff_client.get(page)
        assert response.status_code == 200, page
        assert invitation.token_hash not in response.content.decode()
    assert Invoice.objects.count() == 1
