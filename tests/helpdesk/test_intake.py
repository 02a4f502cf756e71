"""The mail intake service: tickets and replies by mail (H2), senders (K9, U6) and the
mail safety rules (S19–S23, S25)."""

import io
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from django.core import mail as outbox
from django.core.management import call_command

from accounts.models import User
from helpdesk import intake, notifications, services
from helpdesk.models import InboundMail, Message, Participant, Ticket
from tests.contacts.factories import ContactFactory
from tests.factories import MembershipFactory, UserFactory
from tests.helpdesk.conftest import make_mail
from tests.helpdesk.factories import ParticipantFactory, TicketFactory

pytestmark = pytest.mark.django_db

Outcome = InboundMail.Outcome


def ingest(raw, capture):
    with capture(execute=True):
        return intake.mail_ingest(raw, source="test")


def our_reply_headers(ticket, staff_user):
    """In-Reply-To/References of a reply to our staff mail about ``ticket``."""
    message = services.staff_reply(ticket=ticket, staff=staff_user, body="We are on it.")
    return {"In-Reply-To": f"<{message.message_id}>", "References": f"<{message.message_id}>"}


# --- new tickets, senders ---------------------------------------------------------------


def test_unknown_sender_opens_ticket_as_unverified_user_of_no_customer(
    django_capture_on_commit_callbacks,
):
    """H2, U6, S22: an unknown sender becomes an unverified user attached to no customer."""
    result = ingest(
        make_mail(sender="Erika Muster <erika@unknown.example>"), django_capture_on_commit_callbacks
    )
    assert result.outcome == Outcome.TICKET
    ticket = result.ticket
    assert ticket.customer is None
    user = User.objects.get(email="erika@unknown.example")
    assert user.status == User.Status.UNVERIFIED
    assert not user.is_active
    assert not user.memberships.exists()
    assert ticket.requester == user
    assert (user.first_name, user.last_name) == ("Erika", "Muster")
    assert ticket.messages.get().body.startswith("Hello support,")


def test_unknown_cc_addresses_become_unverified_users_and_are_copied(
    django_capture_on_commit_callbacks,
):
    """H2: a copied address that matches no user or contact becomes an unverified user."""
    raw = make_mail(
        sender="erika@unknown.example",
        to="support@provider.example, colleague@unknown.example",
        cc="Boss <boss@unknown.example>, support@provider.example",
    )
    ticket = ingest(raw, django_capture_on_commit_callbacks).ticket
    assert sorted(ticket.participants.values_list("email", flat=True)) == [
        "boss@unknown.example",
        "colleague@unknown.example",
    ]
    for address in ("boss@unknown.example", "colleague@unknown.example"):
        assert User.objects.get(email=address).status == User.Status.UNVERIFIED


def test_member_mail_is_attributed_to_their_customer(
    member, customer, django_capture_on_commit_callbacks
):
    """H2: a sender matching a user is that user, in their only customer."""
    ticket = ingest(make_mail(sender=member.email), django_capture_on_commit_callbacks).ticket
    assert ticket.requester == member
    assert ticket.customer == customer


def test_contact_mail_is_attributed_to_the_contacts_customer(
    customer, django_capture_on_commit_callbacks
):
    """K9: mail from a registered contact address is attributed to that customer, and no
    user is created for a contact."""
    ContactFactory(customer=customer, email="it@alice.example")
    ticket = ingest(make_mail(sender="it@alice.example"), django_capture_on_commit_callbacks).ticket
    assert ticket.customer == customer
    assert ticket.requester is None
    assert ticket.requester_email == "it@alice.example"
    assert not User.objects.filter(email="it@alice.example").exists()


def test_domain_contact_cannot_send_requests(customer, django_capture_on_commit_callbacks):
    """K9, K5: domain contacts cannot send requests: their mail is a stranger's."""
    ContactFactory(customer=customer, email="dns@alice.example", domain=True)
    ticket = ingest(
        make_mail(sender="dns@alice.example"), django_capture_on_commit_callbacks
    ).ticket
    assert ticket.customer is None
    assert ticket.requester.status == User.Status.UNVERIFIED


