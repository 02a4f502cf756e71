"""Contacts pages: access (S1, S2), K2–K4, K7, K10, K11, audit (S27), query counts."""

import re

import pytest
from django.core import mail as django_mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from contacts.models import Contact
from tests.contacts.factories import ContactFactory
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def url(name, customer, **kwargs):
    return reverse(f"contacts:{name}", kwargs={"customer": customer.number, **kwargs})


def contact_urls(customer, contact):
    """Every contacts page of a customer, with the method it answers."""
    return [
        ("get", url("contact_list", customer)),
        ("get", url("contact_create", customer)),
        ("get", url("contact_update", customer, contact=contact.pk)),
        ("get", url("contact_delete", customer, contact=contact.pk)),
        ("post", url("contact_primary", customer, contact=contact.pk)),
        ("post", url("contact_pending_cancel", customer, contact=contact.pk)),
        ("post", url("contact_pending_resend", customer, contact=contact.pk)),
        ("get", url("contact_phone_password", customer, contact=contact.pk)),
        ("post", url("contact_settings", customer)),
        ("get", url("register_extract_create", customer)),
    ]


FORM = {
    "name": "Jonas Keller",
    "email": "jonas@new.example",
    "phone": "+49 30 1234567",
    "language": "de",
    "types": ["standard", "technical"],
    "notifications": ["notify_invoices", "notify_support", "notify_security"],
    "restrictions": "server reboots only",
}


def form_for(contact, **changes):
    from contacts.forms import initial_for

    data = {k: v for k, v in initial_for(contact).items() if v not in (False, None)}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- access ---------------------------------------------------------------------------


def test_s2_anonymous_is_sent_to_login(customer, standard_contact):
    for method, target in contact_urls(customer, standard_contact):
        response = getattr(Client(), method)(target)
        assert response.status_code == 302, target
        assert reverse("accounts:login") in response["Location"]


def test_s1_other_tenant_gets_404(client_for, outsider, customer, standard_contact):
    client = client_for(outsider)
    for method, target in contact_urls(customer, standard_contact):
        assert getattr(client, method)(target).status_code == 404, target


def test_s1_contact_of_another_customer_under_own_path_is_404(
    client_for, owner, customer, other_customer
):
    """S1: an object id of another tenant under one's own customer path is a 404."""
    foreign = ContactFactory(customer=other_customer)
    client = client_for(owner)
    for method, target in contact_urls(customer, foreign)[2:8]:
        assert getattr(client, method)(target).status_code == 404, target
    foreign.refresh_from_db()
    assert not foreign.is_archived


def test_member_without_manage_contacts_gets_403(client_for, member, customer, standard_contact):
    client = client_for(member)
    for method, target in contact_urls(customer, standard_contact):
        assert getattr(client, method)(target).status_code == 403, target


def test_delegate_has_no_contacts_access(client_for, delegate, customer, grant, standard_contact):
    """D4: a delegate never reaches the grantor's contacts."""
    assert client_for(delegate).get(url("contact_list", customer)).status_code == 404


def test_main_account_user_manages_sub_account_contacts(client_for, main_user, sub_customer):
    """C3: from the main account's login."""
    ContactFactory(customer=sub_customer, name="Sub Person")
    response = client_for(main_user).get(url("contact_list", sub_customer))
    assert response.status_code == 200
    assert b"Sub Person" in response.content


def test_changes_need_post(client_for, owner, customer, standard_contact):
    client = client_for(owner)
    for name in ("contact_primary", "contact_pending_cancel", "contact_pending_resend"):
        assert client.get(url(name, customer, contact=standard_contact.pk)).status_code == 405


# --- list -----------------------------------------------------------------------------


def test_list_shows_contacts_types_and_pending_beside_current(client_for, owner, customer):
    """K2, K4: several types per contact; a pending address beside the current one."""
    ContactFactory(customer=customer, name="Anna", is_technical=True, primary=True)
    ContactFactory(
        customer=customer,
        name="Bea",
        email="bea@old.example",
        pending_email="bea@new.example",
        pending_requested_at=timezone.now(),
    )
    ContactFactory(customer=customer, name="Gone", archived=True)
    ContactFactory(name="Stranger")
    response = client_for(owner).get(url("contact_list", customer))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Anna" in body and "standard, technical" in body
    assert "bea@old.example" in body and "bea@new.example" in body
    assert "pending" in body
    assert "Gone" not in body and "Stranger" not in body


