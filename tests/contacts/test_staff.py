"""Staff in the admin: registered-contact look-up and phone password check (K8), register
extracts (K12), and the jobs that end authorisations."""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from contacts import selectors, services, tasks
from contacts.models import Contact, RegisterExtract
from tests.contacts.factories import ContactFactory, RegisterExtractFactory
from tests.factories import MembershipFactory, TOTPDeviceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client_for, staff_user):
    return client_for(staff_user, TOTPDeviceFactory(user=staff_user))


@pytest.fixture
def caller(customer):
    contact = ContactFactory(
        customer=customer,
        name="Tom Technik",
        technical=True,
        phone="+49 30 1234567",
        phone_digits="49301234567",
        restrictions="server reboots only",
    )
    services.contact_phone_password_set(contact=contact, password="blue-whale-42", actor=None)
    contact.refresh_from_db()
    return contact


def check_url(contact):
    return reverse("admin:contacts_contact_phone_check", args=[contact.pk])


# --- K8 phone password --------------------------------------------------------------------


def test_k8_phone_password_is_stored_only_as_a_hash(caller):
    assert caller.phone_password_hash.startswith("md5$") or "$" in caller.phone_password_hash
    assert "blue-whale-42" not in caller.phone_password_hash
    assert Contact.objects.filter(phone_password_hash__contains="blue-whale").count() == 0


def test_k8_customer_sets_and_clears_phone_password(client_for, owner, customer, caller):
    client = client_for(owner)
    target = reverse(
        "contacts:contact_phone_password",
        kwargs={"customer": customer.number, "contact": caller.pk},
    )
    page = client.get(target)
    assert page.status_code == 200 and b"A phone password is set" in page.content
    assert b"blue-whale" not in page.content
    response = client.post(target, {"password": "new-secret-7", "password2": "new-secret-7"})
    assert response.status_code == 302
    caller.refresh_from_db()
    from django.contrib.auth.hashers import check_password

    assert check_password("new-secret-7", caller.phone_password_hash)
    client.post(target, {"clear": "1"})
    caller.refresh_from_db()
    assert caller.phone_password_hash == ""
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"contact.phone_password_changed", "contact.phone_password_cleared"} <= actions
    for event in AuditEvent.objects.all():
        assert "new-secret" not in str(event.data) + event.summary


def test_k8_mismatched_phone_passwords_are_refused(client_for, owner, customer, caller):
    old = caller.phone_password_hash
    target = reverse(
        "contacts:contact_phone_password",
        kwargs={"customer": customer.number, "contact": caller.pk},
    )
    response = client_for(owner).post(target, {"password": "abcdefg", "password2": "abcdefh"})
    assert response.status_code == 200 and b"differ" in response.content
    caller.refresh_from_db()
    assert caller.phone_password_hash == old


def test_k8_staff_check_says_yes_with_restrictions_never_the_password(staff_client, caller):
    page = staff_client.get(check_url(caller))
    assert page.status_code == 200
    assert b"server reboots only" in page.content
    response = staff_client.post(check_url(caller), {"answer": "blue-whale-42"})
    body = response.content.decode()
    assert "YES" in body and "server reboots only" in body
    assert "blue-whale-42" not in body and caller.phone_password_hash not in body
    assert AuditEvent.objects.filter(action="contact.phone_password_ok").exists()


def test_k8_staff_check_says_no_and_records_the_try(staff_client, caller):
    body = staff_client.post(check_url(caller), {"answer": "red-whale"}).content.decode()
    assert "NO" in body and "4 tries left" in body and "red-whale" not in body
    event = AuditEvent.objects.get(action="contact.phone_password_wrong")
    assert event.customer == caller.customer and "red-whale" not in str(event.data)


