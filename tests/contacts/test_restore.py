"""Deleted contacts are archived, never removed; they can be listed and restored (K1,
K10, K11; nothing a customer depends on is hard-deleted)."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from contacts import selectors
from contacts.models import Category
from tests.contacts.factories import ContactFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def url(name, customer, **kwargs):
    return reverse(f"contacts:{name}", kwargs={"customer": customer.number, **kwargs})


def as_(user) -> Client:
    """A client of its own for each person (one test client signs in one person)."""
    return sign_in(Client(), user)


def archived(customer, **fields):
    return ContactFactory(customer=customer, archived_at=timezone.now(), **fields)


def test_k1_deleted_contact_is_listed_and_restored_as_it_was(
    client_for, owner, customer, standard_contact
):
    """K1: a contact deleted by mistake comes back with its types and confirmed address,
    gets mail again (K5), and the audit trail says who restored it; it does not take the
    primary mark back (K11)."""
    gone = archived(customer, name="Bernd Billing", email="bernd@alice.example", accounting=True)
    client = client_for(owner)
    page = client.get(url("contact_archived", customer)).content.decode()
    assert "Bernd Billing" in page and "bernd@alice.example" in page
    assert "bernd@alice.example" not in selectors.recipients_for(customer, Category.INVOICES)

    response = client.post(url("contact_restore", customer, contact=gone.pk))
    assert response.status_code == 302 and response["Location"] == url("contact_list", customer)
    gone.refresh_from_db()
    assert not gone.is_archived and gone.is_accounting and not gone.is_primary
    assert gone.email == "bernd@alice.example" and gone.email_confirmed_at is not None
    assert selectors.recipients_for(customer, Category.INVOICES) == ["bernd@alice.example"]
    event = AuditEvent.objects.get(action="contact.restored")
    assert event.actor == owner and event.data["contact_id"] == gone.pk
    assert "Bernd Billing" in client.get(url("contact_list", customer)).content.decode()
    assert "No deleted contacts." in client.get(url("contact_archived", customer)).content.decode()


def test_k10_authorised_contact_is_restored_only_by_an_authorised_person(
    customer, contacts_manager, owner, standard_contact
):
    """K10: restoring an authorised contact names an authorised person anew: someone who
    may only manage contacts is refused, with the reason on the page; the owner may."""
    boss = archived(customer, name="Dora Director", is_authorised=True)
    client = as_(contacts_manager)
    assert (
        "Only authorised people can restore it."
        in client.get(url("contact_archived", customer)).content.decode()
    )
    response = client.post(url("contact_restore", customer, contact=boss.pk), follow=True)
    assert "Only authorised people can restore an authorised contact" in response.content.decode()
    boss.refresh_from_db()
    assert boss.is_archived
    assert AuditEvent.objects.filter(action="contact.refused", data__attempted="restore").exists()

    assert as_(owner).post(url("contact_restore", customer, contact=boss.pk)).status_code == 302
    boss.refresh_from_db()
    assert not boss.is_archived and boss.is_authorised


def test_s1_s2_restore_is_for_this_customers_contact_managers_only(
    customer, other_customer, owner, outsider, member, standard_contact
):
    """S1: another tenant's deleted contact is a 404, and so is an active one; U3: without
    "manage contacts" 403; GET is not allowed (CSRF-protected POST only)."""
    mine = archived(customer)
    theirs = archived(other_customer)
    active = ContactFactory(customer=customer)
    assert as_(outsider).post(url("contact_restore", customer, contact=mine.pk)).status_code == 404
    assert as_(owner).post(url("contact_restore", customer, contact=theirs.pk)).status_code == 404
    assert as_(owner).post(url("contact_restore", customer, contact=active.pk)).status_code == 404
    assert as_(member).post(url("contact_restore", customer, contact=mine.pk)).status_code == 403
    assert as_(member).get(url("contact_archived", customer)).status_code == 403
    assert as_(owner).get(url("contact_restore", customer, contact=mine.pk)).status_code == 405
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.is_archived and theirs.is_archived


def test_deleted_contacts_page_queries_do_not_grow(
    client_for, owner, customer, standard_contact, django_assert_num_queries
):
    """A fixed number of queries at 2 and at 30 deleted contacts (paginated)."""
    client = client_for(owner)
    for _n in range(2):
        archived(customer)
    client.get(url("contact_archived", customer))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(url("contact_archived", customer))
    for _n in range(28):
        archived(customer)
    with django_assert_num_queries(len(small)):
        client.get(url("contact_archived", customer))