def test_expired_pending_address_is_not_shown(client_for, owner, customer):
    """K4: expiry is checked on read, whatever the job did."""
    contact = ContactFactory(customer=customer, name="Late", expired=True)
    response = client_for(owner).get(url("contact_list", customer))
    assert contact.pending_email.encode() not in response.content
    assert b"waiting for confirmation" not in response.content


def test_list_query_count_is_the_same_at_two_sizes(client_for, owner, customer):
    client = client_for(owner)
    ContactFactory.create_batch(2, customer=customer, pending=True)
    client.get(url("contact_list", customer))
    with CaptureQueriesContext(connection) as small:
        assert client.get(url("contact_list", customer)).status_code == 200
    ContactFactory.create_batch(20, customer=customer, pending=True, is_technical=True)
    ContactFactory.create_batch(3, customer=customer, accounting=True)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url("contact_list", customer)).status_code == 200
    assert len(small) == len(large), [q["sql"] for q in large]


# --- add --------------------------------------------------------------------------------


def test_k4_add_contact_mails_a_link_and_keeps_address_pending(
    client_for, contacts_manager, customer, standard_contact, django_capture_on_commit_callbacks
):
    """K4, S10: the address is pending until confirmed; the mail holds the link."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(contacts_manager).post(url("contact_create", customer), FORM)
    assert response.status_code == 302
    contact = Contact.objects.get(name="Jonas Keller")
    assert contact.email == ""
    assert contact.pending_email == "jonas@new.example"
    assert contact.types == ["standard", "technical"]
    assert contact.notify_invoices and not contact.notify_orders
    assert contact.phone_digits == "49301234567"
    assert not contact.is_primary  # the customer already has one (K11)
    assert len(django_mail.outbox) == 1
    message = django_mail.outbox[0]
    assert message.to == ["jonas@new.example"]
    assert re.search(r"/contacts/confirm/#\S+", message.body)
    event = AuditEvent.objects.get(action="contact.created")
    assert event.actor == contacts_manager and event.customer == customer


def test_k3_first_contact_must_be_standard(client_for, owner, customer):
    """K3: a customer without a standard contact cannot start with another type."""
    response = client_for(owner).post(
        url("contact_create", customer), {**FORM, "types": ["technical"]}
    )
    assert response.status_code == 200
    assert "always needs a standard contact" in response.content.decode()
    assert not Contact.objects.exists()


def test_k11_first_contact_becomes_primary(client_for, owner, customer):
    client_for(owner).post(url("contact_create", customer), FORM)
    assert Contact.objects.get().is_primary


def test_invalid_address_is_refused_with_a_message(client_for, owner, customer):
    response = client_for(owner).post(url("contact_create", customer), {**FORM, "email": "nope"})
    assert response.status_code == 200
    assert "error-summary" in response.content.decode()
    assert not Contact.objects.exists()


def test_k10_not_authorised_user_cannot_name_authorised_contact(
    client_for, contacts_manager, customer, standard_contact
):
    """K10: a clear message, nothing changes."""
    response = client_for(contacts_manager).post(
        url("contact_create", customer), {**FORM, "is_authorised": "on"}
    )
    assert response.status_code == 200
    assert "Only authorised people" in response.content.decode()
    assert Contact.objects.count() == 1


def test_k10_authorised_contact_user_names_authorised_contact(
    client_for, contacts_manager, customer, standard_contact
):
    """K10, H3: a user who is an authorised contact names further authorised people."""
    ContactFactory(customer=customer, email=contacts_manager.email, authorised=True)
    response = client_for(contacts_manager).post(
        url("contact_create", customer), {**FORM, "is_authorised": "on"}
    )
    assert response.status_code == 302
    assert Contact.objects.get(name="Jonas Keller").is_authorised
    assert AuditEvent.objects.filter(action="contact.created", data__authorised=True).exists()


def test_s4_posted_customer_is_ignored(client_for, owner, customer, other_customer):
    """S4: the customer comes from the path and the policy, never from the form."""
    client_for(owner).post(url("contact_create", customer), {**FORM, "customer": other_customer.pk})
    assert Contact.objects.get().customer == customer


# --- edit -------------------------------------------------------------------------------


def test_k3_last_standard_contact_cannot_lose_its_type(client_for, owner, customer):
    contact = ContactFactory(customer=customer, primary=True)
    response = client_for(owner).post(
        url("contact_update", customer, contact=contact.pk),
        form_for(contact, types=["technical"]),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "last standard contact" in body and "Add another standard contact first" in body
    contact.refresh_from_db()
    assert contact.is_standard and not contact.is_technical


def test_k3_standard_type_can_move_once_another_exists(client_for, owner, customer):
    contact = ContactFactory(customer=customer, primary=True)
    ContactFactory(customer=customer)
    response = client_for(owner).post(
        url("contact_update", customer, contact=contact.pk),
        form_for(contact, types=["technical"]),
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.types == ["technical"]


def test_k4_changed_address_is_pending_and_current_stays_in_use(
    client_for, owner, customer, django_capture_on_commit_callbacks
):
    contact = ContactFactory(customer=customer, email="old@x.example", primary=True)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post(
            url("contact_update", customer, contact=contact.pk),
            form_for(contact, email="New@X.example"),
        )
    contact.refresh_from_db()
    assert contact.email == "old@x.example"
    assert contact.pending_email == "new@x.example"
    assert [m.to for m in django_mail.outbox] == [["new@x.example"]]


def test_k4_saving_other_fields_keeps_the_pending_address(client_for, owner, customer):
    contact = ContactFactory(customer=customer, primary=True, pending=True)
    nonce = contact.pending_nonce_hash
    client_for(owner).post(
        url("contact_update", customer, contact=contact.pk), form_for(contact, name="Renamed")
    )
    contact.refresh_from_db()
    assert contact.name == "Renamed"
    assert contact.pending_email and contact.pending_nonce_hash == nonce


def test_k10_non_authorised_user_cannot_take_over_an_authorised_contact(
    client_for, contacts_manager, customer
):
    """K10: changing an authorised contact's address would make the new address authorised."""
    boss = ContactFactory(customer=customer, email="boss@x.example", authorised=True, primary=True)
    response = client_for(contacts_manager).post(
        url("contact_update", customer, contact=boss.pk),
        form_for(boss, email=contacts_manager.email),
    )
    assert response.status_code == 200
    assert "Only authorised people" in response.content.decode()
    boss.refresh_from_db()
    assert boss.pending_email == ""


