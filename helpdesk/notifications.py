"""Mail the helpdesk sends, one function per message, all through ``portal.mail.queue``.

Every message about a ticket has the ticket number in its subject (``[#T-100042] …``) and
our own Message-ID ``<t100042.<reply token>.<nonce>@<our domain>>``, with In-Reply-To and
References pointing at the ticket's earlier messages, so that mail clients thread it and
a reply can be matched to its ticket (H2). The reply token in the Message-ID is the proof
that a reply comes from someone who received our mail about that ticket (S22).

Recipients are the ticket's participants: the requester and the copied addresses (H3).
When none of them can be reached any more — the requester left the organisation and
nobody is copied (U4) — and for notices to an organisation as a whole (a technical
administrator opened a ticket about one of its accounts, D5), the contact routing
function chooses, ``contacts.selectors.recipients_for(customer, SUPPORT)`` (K5), and the
members who chose support mails and see all tickets get it too
(``notification_recipients``, U3).
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from contacts.models import Category
from contacts.selectors import notification_recipients
from portal import mail

OUR_MESSAGE_ID = re.compile(r"^t(\d{1,18})\.([0-9a-f]{32})\.[0-9a-f]{8,32}@(.+)$")
# Message-IDs made by portal.mail.new_message_id (make_msgid): time.pid.random@domain
PORTAL_MESSAGE_ID = re.compile(r"^\d{10,}\.\d+\.\d+@(.+)$")
AUTOMATED_LOCALPARTS = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|noreply[-+.].*|no-reply[-+.].*)$"
)


def new_message_id(ticket) -> str:
    """A Message-ID for mail about ``ticket`` carrying its reply token (S22)."""
    nonce = secrets.token_hex(8)
    return f"t{ticket.number}.{ticket.reply_token()}.{nonce}@{mail.mail_domain()}"


def parse_our_message_id(message_id: str) -> tuple[int, str] | None:
    """(ticket number, token) from one of our Message-IDs, or None."""
    match = OUR_MESSAGE_ID.match(message_id or "")
    if match is None or match.group(3) != mail.mail_domain().lower():
        return None
    return int(match.group(1)), match.group(2)


def is_our_message_id(message_id: str) -> bool:
    """Whether the portal made this Message-ID: our mail came back to us (S21)."""
    if parse_our_message_id(message_id) is not None:
        return True
    match = PORTAL_MESSAGE_ID.match(message_id or "")
    return bool(match and match.group(1) == mail.mail_domain().lower())


def our_addresses() -> set[str]:
    """The addresses mail to and from the helpdesk uses; never a participant, never
    answered (S21)."""
    addresses = {settings.SUPPORT_EMAIL, settings.DEFAULT_FROM_EMAIL, settings.SERVER_EMAIL}
    return {a.rsplit("<", 1)[-1].rstrip(">").strip().lower() for a in addresses if a}


def is_automated_address(address: str) -> bool:
    """mailer-daemon, no-reply and the like, and our own addresses: never answered."""
    address = (address or "").lower()
    if address in our_addresses():
        return True
    return bool(AUTOMATED_LOCALPARTS.match(address.split("@", 1)[0]))


def _mid(value: str) -> str:
    return f"<{value}>"


def _thread_headers(ticket, message_id: str) -> dict:
    """Message-ID, In-Reply-To and References for a new mail about ``ticket``."""
    earlier = list(
        ticket.messages.exclude(message_id="")
        .exclude(message_id=message_id)
        .order_by("-created_at", "-id")
        .values_list("message_id", flat=True)[:10]
    )
    earlier.reverse()
    headers = {
        "Message-ID": _mid(message_id),
        "Reply-To": settings.SUPPORT_EMAIL,
        "X-Loop": settings.SUPPORT_EMAIL,
        "X-Portal-Ticket": ticket.display_number,
    }
    if earlier:
        headers["In-Reply-To"] = _mid(earlier[-1])
        headers["References"] = " ".join(_mid(m) for m in earlier)
    return headers


def _reachable(email: str, user: User | None) -> bool:
    if not email or is_automated_address(email):
        return False
    # Someone who left (U4) is not written to about the organisation's tickets any more.
    return user is None or user.status != User.Status.INACTIVE


def participants(ticket) -> tuple[list[str], list[str]]:
    """(to, cc) for mail about ``ticket``: the requester, then the copied addresses; the
    organisation's support recipients when none of them can be reached (U4)."""
    to = []
    if _reachable(ticket.requester_email, ticket.requester):
        to.append(ticket.requester_email)
    cc = [
        p.email
        for p in ticket.participants.select_related("user").order_by("id")
        if _reachable(p.email, p.user)
    ]
    if not to and cc:
        to.append(cc.pop(0))
    if not to and ticket.customer_id is not None:
        to = notification_recipients(ticket.customer, Category.SUPPORT)
    return to, [a for a in cc if a not in to]


def _language(ticket) -> str:
    if ticket.requester is not None:
        return ticket.requester.language
    return settings.LANGUAGE_CODE


def _context(ticket, **extra) -> dict:
    link = ""
    if ticket.customer_id is not None:
        link = settings.PORTAL_BASE_URL + ticket.get_absolute_url()
    return {"ticket": ticket, "link": link, "support_email": settings.SUPPORT_EMAIL, **extra}


def acknowledge(ticket, to: str) -> None:
    """RFC 3834 auto-reply to someone who opened a ticket by mail (H2). The caller checks
    that the mail was not automated and the per-sender cap (S21)."""
    message_id = new_message_id(ticket)
    headers = _thread_headers(ticket, message_id)
    headers["Auto-Submitted"] = "auto-replied"
    mail.queue(
        kind="ticket_received",
        to=[to],
        template="helpdesk/mail/ticket_received",
        context=_context(ticket),
        language=_language(ticket),
        headers=headers,
        automatic=True,
    )


def staff_replied(ticket, message) -> None:
    """A staff reply to the requester and the copied addresses (H3). Written by a person,
    so not marked Auto-Submitted."""
    to, cc = participants(ticket)
    mail.queue(
        kind="ticket_reply",
        to=to,
        cc=cc,
        template="helpdesk/mail/staff_reply",
        context=_context(ticket, message=message),
        language=_language(ticket),
        headers=_thread_headers(ticket, message.message_id),
        automatic=False,
    )


def status_changed(ticket, old_status: str) -> None:
    """Staff changed the status (H3)."""
    to, cc = participants(ticket)
    mail.queue(
        kind="ticket_status",
        to=to,
        cc=cc,
        template="helpdesk/mail/status_changed",
        context=_context(
            ticket, old_status=ticket.Status(old_status).label, changed_at=timezone.now()
        ),
        language=_language(ticket),
        headers=_thread_headers(ticket, new_message_id(ticket)),
        automatic=True,
    )


def delegate_ticket_opened(ticket) -> None:
    """Tell the grantor that its technical administrator opened a ticket about one of its
    accounts (D5), through the contact routing function (K5)."""
    mail.queue(
        kind="ticket_delegate_opened",
        to=notification_recipients(ticket.customer, Category.SUPPORT),
        template="helpdesk/mail/delegate_ticket_opened",
        context=_context(ticket),
        headers=_thread_headers(ticket, new_message_id(ticket)),
        automatic=True,
    )