def test_contact_of_two_customers_leaves_the_choice_to_staff(
    customer, other_customer, django_capture_on_commit_callbacks
):
    """K1, K9: the same address may be a contact of several customers; staff decide."""
    ContactFactory(customer=customer, email="freelancer@example.org")
    ContactFactory(customer=other_customer, email="freelancer@example.org")
    ticket = ingest(
        make_mail(sender="freelancer@example.org"), django_capture_on_commit_callbacks
    ).ticket
    assert ticket.customer is None


def test_user_in_two_customers_is_placed_by_contact(
    customer, other_customer, django_capture_on_commit_callbacks
):
    """H2, K9: users first; where a user acts for two customers, the contact decides."""
    user = MembershipFactory(customer=customer, user__email="both@example.org").user
    MembershipFactory(customer=other_customer, user=user)
    ContactFactory(customer=other_customer, email="both@example.org")
    ticket = ingest(make_mail(sender="both@example.org"), django_capture_on_commit_callbacks).ticket
    assert (ticket.requester, ticket.customer) == (user, other_customer)


def test_inactive_user_mail_is_not_attributed_through_membership(
    customer, django_capture_on_commit_callbacks
):
    """U4, U6: someone who left acts for nobody; their mail opens a ticket of no customer."""
    user = MembershipFactory(customer=customer, user__email="left@example.org").user
    user.status = User.Status.INACTIVE
    user.save()
    ticket = ingest(make_mail(sender="left@example.org"), django_capture_on_commit_callbacks).ticket
    assert ticket.customer is None
    assert ticket.requester == user


def test_new_ticket_is_acknowledged_with_ticket_number_and_auto_submitted(
    django_capture_on_commit_callbacks,
):
    """H2, S21: the acknowledgement names the ticket and carries Auto-Submitted."""
    ticket = ingest(
        make_mail(sender="erika@unknown.example"), django_capture_on_commit_callbacks
    ).ticket
    (sent,) = outbox.outbox
    assert sent.to == ["erika@unknown.example"]
    assert f"[#{ticket.display_number}]" in sent.subject
    assert sent.extra_headers["Auto-Submitted"] == "auto-replied"
    message_id = sent.extra_headers["Message-ID"].strip("<>")
    assert notifications.parse_our_message_id(message_id) == (ticket.number, ticket.reply_token())


# --- threading ----------------------------------------------------------------------------


def test_reply_with_reply_token_is_threaded_and_reopens(
    ticket, staff_user, django_capture_on_commit_callbacks
):
    """H2: a reply is matched by In-Reply-To/References to our Message-ID."""
    headers = our_reply_headers(ticket, staff_user)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.WAITING
    raw = make_mail(sender=ticket.requester_email, subject="Re: something else", headers=headers)
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert (result.outcome, result.ticket) == (Outcome.REPLY, ticket)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.messages.count() == 3