def test_k10_non_authorised_user_cannot_remove_authorisation(
    client_for, contacts_manager, customer
):
    boss = ContactFactory(customer=customer, authorised=True, primary=True)
    data = form_for(boss)
    data.pop("is_authorised")
    response = client_for(contacts_manager).post(
        url("contact_update", customer, contact=boss.pk), data
    )
    assert response.status_code == 200
    boss.refresh_from_db()
    assert boss.is_authorised


def test_k7_invoice_by_mail_needs_standard_or_accounting_and_confirmed_address(
    client_for, owner, customer, standard_contact
):
    tech = ContactFactory(customer=customer, technical=True)
    pending = ContactFactory(customer=customer, unconfirmed=True)
    client = client_for(owner)
    for contact in (tech, pending):
        response = client.post(
            url("contact_update", customer, contact=contact.pk),
            form_for(contact, invoice_by_mail="on"),
        )
        assert response.status_code == 200
        assert "(K7)" in response.content.decode()
        contact.refresh_from_db()
        assert not contact.invoice_by_mail
    response = client.post(
        url("contact_update", customer, contact=standard_contact.pk),
        form_for(standard_contact, invoice_by_mail="on"),
    )
    assert response.status_code == 302
    standard_contact.refresh_from_db()
    assert standard_contact.invoice_by_mail


