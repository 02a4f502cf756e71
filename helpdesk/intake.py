"""The one service behind both mail intakes (``manage.py ingest_email`` and the IMAP
poller): raw bytes become a new ticket, a reply, a quarantined message or a logged drop,
never an exception (S19) — except a temporary database failure, which the caller turns
into "try again later" (the pipe's EX_TEMPFAIL, the poller leaving the message unseen).

Threading and trust (H2, S22):

1. A reply quoting one of our Message-IDs (In-Reply-To/References) with a valid reply
   token joins that ticket, whoever sends it: only someone who received our mail about the
   ticket knows the token. Addresses it copies are added to the ticket.
2. Otherwise a ticket found by a stored Message-ID or by ``[#T-123456]`` in the subject is
   joined only when the sender is already on it (the requester or a copied address), and
   then nobody new is added: a forged From can add text but cannot make anyone a reader.
3. Anything else opens a new ticket; a sender claiming to answer someone else's ticket
   learns nothing about it.

Reply-To of inbound mail is never used: answers go to the From address, so a forged From
never routes anything to the forger. Senders are matched to users, then to contacts
(K9); unknown senders and copied addresses become unverified users of no customer (U6).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer, User
from contacts.selectors import customers_for_sender
from helpdesk import notifications, services
from helpdesk.inbound import ParsedMail, clean_text, parse
from helpdesk.models import InboundMail, Message, Participant, Ticket
from portal import policy

log = logging.getLogger(__name__)

SUBJECT_NUMBER = re.compile(r"\[#?T-(\d{1,18})\]", re.IGNORECASE)
ACKS_PER_SENDER_PER_HOUR = 3
TICKETS_PER_SENDER_PER_HOUR = 10
Outcome = InboundMail.Outcome


class TemporaryFailure(Exception):
    """The database could not be reached: deliver the message again later."""


@dataclass
class IngestResult:
    outcome: str
    reason: str = ""
    ticket: Ticket | None = None
    inbound: InboundMail | None = None


def automated_reason(parsed: ParsedMail) -> str:
    """Why a message must not be answered (S21, RFC 3834), or ""."""
    if parsed.auto_submitted and parsed.auto_submitted.split(";")[0].strip() != "no":
        return "Auto-Submitted"
    if parsed.precedence in ("bulk", "list", "junk"):
        return "Precedence"
    if parsed.x_loop:
        return "X-Loop"
    if parsed.return_path is not None and parsed.return_path == "":
        return "empty Return-Path"
    if parsed.is_report:
        return "delivery report"
    if parsed.list_id:
        return "mailing list"
    if any(word in parsed.auto_response_suppress for word in ("all", "autoreply", "oof")):
        return "X-Auto-Response-Suppress"
    if notifications.is_automated_address(parsed.from_address):
        return "automated sender"
    return ""


def _limits() -> dict:
    return {
        "max_bytes": settings.MAX_INBOUND_MAIL_BYTES,
        "max_attachments": settings.MAX_ATTACHMENTS,
        "max_attachment_bytes": settings.MAX_ATTACHMENT_BYTES,
    }


def mail_ingest(raw: bytes, *, source: str = "pipe") -> IngestResult:
    """Turn one raw message into a ticket, a reply, a quarantined message or a drop.

    Raises TemporaryFailure only when the database is unreachable."""
    try:
        return _ingest(raw, source[:10])
    except (OperationalError, InterfaceError) as exc:
        raise TemporaryFailure(str(exc)) from exc


def _ingest(raw: bytes, source: str) -> IngestResult:
    size = len(raw)
    if size > settings.MAX_INBOUND_MAIL_BYTES:  # S20: never parsed
        return _drop(size, source, "too large", digest=None)
    digest = hashlib.sha256(raw).hexdigest()
    if InboundMail.objects.filter(sha256=digest).exists():
        log.info("inbound mail dropped: duplicate %s", digest[:16])
        return IngestResult(Outcome.DROPPED, "duplicate")
    parsed = parse(raw, **_limits())
    try:
        with transaction.atomic():
            return _process(raw, digest, parsed, source)
    except IntegrityError:
        if InboundMail.objects.filter(sha256=digest).exists():
            log.info("inbound mail dropped: duplicate %s", digest[:16])
            return IngestResult(Outcome.DROPPED, "duplicate")
        log.exception("inbound mail could not be stored; quarantined")
    except (OperationalError, InterfaceError):
        raise
    except Exception:  # noqa: BLE001 - S19: quarantined, never a crash
        log.exception("inbound mail could not be processed; quarantined")
    return _quarantine(raw, digest, parsed, source, "processing failed")


def mail_too_large(size: int, *, source: str) -> IngestResult:
    """A message over the size limit that was not even fetched (the IMAP poller asks for
    the size first, S20): a logged drop."""
    try:
        return _drop(size, source[:10], "too large", digest=None)
    except (OperationalError, InterfaceError) as exc:
        raise TemporaryFailure(str(exc)) from exc


def _drop(size: int, source: str, reason: str, digest: str | None, parsed=None) -> IngestResult:
    """A logged drop: a row for staff to count, no content kept."""
    log.warning(
        "inbound mail dropped (%s): %s bytes from %s",
        reason,
        size,
        clean_text(parsed.from_address if parsed else "", 100) or "?",
    )
    inbound = InboundMail.objects.create(
        source=source,
        outcome=Outcome.DROPPED,
        reason=reason,
        sha256=digest,
        size=size,
        message_id=parsed.message_id[:255] if parsed else "",
        from_address=parsed.from_address[:254] if parsed else "",
        subject=parsed.subject[:200] if parsed else "",
    )
    return IngestResult(Outcome.DROPPED, reason, inbound=inbound)


def _quarantine(raw: bytes, digest: str, parsed: ParsedMail, source: str, reason: str):
    """Keep the message for staff to look at in the admin (S19)."""
    log.warning("inbound mail quarantined (%s) from %s", reason, parsed.from_address or "?")
    inbound = InboundMail(
        source=source,
        outcome=Outcome.QUARANTINED,
        reason=clean_text(reason, 200),
        sha256=digest,
        size=len(raw),
        message_id=parsed.message_id[:255],
        from_address=parsed.from_address[:254],
        subject=parsed.subject[:200],
    )
    inbound.raw.save("message.eml", ContentFile(raw), save=False)
    inbound.save()
    return IngestResult(Outcome.QUARANTINED, inbound.reason, inbound=inbound)


def _valid_sender(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def _process(raw: bytes, digest: str, parsed: ParsedMail, source: str) -> IngestResult:
    if not parsed.ok:
        return _quarantine(raw, digest, parsed, source, parsed.error or "unreadable")
    if notifications.is_our_message_id(parsed.message_id):
        return _drop(len(raw), source, "our own message (loop)", digest, parsed)
    if parsed.from_address in notifications.our_addresses():
        return _drop(len(raw), source, "sent from our own address (loop)", digest, parsed)
    if parsed.is_report:
        return _quarantine(raw, digest, parsed, source, "delivery report")
    if not parsed.from_address or not _valid_sender(parsed.from_address):
        return _quarantine(raw, digest, parsed, source, "no usable sender address")
    # Claim the message first: a second delivery of the same bytes stops here (S26).
    inbound = InboundMail.objects.create(
        source=source,
        outcome=Outcome.TICKET,
        sha256=digest,
        size=len(raw),
        message_id=parsed.message_id[:255],
        from_address=parsed.from_address,
        subject=parsed.subject[:200],
    )
    automated = automated_reason(parsed)
    sender = _match_sender(parsed.from_address, parsed.from_name)
    copied = [_match_copied(a) for a in _copied_addresses(parsed)]
    body = _body(parsed)
    files = [services.NewFile.from_bytes(a.filename, a.data) for a in parsed.attachments]
    ticket, proven = find_thread(parsed)
    if ticket is not None and (proven or is_on_ticket(ticket, parsed.from_address)):
        services.ticket_reply(
            ticket=ticket,
            body=body,
            source=Ticket.Source.MAIL,
            author=sender.user,
            author_email=parsed.from_address,
            files=files,
            message_id=parsed.message_id,
        )
        if proven:
            services.participants_add(ticket, copied)
        inbound.outcome, inbound.ticket = Outcome.REPLY, ticket
        inbound.reason = automated
        inbound.save(update_fields=["outcome", "ticket", "reason"])
        return IngestResult(Outcome.REPLY, automated, ticket, inbound)
    if not _may_open_ticket(parsed.from_address, inbound.pk):
        # A flood from one sender opens no more tickets: staff see the rest in quarantine.
        inbound.outcome = Outcome.QUARANTINED
        inbound.reason = "too many new tickets from this sender in an hour"
        inbound.raw.save("message.eml", ContentFile(raw), save=False)
        inbound.save(update_fields=["outcome", "reason", "raw"])
        log.warning("inbound mail quarantined (ticket cap) from %s", parsed.from_address)
        return IngestResult(Outcome.QUARANTINED, inbound.reason, inbound=inbound)
    ticket = services.ticket_create(
        customer=sender.customer,
        subject=parsed.subject or _("(no subject)"),
        body=body,
        source=Ticket.Source.MAIL,
        requester=sender.user,
        requester_email=parsed.from_address,
        copied=copied,
        files=files,
        message_id=parsed.message_id,
    )
    inbound.ticket = ticket
    inbound.reason = automated
    if not automated and _may_acknowledge(parsed.from_address):
        notifications.acknowledge(ticket, parsed.from_address)
        inbound.acknowledged = True
    inbound.save(update_fields=["ticket", "reason", "acknowledged"])
    return IngestResult(Outcome.TICKET, automated, ticket, inbound)


def _body(parsed: ParsedMail) -> str:
    body = parsed.text or _("(no text)")
    if parsed.rejected_attachments:
        names = ", ".join(f"{name} ({why})" for name, why in parsed.rejected_attachments[:20])
        body += "\n\n[" + _("Attachments not accepted: %(names)s") % {"names": names} + "]"
    return body


def _may_open_ticket(address: str, inbound_id: int) -> bool:
    """At most a few new tickets by mail per sender and hour (limits, S21)."""
    since = timezone.now() - timedelta(hours=1)
    opened = (
        InboundMail.objects.filter(
            from_address=address, outcome=Outcome.TICKET, received_at__gte=since
        )
        .exclude(pk=inbound_id)
        .count()
    )
    return opened < getattr(
        settings, "HELPDESK_TICKETS_PER_SENDER_PER_HOUR", TICKETS_PER_SENDER_PER_HOUR
    )


def _may_acknowledge(address: str) -> bool:
    """At most a few acknowledgements per sender and hour (RFC 3834, S21)."""
    since = timezone.now() - timedelta(hours=1)
    sent = InboundMail.objects.filter(
        from_address=address, acknowledged=True, received_at__gte=since
    ).count()
    return sent < getattr(settings, "HELPDESK_ACKS_PER_SENDER_PER_HOUR", ACKS_PER_SENDER_PER_HOUR)


# --- threading --------------------------------------------------------------------------


def find_thread(parsed: ParsedMail) -> tuple[Ticket | None, bool]:
    """(ticket, proven): the ticket this message answers, and whether it quoted that
    ticket's reply token (S22)."""
    ids = parsed.thread_ids
    for message_id in ids:
        ours = notifications.parse_our_message_id(message_id)
        if ours is None:
            continue
        number, token = ours
        ticket = Ticket.objects.filter(number=number).first()
        if ticket is not None and ticket.check_reply_token(token):
            return ticket, True
    if ids:
        known = (
            Message.objects.filter(message_id__in=ids)
            .select_related("ticket")
            .order_by("-created_at")
            .first()
        )
        if known is not None:
            return known.ticket, False
    match = SUBJECT_NUMBER.search(parsed.subject)
    if match:
        return Ticket.objects.filter(number=int(match.group(1))).first(), False
    return None, False


