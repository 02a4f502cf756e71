"""Demo tickets (called by ``manage.py seed_demo``; idempotent).

Nordlicht Media has a ticket in every state — new (with an attachment), in progress
(assigned, with an internal note), waiting for the customer (a staff reply, a colleague
copied) and closed. Kovács Pékség's technical contact, who has no login, wrote by mail
(K9); Webwerk's technical administrator opened a ticket about an account Kovács granted
it (D5). A stranger's mail waits for staff with no customer (H2), and one unreadable
message sits in quarantine (S19).
"""

from django.db import transaction
from django.utils import timezone

from accounts.models import HostingAccount, User
from delegation.models import Grant
from helpdesk import intake, notifications, services
from helpdesk.models import Message, Participant, Ticket

STAFF = "staff@provider.example"


def _user(email):
    return User.objects.filter(email=email).first()


def _account(customer, name):
    return HostingAccount.objects.filter(customer=customer, name=name).first()


def _ticket(customer, subject, requester, account=None, body="", files=(), agency=None):
    """The demo ticket with this subject, created once."""
    existing = Ticket.objects.filter(customer=customer, subject=subject).first()
    if existing is not None:
        return existing, False
    ticket = services.ticket_create(
        customer=customer,
        subject=subject,
        body=body,
        source=Ticket.Source.WEB,
        requester=requester,
        account=account,
        agency=agency,
        files=files,
    )
    return ticket, True


def _staff_says(ticket, staff, body, status):
    """A staff reply as it would have been sent earlier (no mail goes out for demo data)."""
    Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.STAFF,
        author=staff,
        author_email=staff.email,
        body=body,
        source=Ticket.Source.STAFF,
        message_id=notifications.new_message_id(ticket),
    )
    closed = timezone.now() if status == Ticket.Status.CLOSED else None
    Ticket.objects.filter(pk=ticket.pk).update(status=status, closed_at=closed)


def _mail(sender, subject, body, message_id):
    """A fixed message, so that seeding twice delivers the same bytes (dropped twice)."""
    return (
        f"From: {sender}\r\nTo: support@provider.example\r\nSubject: {subject}\r\n"
        f"Message-ID: <{message_id}>\r\nDate: Mon, 02 Nov 2026 08:15:00 +0100\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + body
    ).encode()


@transaction.atomic
def seed(customers):
    staff = _user(STAFF)
    nordlicht = customers["nordlicht"]
    anna, jonas = _user("anna@nordlicht.example"), _user("jonas@nordlicht.example")

    _ticket(
        nordlicht,
        "PHP 8.3 for P-100231",
        jonas,
        _account(nordlicht, "P-100231"),
        "Hallo, bitte stellt das Paket P-100231 auf PHP 8.3 um. Die phpinfo hängt an.",
        [services.NewFile.from_bytes("phpinfo.txt", b"PHP Version 8.2.12\nSystem Linux\n")],
    )

    ticket, new = _ticket(
        nordlicht,
        "MX records of nordlicht-media.example point to the old mail server",
        anna,
        _account(nordlicht, "nordlicht-media.example"),
        "Since yesterday mail to info@nordlicht-media.example bounces.",
    )
    if new and staff:
        services.ticket_assign(ticket=ticket, assignee=staff, actor=staff)
        services.note_add(
            ticket=ticket, staff=staff, body="Old MX still in the zone; check the DNS change log."
        )
        Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.OPEN)

    ticket, new = _ticket(
        nordlicht,
        "Reboot de-01-srv-0042 after the kernel update",
        anna,
        _account(nordlicht, "de-01-srv-0042"),
        "Please reboot the server for the new kernel.",
    )
    if new and staff:
        Participant.objects.create(ticket=ticket, email=jonas.email, user=jonas)
        _staff_says(
            ticket,
            staff,
            "Gladly. Which time suits you best? We suggest tonight 22:00–22:15.",
            Ticket.Status.WAITING,
        )

    ticket, new = _ticket(
        nordlicht,
        "SSL certificate of nordlicht-media.example expires next week",
        jonas,
        _account(nordlicht, "nordlicht-media.example"),
        "The browser warns that the certificate expires on the 30th.",
    )
    if new and staff:
        _staff_says(ticket, staff, "Renewed; valid until next year.", Ticket.Status.CLOSED)

    # Webwerk's technical administrator, about an account Kovács granted it (D5).
    kovacs, webwerk = customers["kovacs"], customers["webwerk"]
    package = _account(kovacs, "P-100250")
    lena = _user("lena@webwerk.example")
    granted = Grant.objects.live().filter(grantor=kovacs, agency=webwerk, accounts=package)
    if package and lena and granted.exists():
        _ticket(
            kovacs,
            "P-100250: raise the PHP memory limit to 256 MB",
            lena,
            package,
            "The shop's image upload needs more memory. Thanks, Lena (Webwerk)",
            agency=webwerk,
        )

    # By mail: Kovács's technical contact (no login, K9), a stranger (H2), garbage (S19).
    for raw in (
        _mail(
            "Szabó Gábor <gabor@kovacs-pekseg.example>",
            "=?utf-8?Q?Szerver_=C3=BAjraind=C3=ADt=C3=A1s_hu-02-srv-0007?=",
            "Kérem, indítsák újra a szervert ma este.\r\n",
            "demo-kovacs-1@kovacs-pekseg.example",
        ),
        _mail(
            "Neu Kunde <hello@new-shop.example>",
            "Do you host WordPress shops?",
            "Hello, we are looking for a new hosting provider.\r\n",
            "demo-stranger-1@new-shop.example",
        ),
        b"\x00\x01 this is not an e-mail message \xff\xfe",
    ):
        intake.mail_ingest(raw, source="demo")
