"""Address confirmation (K4) and its link rules (S8, S10, S11)."""

import logging
import re
from datetime import timedelta

import pytest
from django.core import mail as django_mail
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from contacts import services, tasks, tokens
from contacts.models import Category, Contact, ContactType
from contacts.selectors import customers_for_sender, recipients_for
from tests.contacts.factories import ContactFactory

pytestmark = pytest.mark.django_db
CONFIRM = reverse("contacts:email_confirm")


def _token_from_mail(message) -> str:
    return re.search(r"/contacts/confirm/#(\S+)", message.body).group(1)


@pytest.fixture
def pending_contact(customer, django_capture_on_commit_callbacks):
    """A contact just added with an address, and the token from the mail sent to it."""
    ContactFactory(customer=customer, primary=True, email="first@x.example")
    with django_capture_on_commit_callbacks(execute=True):
        contact = services.contact_create(
            customer=customer,
            actor=None,
            name="Pat",
            email="pat@x.example",
            types=[ContactType.TECHNICAL],
        )
    token = _token_from_mail(django_mail.outbox[-1])
    return contact, token


def confirm(token, client=None):
    return (client or Client()).post(CONFIRM, {"token": token})


def test_k4_round_trip_confirms_the_address(pending_contact, customer):
    """K4: once confirmed, the address is used (routing, K9)."""
    contact, token = pending_contact
    assert recipients_for(customer, Category.SECURITY) == [customer.email]
    response = confirm(token)
    assert response.status_code == 200
    assert b"pat@x.example is now confirmed" in response.content
    contact.refresh_from_db()
    assert contact.email == "pat@x.example" and contact.pending_email == ""
    assert contact.email_confirmed_at is not None
    assert recipients_for(customer, Category.SECURITY) == ["pat@x.example"]
    assert customers_for_sender("pat@x.example") == [customer]
    assert AuditEvent.objects.filter(action="contact.email_confirmed").exists()


def test_s10_get_never_changes_state(pending_contact):
    """S10: mail scanners prefetch links; the GET shows a form and changes nothing."""
    contact, token = pending_contact
    client = Client()
    response = client.get(CONFIRM + "?token=" + token)
    assert response.status_code == 200
    assert b'method="post"' in response.content
    contact.refresh_from_db()
    assert contact.email == ""


def test_s10_link_is_single_use(pending_contact):
    contact, token = pending_contact
    assert confirm(token).status_code == 200
    assert confirm(token).status_code == 400


def test_s10_link_expires_after_seven_days(pending_contact):
    """K4, S10: checked when used, whether or not the clearing job ran."""
    contact, token = pending_contact
    Contact.objects.filter(pk=contact.pk).update(
        pending_requested_at=timezone.now() - timedelta(days=7, seconds=1)
    )
    assert confirm(token).status_code == 400
    contact.refresh_from_db()
    assert contact.email == ""


def test_s10_signature_older_than_seven_days_is_refused(pending_contact, monkeypatch):
    contact, token = pending_contact
    later = timezone.now() + timedelta(days=7, minutes=1)
    monkeypatch.setattr("time.time", lambda: later.timestamp())
    assert tokens.read(token) is None


def test_s10_link_is_void_once_the_address_changes(
    pending_contact, customer, owner, django_capture_on_commit_callbacks
):
    contact, old_token = pending_contact
    with django_capture_on_commit_callbacks(execute=True):
        services.contact_update(contact=contact, actor=owner, email="other@x.example")
    new_token = _token_from_mail(django_mail.outbox[-1])
    assert confirm(old_token).status_code == 400
    assert confirm(new_token).status_code == 200
    contact.refresh_from_db()
    assert contact.email == "other@x.example"


def test_s10_cancelled_or_archived_pending_address_cannot_be_confirmed(pending_contact, owner):
    contact, token = pending_contact
    services.contact_pending_cancel(contact=contact, actor=owner)
    assert confirm(token).status_code == 400


def test_s10_signing_salt_is_per_purpose(pending_contact):
    """S10: the same content signed for another purpose is refused."""
    contact, token = pending_contact
    data = signing.TimestampSigner(salt=tokens.SALT).unsign_object(token)
    forged = signing.TimestampSigner(salt="accounts.invitation").sign_object(data)
    assert confirm(forged).status_code == 400
    unsalted = signing.TimestampSigner().sign_object(data)
    assert confirm(unsalted).status_code == 400


def test_s8_every_failure_looks_the_same(pending_contact):
    """S8: unknown, tampered, used — one answer."""
    contact, token = pending_contact
    answers = [
        confirm("nonsense").content,
        confirm(token[:-2] + "xx").content,
        confirm("").content,
    ]
    confirm(token)
    answers.append(confirm(token).content)

    def strip(body):
        return re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)

    assert len({strip(a) for a in answers}) == 1


def test_s8_wrong_tokens_are_limited_per_ip(pending_contact, settings):
    settings.WRONG_KEY_LIMIT = "3/h"
    contact, token = pending_contact
    for _i in range(3):
        assert confirm("wrong").status_code == 400
    response = confirm(token)
    assert response.status_code == 429
    contact.refresh_from_db()
    assert contact.email == ""
    other_ip = Client(REMOTE_ADDR="192.0.2.99")
    assert confirm(token, other_ip).status_code == 200


def test_s11_token_page_headers(pending_contact):
    """S11: Referrer-Policy same-origin, not cached, no third-party assets."""
    contact, token = pending_contact
    for response in (Client().get(CONFIRM), confirm("wrong"), confirm(token)):
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cache-Control"] == "no-store"
        assert not re.search(rb'(src|href)="(https?:)?//', response.content)


def test_s11_token_is_in_the_fragment_and_never_logged(pending_contact, caplog):
    """S11: the mailed link carries the token after '#', which browsers never send; a
    failed attempt logs nothing that contains it, nor does the audit trail."""
    contact, token = pending_contact
    link = re.search(r"https?://\S+", django_mail.outbox[-1].body).group(0)
    assert link.split("#", 1)[1] == token and token not in link.split("#", 1)[0]
    with caplog.at_level(logging.DEBUG):
        confirm(token + "x")
        confirm(token)
    assert token not in caplog.text
    for event in AuditEvent.objects.all():
        assert token not in event.summary and token not in str(event.data)
    from portal.models import OutgoingMail

    assert OutgoingMail.objects.filter(kind="contact_email_confirm").exists()


def test_k4_job_clears_expired_pending_addresses(customer):
    fresh = ContactFactory(customer=customer, pending=True)
    late = ContactFactory(customer=customer, expired=True)
    assert tasks.clear_expired_pending_addresses() == 1
    assert tasks.clear_expired_pending_addresses() == 0  # idempotent (S26)
    fresh.refresh_from_db()
    late.refresh_from_db()
    assert fresh.pending_email and not late.pending_email and not late.pending_requested_at