def test_reply_by_ticket_number_in_subject_from_requester(
    ticket, django_capture_on_commit_callbacks
):
    """H2: a reply is matched by the ticket number in the subject."""
    raw = make_mail(
        sender=ticket.requester_email.upper(),
        subject=f"AW: [#{ticket.display_number}] {ticket.subject}",
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert (result.outcome, result.ticket) == (Outcome.REPLY, ticket)
    assert outbox.outbox == []  # replies are not acknowledged


def test_reply_to_stored_inbound_message_id_from_copied_address(
    django_capture_on_commit_callbacks,
):
    """H2: References to a stored Message-ID of the ticket thread a participant's reply."""
    first = make_mail(sender="erika@unknown.example", cc="colleague@unknown.example")
    ticket = ingest(first, django_capture_on_commit_callbacks).ticket
    first_id = ticket.messages.get().message_id
    raw = make_mail(
        sender="colleague@unknown.example",
        subject="Re: Cannot reach my mailbox",
        headers={"References": f"<{first_id}>"},
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert (result.outcome, result.ticket) == (Outcome.REPLY, ticket)


def test_forged_from_without_token_cannot_join_another_ticket(
    ticket, customer, django_capture_on_commit_callbacks
):
    """S22: a stranger quoting a ticket number gets a new ticket, not a seat on that one."""
    raw = make_mail(
        sender="mallory@evil.example",
        subject=f"Re: [#{ticket.display_number}] please add me",
        cc="mallory2@evil.example",
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.TICKET
    assert result.ticket != ticket
    assert not ticket.participants.exists()
    assert ticket.messages.count() == 1
    # and the acknowledgement says nothing of the other ticket
    (ack,) = outbox.outbox
    assert ticket.subject not in ack.subject + ack.body


def test_forged_from_of_known_contact_cannot_join_or_read_another_ticket(
    customer, other_customer, other_ticket, django_capture_on_commit_callbacks
):
    """S22: a forged From of a registered contact of another customer, quoting that
    customer's ticket number, with the forger copied, cannot join it nor read it."""
    ContactFactory(customer=other_customer, email="cto@bob.example")
    raw = make_mail(
        sender="cto@bob.example",
        subject=f"Re: [#{other_ticket.display_number}] {other_ticket.subject}",
        cc="mallory@evil.example",
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.TICKET and result.ticket != other_ticket
    assert not other_ticket.participants.exists()
    assert other_ticket.messages.count() == 1
    # Answers go to the real contact address only, never to a Reply-To or the forger.
    assert all("mallory@evil.example" not in m.to for m in outbox.outbox)


def test_forged_from_of_requester_may_add_text_but_nobody_new(
    ticket, django_capture_on_commit_callbacks
):
    """S22: without the reply token, a mail "from" the requester is added, but the copied
    addresses it names are not made participants (they would receive our answers)."""
    raw = make_mail(
        sender=ticket.requester_email,
        subject=f"Re: [#{ticket.display_number}]",
        cc="mallory@evil.example",
        headers={"Reply-To": "mallory@evil.example"},
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.REPLY
    assert not ticket.participants.exists()


def test_reply_with_token_adds_copied_addresses(
    ticket, staff_user, django_capture_on_commit_callbacks
):
    """S22: whoever quotes the reply token received our mail; their copies join."""
    headers = our_reply_headers(ticket, staff_user)
    raw = make_mail(sender=ticket.requester_email, cc="colleague@alice.example", headers=headers)
    ingest(raw, django_capture_on_commit_callbacks)
    assert list(ticket.participants.values_list("email", flat=True)) == ["colleague@alice.example"]


def test_wrong_reply_token_is_not_proof(ticket, django_capture_on_commit_callbacks):
    """S22: a made-up token in a Message-ID of our shape does not open the ticket."""
    fake = f"t{ticket.number}.{'0' * 32}.deadbeefdeadbeef@provider.example"
    raw = make_mail(
        sender="mallory@evil.example",
        headers={"In-Reply-To": f"<{fake}>", "References": f"<{fake}>"},
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.TICKET and result.ticket != ticket


def test_rotated_token_seed_voids_old_tokens(
    ticket, staff_user, django_capture_on_commit_callbacks
):
    """S22: staff can void every reply token of a ticket by changing its seed."""
    headers = our_reply_headers(ticket, staff_user)
    Ticket.objects.filter(pk=ticket.pk).update(token_seed="fresh")
    raw = make_mail(sender="forwarded@elsewhere.example", headers=headers)
    assert ingest(raw, django_capture_on_commit_callbacks).ticket != ticket


def test_our_own_control_headers_are_stripped(ticket, django_capture_on_commit_callbacks):
    """S22: X-Portal-* headers of inbound mail are ignored and stripped."""
    raw = make_mail(
        sender="mallory@evil.example",
        headers={"X-Portal-Ticket": ticket.display_number, "X-Portal-Token": "whatever"},
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.TICKET and result.ticket != ticket


# --- automated mail, loops (S21) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        ("robot@example.org", {"Auto-Submitted": "auto-replied"}),
        ("robot@example.org", {"Auto-Submitted": "auto-generated; owner-email=x@y"}),
        ("list@example.org", {"Precedence": "bulk"}),
        ("list@example.org", {"Precedence": "list"}),
        ("spam@example.org", {"Precedence": "junk"}),
        ("robot@example.org", {"X-Loop": "helpdesk@elsewhere.example"}),
        ("robot@example.org", {"Return-Path": "<>"}),
        ("MAILER-DAEMON@mx.example.org", {}),
        ("no-reply@shop.example", {}),
        ("noreply@shop.example", {}),
        ("list@example.org", {"List-Id": "<news.example.org>"}),
        ("out@example.org", {"X-Auto-Response-Suppress": "OOF, AutoReply"}),
    ],
)
def test_automated_mail_is_never_answered(sender, headers, django_capture_on_commit_callbacks):
    """S21: no acknowledgement to automated mail (RFC 3834); it is still kept."""
    result = ingest(make_mail(sender=sender, headers=headers), django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.TICKET
    assert result.reason
    assert outbox.outbox == []
    assert result.inbound.acknowledged is False


def test_auto_submitted_no_is_answered(django_capture_on_commit_callbacks):
    """S21: Auto-Submitted: no means a person sent it."""
    ingest(make_mail(headers={"Auto-Submitted": "no"}), django_capture_on_commit_callbacks)
    assert len(outbox.outbox) == 1


def test_acknowledgements_are_capped_per_sender_and_hour(
    settings, django_capture_on_commit_callbacks
):
    """S21: at most N acknowledgements per sender and hour, however many mails arrive."""
    settings.HELPDESK_ACKS_PER_SENDER_PER_HOUR = 2
    for n in range(5):
        ingest(make_mail(subject=f"Question number {n}"), django_capture_on_commit_callbacks)
    assert Ticket.objects.count() == 5
    assert len(outbox.outbox) == 2


def test_our_own_message_coming_back_is_dropped(
    ticket, staff_user, django_capture_on_commit_callbacks
):
    """S21: a message with one of our own Message-IDs is a loop: dropped, logged."""
    message = services.staff_reply(ticket=ticket, staff=staff_user, body="Done.")
    raw = make_mail(sender="someone@example.org", headers={"Message-ID": f"<{message.message_id}>"})
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.DROPPED
    assert "loop" in result.reason
    assert InboundMail.objects.filter(outcome=Outcome.DROPPED).count() == 1


def test_mail_from_our_own_address_is_dropped(django_capture_on_commit_callbacks):
    """S21: mail "from" the support address itself is never processed or answered."""
    result = ingest(
        make_mail(sender="support@provider.example"), django_capture_on_commit_callbacks
    )
    assert result.outcome == Outcome.DROPPED
    assert outbox.outbox == []


def test_delivery_report_is_quarantined_not_answered(django_capture_on_commit_callbacks):
    """S21, S19: a DSN is kept for staff, never answered."""
    raw = (
        b"From: MAILER-DAEMON@mx.example.org\r\nTo: support@provider.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b--\r\n"
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.QUARANTINED
    assert result.reason == "delivery report"
    assert outbox.outbox == []
    assert result.inbound.raw.read() == raw


# --- robustness, limits (S19, S20) ----------------------------------------------------------


def test_oversized_mail_is_dropped_before_parsing(
    settings, django_capture_on_commit_callbacks, monkeypatch
):
    """S20: over the size limit nothing is parsed; a logged drop."""
    settings.MAX_INBOUND_MAIL_BYTES = 1000
    monkeypatch.setattr(intake, "parse", lambda *a, **k: pytest.fail("parsed"))
    result = ingest(make_mail(body="x" * 2000), django_capture_on_commit_callbacks)
    assert (result.outcome, result.reason) == (Outcome.DROPPED, "too large")
    assert result.inbound.size > 1000
    assert not result.inbound.raw


def test_attachments_beyond_count_and_size_are_not_stored(
    settings, django_capture_on_commit_callbacks
):
    """S20: attachments over the count or size limit are listed, not stored."""
    settings.MAX_ATTACHMENTS = 2
    settings.MAX_ATTACHMENT_BYTES = 1000
    files = [
        ("one.txt", b"first file", "text", "plain"),
        ("big.bin", b"x" * 5000, "application", "octet-stream"),
        ("two.txt", b"second file", "text", "plain"),
        ("three.txt", b"third file", "text", "plain"),
    ]
    ticket = ingest(make_mail(attachments=files), django_capture_on_commit_callbacks).ticket
    message = ticket.messages.get()
    assert sorted(a.filename for a in message.attachments.all()) == ["one.txt", "two.txt"]
    assert "big.bin (too large)" in message.body
    assert "three.txt (too many attachments)" in message.body


def test_unparseable_mail_is_quarantined(django_capture_on_commit_callbacks):
    """S19: bytes that are no message are kept for staff."""
    result = ingest(b"\x00\x01\x02 not a mail at all", django_capture_on_commit_callbacks)
    assert result.outcome == Outcome.QUARANTINED
    assert result.inbound.raw


def test_same_message_twice_is_processed_once(django_capture_on_commit_callbacks):
    """S26: a second delivery of the same bytes (MTA retry, IMAP re-fetch) is dropped."""
    raw = make_mail()
    assert ingest(raw, django_capture_on_commit_callbacks).outcome == Outcome.TICKET
    second = ingest(raw, django_capture_on_commit_callbacks)
    assert (second.outcome, second.reason) == (Outcome.DROPPED, "duplicate")
    assert Ticket.objects.count() == 1


def test_failure_while_processing_quarantines(monkeypatch, django_capture_on_commit_callbacks):
    """S19: an unexpected error while storing leaves a quarantined message, no crash."""

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "ticket_create", broken)
    result = ingest(make_mail(), django_capture_on_commit_callbacks)
    assert (result.outcome, result.reason) == (Outcome.QUARANTINED, "processing failed")
    assert not Ticket.objects.exists()
    assert not User.objects.filter(email="someone@example.org").exists()  # rolled back


# --- header injection, HTML (S23, S25) -------------------------------------------------------


def test_encoded_crlf_in_subject_does_not_inject_headers(
    staff_user, django_capture_on_commit_callbacks, caplog
):
    """S23: an encoded CR/LF in the Subject is cleaned before it reaches outgoing mail,
    logs and file names."""
    raw = (
        b"From: erika@unknown.example\r\nTo: support@provider.example\r\n"
        b"Subject: =?utf-8?Q?Hello=0D=0ABcc:_victim@evil.example?=\r\n"
        b"Message-ID: <x1@client.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nHi\r\n--b\r\n"
        b"Content-Type: text/plain\r\n"
        b'Content-Disposition: attachment; filename="=?utf-8?Q?a=0D=0Ab.txt?="\r\n\r\nfile\r\n--b--\r\n'
    )
    result = ingest(raw, django_capture_on_commit_callbacks)
    ticket = result.ticket
    assert ticket.subject == "Hello Bcc: victim@evil.example"
    attachment = ticket.messages.get().attachments.get()
    assert "\n" not in attachment.filename and "\r" not in attachment.filename
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_reply(ticket=ticket, staff=staff_user, body="Answer")
    for sent in outbox.outbox:
        raw_out = sent.message().as_bytes()
        headers = raw_out.split(b"\n\n", 1)[0]
        assert b"\nBcc:" not in headers
        assert "victim@evil.example" not in sent.recipients()
    assert all("\n" not in record.getMessage() for record in caplog.records)


def test_html_only_mail_is_stored_as_text(django_capture_on_commit_callbacks):
    """S25: an HTML body becomes text; scripts and tags are gone."""
    raw = (
        b"From: erika@unknown.example\r\nTo: support@provider.example\r\nSubject: html\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hello <b>there</b></p><script>alert(1)</script><img src=x onerror=alert(2)>"
        b"<p>Line &amp; two</p>"
    )
    body = ingest(raw, django_capture_on_commit_callbacks).ticket.messages.get().body
    assert "<" not in body and "alert" not in body
    assert "Hello there" in body and "Line & two" in body


# --- the pipe command (H2) -------------------------------------------------------------------


def test_ingest_email_command_reads_stdin(django_capture_on_commit_callbacks):
    """H2: manage.py ingest_email reads one message on standard input."""
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("ingest_email", stdin=io.BytesIO(make_mail()), stdout=out)
    assert out.getvalue().startswith("ticket T-")
    assert Ticket.objects.count() == 1


def test_ingest_email_command_drains_oversized_input(settings):
    """S20: an oversized message is read to the end (no broken pipe) and dropped."""
    settings.MAX_INBOUND_MAIL_BYTES = 100
    stream = io.BytesIO(b"x" * 5_000_000)
    out = io.StringIO()
    call_command("ingest_email", stdin=stream, stdout=out)
    assert stream.read() == b""
    assert out.getvalue().startswith("dropped")
    assert InboundMail.objects.get().size == 5_000_000


def test_ingest_email_command_exits_75_when_database_is_down(monkeypatch):
    """H2: a temporary failure exits EX_TEMPFAIL so that the MTA delivers again later."""
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(intake, "_ingest", down)
    with pytest.raises(SystemExit) as exit_info:
        call_command("ingest_email", stdin=io.BytesIO(make_mail()), stdout=io.StringIO())
    assert exit_info.value.code == 75


def test_participant_address_on_new_ticket_from_known_user(
    member, customer, django_capture_on_commit_callbacks
):
    """H2: copied users are linked to their login."""
    colleague = UserFactory(email="colleague@alice.example")
    ticket = ingest(
        make_mail(sender=member.email, cc="colleague@alice.example"),
        django_capture_on_commit_callbacks,
    ).ticket
    assert Participant.objects.get(ticket=ticket).user == colleague


def test_sent_reply_parses_back_to_its_ticket(
    ticket, staff_user, django_capture_on_commit_callbacks
):
    """H2: what we send threads back when a mail client answers it."""
    with django_capture_on_commit_callbacks(execute=True):
        services.staff_reply(ticket=ticket, staff=staff_user, body="Which PHP version?")
    sent = message_from_bytes(outbox.outbox[-1].message().as_bytes(), policy=default_policy)
    reply = make_mail(
        sender=ticket.requester_email,
        subject="Re: " + sent["Subject"],
        headers={"In-Reply-To": sent["Message-ID"], "References": sent["Message-ID"]},
    )
    result = ingest(reply, django_capture_on_commit_callbacks)
    assert result.ticket == ticket
    assert Message.objects.filter(ticket=ticket, kind=Message.Kind.CUSTOMER).count() == 2


def test_copied_participant_reply_without_token_is_threaded(django_capture_on_commit_callbacks):
    """H2: someone copied on the ticket answers with the number in the subject."""
    ticket = TicketFactory()
    ParticipantFactory(ticket=ticket, email="cc@example.org")
    raw = make_mail(sender="cc@example.org", subject=f"[#{ticket.display_number}] more")
    assert ingest(raw, django_capture_on_commit_callbacks).ticket == ticket


def test_overlong_addresses_are_not_used(django_capture_on_commit_callbacks):
    """S19, S20: an address longer than any column holds is no sender and no copy."""
    long_address = "a" * 60 + "@" + "b" * 250 + ".example"
    result = ingest(make_mail(sender=long_address), django_capture_on_commit_callbacks)
    assert (result.outcome, result.reason) == (Outcome.QUARANTINED, "no usable sender address")
    ticket = ingest(make_mail(cc=long_address), django_capture_on_commit_callbacks).ticket
    assert not ticket.participants.exists()


def test_s21_new_tickets_by_mail_are_capped_per_sender_and_hour(
    settings, django_capture_on_commit_callbacks
):
    """S21, limits: past the cap a sender's further new mail is quarantined, not a ticket;
    replies to an existing ticket are not counted."""
    from email.message import EmailMessage

    from helpdesk.intake import mail_ingest
    from helpdesk.models import InboundMail, Ticket

    settings.HELPDESK_TICKETS_PER_SENDER_PER_HOUR = 3

    def message(n):
        msg = EmailMessage()
        msg["From"] = "flood@spam.example"
        msg["To"] = settings.SUPPORT_EMAIL
        msg["Subject"] = f"Question number {n}"
        msg["Message-ID"] = f"<flood-{n}@spam.example>"
        msg.set_content(f"text {n}")
        return msg.as_bytes()

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(6):
            mail_ingest(message(n), source="test")
    assert Ticket.objects.count() == 3
    assert InboundMail.objects.filter(outcome="quarantined").count() == 3