def test_k2_domain_contact_cannot_have_notification_types(client_for, owner, customer):
    contact = ContactFactory(customer=customer, primary=True)
    ContactFactory(customer=customer)
    response = client_for(owner).post(
        url("contact_update", customer, contact=contact.pk),
        form_for(contact, types=["domain", "technical"]),
    )
    assert response.status_code == 200
    assert "domain registration only" in response.content.decode()


def test_s27_edit_is_audited_with_changed_fields(client_for, owner, customer, standard_contact):
    client_for(owner).post(
        url("contact_update", customer, contact=standard_contact.pk),
        form_for(standard_contact, phone="+43 1 234"),
    )
    event = AuditEvent.objects.get(action="contact.changed")
    assert event.actor == owner and event.data["fields"] == ["phone"]


# --- delete -----------------------------------------------------------------------------


def test_k3_last_standard_contact_cannot_be_deleted(client_for, owner, customer):
    contact = ContactFactory(customer=customer)
    response = client_for(owner).post(url("contact_delete", customer, contact=contact.pk))
    assert response.status_code == 200
    assert "Edit this contact instead" in response.content.decode()
    contact.refresh_from_db()
    assert not contact.is_archived


def test_delete_archives_and_never_removes(client_for, owner, customer, standard_contact):
    extra = ContactFactory(customer=customer, pending=True)
    response = client_for(owner).post(url("contact_delete", customer, contact=extra.pk))
    assert response.status_code == 302
    extra.refresh_from_db()
    assert extra.is_archived and extra.pending_email == ""
    assert AuditEvent.objects.filter(action="contact.deleted", data__contact_id=extra.pk).exists()


def test_k11_primary_contact_needs_a_successor(client_for, owner, customer, standard_contact):
    other = ContactFactory(customer=customer, name="Successor")
    client = client_for(owner)
    response = client.post(url("contact_delete", customer, contact=standard_contact.pk))
    assert response.status_code == 200
    assert "Name a successor" in response.content.decode()
    standard_contact.refresh_from_db()
    assert standard_contact.is_primary and not standard_contact.is_archived
    response = client.post(
        url("contact_delete", customer, contact=standard_contact.pk), {"successor": other.pk}
    )
    assert response.status_code == 302
    other.refresh_from_db()
    standard_contact.refresh_from_db()
    assert other.is_primary and standard_contact.is_archived and not standard_contact.is_primary


def test_k11_s4_successor_of_another_customer_is_refused(
    client_for, owner, customer, other_customer, standard_contact
):
    ContactFactory(customer=customer)
    foreign = ContactFactory(customer=other_customer)
    response = client_for(owner).post(
        url("contact_delete", customer, contact=standard_contact.pk), {"successor": foreign.pk}
    )
    assert response.status_code == 200
    standard_contact.refresh_from_db()
    assert standard_contact.is_primary


def test_k11_not_authorised_user_cannot_name_successor(
    client_for, contacts_manager, customer, standard_contact
):
    other = ContactFactory(customer=customer)
    response = client_for(contacts_manager).post(
        url("contact_delete", customer, contact=standard_contact.pk), {"successor": other.pk}
    )
    assert response.status_code == 200
    assert "Only authorised people" in response.content.decode()
    standard_contact.refresh_from_db()
    assert standard_contact.is_primary and not standard_contact.is_archived


# --- primary, pending -------------------------------------------------------------------


def test_k11_authorised_person_changes_primary(client_for, owner, customer, standard_contact):
    other = ContactFactory(customer=customer, technical=True)
    response = client_for(owner).post(url("contact_primary", customer, contact=other.pk))
    assert response.status_code == 302
    assert list(Contact.objects.filter(is_primary=True)) == [other]
    assert AuditEvent.objects.filter(action="contact.primary").exists()


def test_k11_not_authorised_user_cannot_change_primary(
    client_for, contacts_manager, customer, standard_contact
):
    other = ContactFactory(customer=customer)
    client = client_for(contacts_manager)
    response = client.post(url("contact_primary", customer, contact=other.pk), follow=True)
    assert "Only authorised people can change the primary contact" in response.content.decode()
    standard_contact.refresh_from_db()
    assert standard_contact.is_primary