def test_k8_wrong_tries_are_limited(staff_user, caller):
    for _i in range(services.PHONE_PASSWORD_TRIES):
        assert services.phone_password_check(
            contact=caller, answer="x", staff=staff_user
        ).result == ("no_match")
    # Even the right answer is not checked now: the contact is paused for the hour.
    result = services.phone_password_check(contact=caller, answer="blue-whale-42", staff=staff_user)
    assert result.result == "locked" and result.restrictions == "server reboots only"
    assert AuditEvent.objects.filter(action="contact.phone_password_locked").count() == 1
    # Two hours later (the audit trail is append-only, S27: move the clock, not the rows).
    later = timezone.now() + timedelta(hours=2)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert services.phone_password_check(
            contact=caller, answer="blue-whale-42", staff=staff_user
        ).matches


def test_k8_contact_without_phone_password(staff_user, customer):
    contact = ContactFactory(customer=customer)
    assert services.phone_password_check(contact=contact, answer="", staff=staff_user).result == (
        "none_set"
    )


def test_k8_admin_pages_are_for_staff_only(client_for, owner, caller):
    response = client_for(owner).get(check_url(caller))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    response = client_for(owner).get(reverse("admin:contacts_contact_lookup"))
    assert response.status_code == 302


def test_k8_staff_lookup_by_number_or_address(staff_client, caller, other_customer):
    ContactFactory(customer=other_customer, name="Dora Domain", domain=True, email="dns@x.example")
    lookup = reverse("admin:contacts_contact_lookup")
    body = staff_client.get(lookup, {"phone": "030 1234567"}).content.decode()
    assert "Tom Technik" in body and "server reboots only" in body
    assert "Yes: 1 registered contact matches" in body
    body = staff_client.get(lookup, {"email": "dns@x.example"}).content.decode()
    assert "Dora Domain" in body and "domain contact: no requests" in body
    body = staff_client.get(lookup, {"email": "nobody@x.example"}).content.decode()
    assert "not a registered contact" in body


def test_k8_admin_never_shows_the_hash(staff_client, caller):
    page = staff_client.get(reverse("admin:contacts_contact_change", args=[caller.pk]))
    assert page.status_code == 200
    assert caller.phone_password_hash.encode() not in page.content


def test_k8_delegate_never_sees_phone_passwords(client_for, delegate, customer, grant, caller):
    """D4: the contacts pages are not reachable through a grant at all."""
    target = reverse(
        "contacts:contact_phone_password",
        kwargs={"customer": customer.number, "contact": caller.pk},
    )
    assert client_for(delegate).get(target).status_code == 404


# --- K12 register extracts -------------------------------------------------------------


def test_k12_upload_when_no_authorised_contact_left(client_for, contacts_manager, customer):
    ContactFactory(customer=customer, primary=True)
    target = reverse("contacts:register_extract_create", kwargs={"customer": customer.number})
    upload = SimpleUploadedFile("extract.pdf", b"%PDF-1.7 extract", content_type="text/html")
    response = client_for(contacts_manager).post(
        target,
        {"file": upload, "person_name": "Greta Vogel", "person_email": "greta@x.example"},
    )
    assert response.status_code == 302
    extract = RegisterExtract.objects.get()
    assert extract.content_type == "application/pdf"  # from the content (S24)
    assert "extract" not in extract.file.name.rsplit("/", 1)[1]  # random stored name
    assert AuditEvent.objects.filter(action="contact.register_extract_uploaded").exists()


def test_k12_upload_refuses_other_file_types(client_for, contacts_manager, customer):
    ContactFactory(customer=customer, primary=True)
    target = reverse("contacts:register_extract_create", kwargs={"customer": customer.number})
    upload = SimpleUploadedFile("x.pdf", b"<html><script>", content_type="application/pdf")
    response = client_for(contacts_manager).post(
        target, {"file": upload, "person_name": "G", "person_email": "g@x.example"}
    )
    assert response.status_code == 200 and b"PDF, PNG or JPEG" in response.content
    assert not RegisterExtract.objects.exists()


