"""Mail out of the helpdesk: staff replies and status changes to the requester and copied
addresses with the ticket number and Message-ID threading (H3, S21, S23, U4, D5, K5)."""

import pytest
from django.core import mail

from accounts.models import User
from helpdesk import notifications, services
from helpdesk.models import Ticket
from tests.contacts.factories import ContactFactory
from tests.helpdesk.factories import ParticipantFactory, TicketFactory

pytestmark = pytest.mark.django_db


def test_staff_reply_goes_to_requester_and_copied_with_threading(
    ticket, staff_user, django_capture_on_commit_callbacks
):
    """H3: staff replies are mailed to the requester and copied addresses, with the ticket
    number in the subject and Message-ID/In-Reply-To/References threading."""
    ParticipantFactory(ticket=ticket, email="cc@alice.example")
    first = ticket.messages.get()
    first.message_id = "abc@client.example"
    first.save()
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.staff_reply(ticket=ticket, staff=staff_user, body="Done: PHP 8.3 is on.")
    (sent,) = mail.outbox
    assert sent.to == [ticket.requester_email]
    assert sent.cc == ["cc@alice.example"]
    assert sent.subject == f"[#{ticket.display_number}] {ticket.subject}"
    assert "Done: PHP 8.3 is on." in sent.body
    headers = sent.extra_headers
    assert headers["Message-ID"] == f"<{reply.message_id}>"
    assert headers["In-Reply-To"] == "<abc@client.example>"
    assert headers["References"] == "<abc@client.example>"
    assert headers["Reply-To"] == "support@provider.example"
    assert "Auto-Submitted" not in headers  # written by a person
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING


def test_second_reply_references_the_whole_thread(
    ticket, staff_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        one = services.staff_reply(ticket=ticket, staff=staff_user, body="one")
        two = services.staff_reply(ticket=ticket, staff=staff_user, body="two")
    headers = mail.outbox[1].extra_headers
    assert headers["In-Reply-To"] == f"<{one.message_id}>"
    assert f"<{two.message_id}>" == headers["Message-ID"]


def test_status_change_is_mailed_and_marked_automatic(
    ticket, staff_user, django_capture_on_commit_callbacks
):
    """H3, S21: status changes are mailed; automatic mail carries Auto-Submitted."""
    with django_capture_on_commit_callbacks(execute=True):
        assert services.ticket_status_set(
            ticket=ticket, status=Ticket.Status.CLOSED, actor=staff_user
        )
        assert not services.ticket_status_set(
            ticket=ticket, status=Ticket.Status.CLOSED, actor=staff_user
        )
    (sent,) = mail.outbox
    assert sent.to == [ticket.requester_email]
    assert f"[#{ticket.display_number}]" in sent.subject
    assert "closed" in sent.subject
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert notifications.parse_our_message_id(sent.extra_headers["Message-ID"].strip("<>"))


def test_requester_who_left_is_not_written_to_organisation_is(
    customer, staff_user, django_capture_on_commit_callbacks
):
    """U4, K5: when the requester left and nobody is copied, the organisation's support
    recipients (routing function) get the reply instead."""
    ContactFactory(customer=customer, email="office@alice.example")
    ticket = TicketFactory(customer=customer)
    User.objects.filter(pk=ticket.requester_id).update(status=User.Status.INACTIVE)
    ticket.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_reply(ticket=ticket, staff=staff_user, body="Answer")
    assert mail.outbox[0].to == ["office@alice.example"]


def test_no_mail_to_automated_addresses(customer, staff_user, django_capture_on_commit_callbacks):
    """S21: we never write to no-reply or mailer-daemon addresses, nor to ourselves."""
    ticket = TicketFactory(
        customer=customer, requester=None, requester_email="noreply@shop.example"
    )
    ParticipantFactory(ticket=ticket, email="support@provider.example")
    ParticipantFactory(ticket=ticket, email="real@alice.example")
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_reply(ticket=ticket, staff=staff_user, body="Answer")
    (sent,) = mail.outbox
    assert sent.recipients() == ["real@alice.example"]


def test_subject_with_crlf_cannot_inject(customer, staff_user, django_capture_on_commit_callbacks):
    """S23: a subject is stored on one line; the mail's headers stay as we made them."""
    ticket = services.ticket_create(
        customer=customer,
        subject="Hi\r\nBcc: victim@evil.example",
        body="x",
        source=Ticket.Source.WEB,
        requester_email="a@alice.example",
    )
    assert ticket.subject == "Hi Bcc: victim@evil.example"
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_reply(ticket=ticket, staff=staff_user, body="Answer")
    (sent,) = mail.outbox
    assert sent.recipients() == ["a@alice.example"]
    assert b"\nBcc:" not in sent.message().as_bytes().split(b"\n\n", 1)[0]


def test_internal_note_is_never_mailed(ticket, staff_user, django_capture_on_commit_callbacks):
    """H4: internal notes are not mailed to anyone."""
    with django_capture_on_commit_callbacks(execute=True):
        services.note_add(ticket=ticket, staff=staff_user, body="secret")
    assert mail.outbox == []