def test_k11_database_holds_one_primary_per_customer(customer, standard_contact):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(customer=customer, primary=True)


def test_k4_cancel_pending_address(client_for, owner, customer):
    contact = ContactFactory(customer=customer, primary=True, pending=True)
    client_for(owner).post(url("contact_pending_cancel", customer, contact=contact.pk))
    contact.refresh_from_db()
    assert contact.pending_email == "" and contact.pending_nonce_hash == ""
    assert AuditEvent.objects.filter(action="contact.pending_cancelled").exists()


def test_k4_resend_mails_a_new_link(
    client_for, owner, customer, django_capture_on_commit_callbacks
):
    contact = ContactFactory(customer=customer, primary=True, pending=True)
    old = contact.pending_nonce_hash
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post(url("contact_pending_resend", customer, contact=contact.pk))
    contact.refresh_from_db()
    assert contact.pending_nonce_hash != old
    assert django_mail.outbox[0].to == [contact.pending_email]


# --- settings (K6) ------------------------------------------------------------------------


def test_k6_customer_chooses_that_no_contact_is_named(
    client_for, owner, customer, standard_contact
):
    client = client_for(owner)
    assert b"Attn. Anna Standard" in client.get(url("contact_list", customer)).content
    client.post(url("contact_settings", customer), {})
    assert b"Attn. Anna Standard" not in client.get(url("contact_list", customer)).content
    assert AuditEvent.objects.filter(action="contact.invoice_naming").exists()


def test_manager_membership_is_authorised(client_for, customer, standard_contact):
    manager = MembershipFactory(
        customer=customer, can_manage_contacts=True, can_see_all_tickets=True
    ).user
    other = ContactFactory(customer=customer)
    client_for(manager).post(url("contact_primary", customer, contact=other.pk))
    other.refresh_from_db()
    assert other.is_primary


def test_s27_refused_change_is_audited(client_for, contacts_manager, customer, standard_contact):
    """S27: denials are in the trail too — who tried what."""
    other = ContactFactory(customer=customer)
    client_for(contacts_manager).post(url("contact_primary", customer, contact=other.pk))
    event = AuditEvent.objects.get(action="contact.refused")
    assert event.actor == contacts_manager and event.customer == customer
    assert event.data["attempted"] == "contact_make_primary"
    assert event.data["contact_id"] == other.pk


@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_k5_list_says_what_each_contact_gets_in_the_users_language(
    client_for, owner, customer, standard_contact, language
):
    """K5: the "gets now" column names the categories in the user's language (the labels
    translated once per language, not per contact)."""
    from django.utils import translation

    from contacts.models import Category
    from contacts.selectors import contacts_page_summary

    owner.language = language
    owner.save(update_fields=["language"])
    per_contact, _fallback, _authorised = contacts_page_summary(customer, [standard_contact])
    assert per_contact.get(standard_contact.pk)
    body = client_for(owner).get(url("contact_list", customer)).content.decode()
    with translation.override(language):
        expected = ", ".join(str(Category(c).label) for c in per_contact[standard_contact.pk])
    assert expected in body


@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_k6_invoice_setting_form_is_django_s_own_html_for_either_value(
    client_for, owner, customer, standard_contact, language
):
    """K6: the invoice-address setting's form (rendered once per language and value,
    portal_forms.blank_form) is the HTML Django renders for it, ticked or not as saved."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from contacts.forms import InvoiceNamingForm

    owner.language = language
    owner.save(update_fields=["language"])
    client = client_for(owner)
    for value in (True, False, True):
        saved = client.post(
            url("contact_settings", customer),
            {"list_contacts_on_invoice": "on"} if value else {},
        )
        assert saved.status_code in (200, 302)
        body = client.get(url("contact_list", customer)).content.decode()
        with translation.override(language):
            form = InvoiceNamingForm(initial={"list_contacts_on_invoice": value})
            expected = render_to_string("portal/_form.html", {"form": form})
        assert expected in body
        assert ("checked" in expected) is value
