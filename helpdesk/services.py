"""Writes of the helpdesk: opening tickets, replies, notes, status and assignment.

Views, the admin and the mail intake call these; they store, write the audit trail and
send mail through ``helpdesk.notifications``. Nothing here decides who may see what:
that is ``portal.policy`` ("Tickets").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.audit import audit
from accounts.models import Customer, HostingAccount, NumberSequence, User
from helpdesk import notifications
from helpdesk.files import detect
from helpdesk.inbound import clean_filename, clean_text
from helpdesk.models import Attachment, Message, Participant, Ticket

log = logging.getLogger(__name__)

FIRST_TICKET_NUMBER = 100000
MAX_PARTICIPANTS = 20


@dataclass
class NewFile:
    """A file to attach: a name as the sender gave it and a Django File to stream from."""

    filename: str
    file: File

    @classmethod
    def from_bytes(cls, filename: str, data: bytes) -> NewFile:
        return cls(filename, ContentFile(data))


def next_ticket_number() -> int:
    """The next ticket number from a counter that only goes up."""
    with transaction.atomic():
        seq, _created = NumberSequence.objects.select_for_update().get_or_create(
            name="ticket", defaults={"last_value": FIRST_TICKET_NUMBER}
        )
        NumberSequence.objects.filter(pk=seq.pk).update(last_value=F("last_value") + 1)
        seq.refresh_from_db()
        return seq.last_value


def _attachments_store(message: Message, files: Iterable[NewFile]) -> list[Attachment]:
    """Store files under random names with the type found in their content (S24)."""
    stored = []
    for new in files:
        handle = new.file
        handle.seek(0)
        head = handle.read(512)
        handle.seek(0)
        attachment = Attachment(
            message=message,
            filename=clean_filename(new.filename),
            content_type=detect(head if isinstance(head, bytes) else head.encode()),
            size=handle.size,
        )
        attachment.file.save("upload", handle, save=False)
        attachment.save()
        stored.append(attachment)
    return stored


def participants_add(ticket: Ticket, addresses: Iterable[tuple[str, User | None]]) -> list[str]:
    """Copy addresses on a ticket (H2, H3); the requester and known ones are skipped."""
    added = []
    existing = set(ticket.participants.values_list("email", flat=True))
    for email, user in addresses:
        email = (email or "").strip().lower()
        if not email or email == ticket.requester_email or email in existing:
            continue
        if len(existing) >= MAX_PARTICIPANTS:
            break
        Participant.objects.create(ticket=ticket, email=email, user=user)
        existing.add(email)
        added.append(email)
    return added


def _touch(ticket: Ticket, **fields) -> None:
    fields["updated_at"] = timezone.now()
    for name, value in fields.items():
        setattr(ticket, name, value)
    Ticket.objects.filter(pk=ticket.pk).update(**fields)


@transaction.atomic
def ticket_create(
    *,
    customer: Customer | None,
    subject: str,
    body: str,
    source: str,
    requester: User | None = None,
    requester_email: str = "",
    account: HostingAccount | None = None,
    agency: Customer | None = None,
    copied: Iterable[tuple[str, User | None]] = (),
    files: Iterable[NewFile] = (),
    message_id: str = "",
    request=None,
) -> Ticket:
    """Open a ticket with its first message (H1, H2). ``agency`` is set when a technical
    administrator opens it about an account granted to them (D5)."""
    email = (requester_email or (requester.email if requester else "")).strip().lower()
    ticket = Ticket(
        number=next_ticket_number(),
        customer=customer,
        account=account,
        agency=agency,
        requester=requester,
        requester_email=email,
        subject=clean_text(subject, 200),
        source=source,
    )
    ticket.full_clean()
    ticket.save()
    message = Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.CUSTOMER,
        author=requester,
        author_email=email,
        body=body,
        source=source,
        message_id=message_id,
    )
    _attachments_store(message, files)
    participants_add(ticket, copied)
    audit(
        "ticket.opened",
        request=request,
        actor=requester if request is None else None,
        customer=customer,
        summary=f"{ticket.display_number} by {source}",
        ticket=ticket.number,
    )
    if agency is not None:
        notifications.delegate_ticket_opened(ticket)
    return ticket


@transaction.atomic
def ticket_reply(
    *,
    ticket: Ticket,
    body: str,
    source: str,
    author: User | None = None,
    author_email: str = "",
    files: Iterable[NewFile] = (),
    message_id: str = "",
    request=None,
) -> Message:
    """A customer's answer, by web or mail. A ticket waiting for the customer, or closed,
    is open again."""
    message = Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.CUSTOMER,
        author=author,
        author_email=(author_email or (author.email if author else "")).lower(),
        body=body,
        source=source,
        message_id=message_id,
    )
    _attachments_store(message, files)
    if ticket.status in (Ticket.Status.WAITING, Ticket.Status.CLOSED):
        _touch(ticket, status=Ticket.Status.OPEN, closed_at=None)
    else:
        _touch(ticket)
    if request is not None:
        audit(
            "ticket.replied",
            request=request,
            customer=ticket.customer,
            summary=ticket.display_number,
            ticket=ticket.number,
        )
    return message


@transaction.atomic
def staff_reply(
    *,
    ticket: Ticket,
    staff: User,
    body: str,
    files: Iterable[NewFile] = (),
    status: str = Ticket.Status.WAITING,
) -> Message:
    """A reply from support, mailed to the requester and the copied addresses (H3). The
    ticket then waits for the customer unless another status is given."""
    message = Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.STAFF,
        author=staff,
        author_email=staff.email,
        body=body,
        source=Ticket.Source.STAFF,
        message_id=notifications.new_message_id(ticket),
    )
    _attachments_store(message, files)
    old = ticket.status
    _touch(ticket, status=status, closed_at=timezone.now() if status == "closed" else None)
    audit(
        "ticket.staff_replied",
        actor=staff,
        customer=ticket.customer,
        summary=ticket.display_number,
        ticket=ticket.number,
        status_from=old,
        status_to=status,
    )
    notifications.staff_replied(ticket, message)
    return message


@transaction.atomic
def note_add(*, ticket: Ticket, staff: User, body: str) -> Message:
    """An internal note: staff only, never shown or mailed to customers (H4)."""
    message = Message.objects.create(
        ticket=ticket,
        kind=Message.Kind.NOTE,
        author=staff,
        author_email=staff.email,
        body=body,
        source=Ticket.Source.STAFF,
    )
    _touch(ticket)
    return message


@transaction.atomic
def ticket_status_set(*, ticket: Ticket, status: str, actor: User, request=None) -> bool:
    """Staff change a ticket's status; the requester and copied addresses are told (H3).
    Returns whether anything changed."""
    old = ticket.status
    if old == status:
        return False
    _touch(ticket, status=status, closed_at=timezone.now() if status == "closed" else None)
    audit(
        "ticket.status_changed",
        request=request,
        actor=actor,
        customer=ticket.customer,
        summary=f"{ticket.display_number}: {old} → {status}",
        ticket=ticket.number,
    )
    notifications.status_changed(ticket, old)
    return True


@transaction.atomic
def ticket_close(*, ticket: Ticket, request) -> None:
    """The requester or a manager closes their ticket in the portal."""
    if ticket.status == Ticket.Status.CLOSED:
        return
    _touch(ticket, status=Ticket.Status.CLOSED, closed_at=timezone.now())
    audit(
        "ticket.closed",
        request=request,
        customer=ticket.customer,
        summary=ticket.display_number,
        ticket=ticket.number,
    )


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, request) -> None:
    if ticket.status != Ticket.Status.CLOSED:
        return
    _touch(ticket, status=Ticket.Status.OPEN, closed_at=None)
    audit(
        "ticket.reopened",
        request=request,
        customer=ticket.customer,
        summary=ticket.display_number,
        ticket=ticket.number,
    )


@transaction.atomic
def ticket_assign(*, ticket: Ticket, assignee: User | None, actor: User) -> None:
    if assignee is not None and not assignee.is_staff:
        raise ValueError("only staff are assigned tickets")
    _touch(ticket, assignee=assignee)
    audit(
        "ticket.assigned",
        actor=actor,
        customer=ticket.customer,
        summary=f"{ticket.display_number} → {assignee.email if assignee else '-'}",
        ticket=ticket.number,
    )