def is_on_ticket(ticket: Ticket, address: str) -> bool:
    """Whether ``address`` is the requester's or a copied address of the ticket."""
    return (
        ticket.requester_email == address
        or Participant.objects.filter(ticket=ticket, email=address).exists()
    )


# --- senders ----------------------------------------------------------------------------


@dataclass
class Sender:
    user: User | None
    customer: Customer | None


def unverified_user(address: str, name: str = "") -> User:
    """The user for an address nobody knows: unverified, member of nothing (H2, U6)."""
    first, _sep, last = clean_text(name, 300).partition(" ")
    user, _created = User.objects.get_or_create(
        email=address,
        defaults={
            "status": User.Status.UNVERIFIED,
            "password": make_password(None),
            "first_name": first[:150],
            "last_name": last[:150],
        },
    )
    return user


def _match_sender(address: str, name: str) -> Sender:
    """Users first, then contacts (K9). A customer only when the address points at exactly
    one; else staff decide (the ticket has no customer until then)."""
    user = User.objects.filter(email=address).first()
    contact_customers = customers_for_sender(address)
    customer = None
    if user is not None and policy.user_may_act(user):
        # Own memberships only: a main account's user does not say which sub-account.
        member_of = [
            c
            for c in policy.actable_customers(user)
            if policy.customer_access(user, c).via == policy.Via.MEMBERSHIP
        ]
        if len(member_of) > 1:
            member_of = [c for c in member_of if c in contact_customers]
        if len(member_of) == 1:
            customer = member_of[0]
    if customer is None and len(contact_customers) == 1:
        customer = contact_customers[0]
    if user is None and not contact_customers:
        user = unverified_user(address, name)
    return Sender(user, customer)


def _copied_addresses(parsed: ParsedMail) -> list[str]:
    ours = notifications.our_addresses()
    result = []
    for address in [*parsed.to, *parsed.cc]:
        if address in ours or address == parsed.from_address or address in result:
            continue
        if not _valid_sender(address) or notifications.is_automated_address(address):
            continue
        result.append(address)
    return result[: services.MAX_PARTICIPANTS]


def _match_copied(address: str) -> tuple[str, User | None]:
    user = User.objects.filter(email=address).first()
    if user is None and not customers_for_sender(address):
        user = unverified_user(address)
    return address, user