def test_k12_no_upload_while_an_authorised_contact_exists(client_for, contacts_manager, customer):
    ContactFactory(customer=customer, primary=True, authorised=True)
    target = reverse("contacts:register_extract_create", kwargs={"customer": customer.number})
    upload = SimpleUploadedFile("x.pdf", b"%PDF-1.7", content_type="application/pdf")
    client_for(contacts_manager).post(
        target, {"file": upload, "person_name": "G", "person_email": "g@x.example"}
    )
    assert not RegisterExtract.objects.exists()


def test_k12_staff_verify_makes_person_authorised_for_a_time_which_ends_by_itself(
    staff_client, customer, django_capture_on_commit_callbacks
):
    ContactFactory(customer=customer, primary=True)
    extract = RegisterExtractFactory(customer=customer, person_email="greta@x.example")
    verify = reverse("admin:contacts_registerextract_verify", args=[extract.pk])
    assert staff_client.get(verify).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(verify, {"days": "14"})
    assert response.status_code == 302
    extract.refresh_from_db()
    contact = extract.contact
    assert extract.state == RegisterExtract.State.VERIFIED
    assert contact.is_authorised and contact.is_signatory
    assert contact.pending_email == "greta@x.example"  # still to be confirmed (K4)
    until = contact.authorised_until
    assert timedelta(days=13) < until - timezone.now() <= timedelta(days=14)
    # Once confirmed, a user with that address is authorised (K10) — until the end.
    Contact.objects.filter(pk=contact.pk).update(email="greta@x.example", pending_email="")
    user = MembershipFactory(customer=customer, user__email="greta@x.example").user
    assert selectors.is_authorised_user(user, customer)
    assert not selectors.is_authorised_user(user, customer, at=until + timedelta(seconds=1))
    # The job marks it ended and records it, once.
    assert services.authorisations_end_expired(now=until + timedelta(seconds=1)) == 1
    assert services.authorisations_end_expired(now=until + timedelta(seconds=1)) == 0
    contact.refresh_from_db()
    assert not contact.is_authorised
    assert AuditEvent.objects.filter(action="contact.authorisation_ended").count() == 1


def test_k12_verify_uses_an_existing_contact_with_that_address(staff_user, customer):
    existing = ContactFactory(customer=customer, primary=True, email="greta@x.example")
    extract = RegisterExtractFactory(customer=customer, person_email="greta@x.example")
    contact = services.register_extract_verify(extract=extract, staff=staff_user, days=7)
    assert contact == existing
    assert Contact.objects.count() == 1
    with pytest.raises(services.ContactRuleError):
        services.register_extract_verify(extract=extract, staff=staff_user)


def test_k12_reject(staff_client, customer):
    extract = RegisterExtractFactory(customer=customer)
    verify = reverse("admin:contacts_registerextract_verify", args=[extract.pk])
    staff_client.post(verify, {"reject": "1", "note": "outdated"})
    extract.refresh_from_db()
    assert extract.state == RegisterExtract.State.REJECTED and extract.contact is None


def test_s24_extract_download_is_an_attachment_with_nosniff(staff_client, customer):
    extract = RegisterExtractFactory(customer=customer)
    response = staff_client.get(
        reverse("admin:contacts_registerextract_download", args=[extract.pk])
    )
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")


def test_k12_end_authorisations_task(customer):
    ContactFactory(
        customer=customer, authorised=True, authorised_until=timezone.now() - timedelta(minutes=1)
    )
    ContactFactory(customer=customer, authorised=True)
    assert tasks.end_expired_authorisations() == 1
    assert Contact.objects.filter(is_authorised=True).count() == 1


# --- sign-up (K10, K11) ----------------------------------------------------------------


def test_k10_k11_new_customer_contacts_are_authorised_and_technical_is_primary(customer):
    commercial, technical = services.contacts_for_new_customer(
        customer=customer,
        commercial={"name": "Clara Commerce", "email": "clara@x.example"},
        technical={"name": "Theo Tech", "email": "theo@x.example"},
        confirmed=True,
    )
    assert commercial.is_standard and commercial.is_authorised and not commercial.is_primary
    assert technical.is_technical and technical.is_authorised and technical.is_primary
    assert list(Contact.objects.filter(is_primary=True)) == [technical]
