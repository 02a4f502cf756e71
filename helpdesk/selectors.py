"""Reads of the helpdesk: filtering and searching a list of tickets, a ticket's conversation.

Which tickets a user may see at all comes from ``portal.policy.visible_tickets``; these
functions only narrow it down.
"""

from __future__ import annotations

import re

from django.db.models import Exists, OuterRef, Q, QuerySet

from helpdesk.models import Attachment, Message, Ticket
from portal.pagination import CompiledList, PagedList
from portal.prepared import PreparedQuery

_NUMBER = re.compile(r"^\s*#?\s*(?:T-?)?(\d{1,18})\s*$", re.IGNORECASE)


_ROW_FIELDS = (
    "number",
    "customer_id",
    "customer__number",
    "customer__name",
    "account_id",
    "account__name",
    "requester_id",
    "requester__email",
    "requester__first_name",
    "requester__last_name",
    "requester_email",
    "subject",
    "status",
    "updated_at",
)


def tickets_filtered(tickets: QuerySet[Ticket], *, status: str = "", query: str = "") -> QuerySet:
    """Narrow ``tickets`` by status ("open" = not closed, the default) and a search term:
    a ticket number, or words in the subject or the conversation. Internal notes are never
    searched, so that a search cannot probe what staff wrote about a customer (H4)."""
    if status in ("", "open"):
        tickets = tickets.exclude(status=Ticket.Status.CLOSED)
    elif status in Ticket.Status.values:
        tickets = tickets.filter(status=status)
    query = (query or "").strip()
    if query:
        number = _NUMBER.match(query)
        if number:
            tickets = tickets.filter(number=int(number.group(1)))
        else:
            in_conversation = Message.objects.filter(
                ticket=OuterRef("pk"), body__icontains=query
            ).exclude(kind=Message.Kind.NOTE)
            tickets = tickets.filter(Q(subject__icontains=query) | Exists(in_conversation))
    return _as_rows(tickets)


def _as_rows(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    # What a row shows (helpdesk/ticket_table.html): not the requester's password hash,
    # dates and flags, nor the customer's and account's addresses (make bench).
    return tickets.for_list().only(*_ROW_FIELDS).order_by("-updated_at", "-id")


def _open_tickets(customer_id):
    return _as_rows(
        Ticket.objects.filter(customer_id=customer_id).exclude(status=Ticket.Status.CLOSED)
    )


def _tickets_in_status(customer_id, status):
    return _as_rows(Ticket.objects.filter(customer_id=customer_id, status=status))


def _all_tickets(customer_id):
    return _as_rows(Ticket.objects.filter(customer_id=customer_id))


# A customer's whole list as its managers see it, unsearched (H3): compiled once per
# process, counted up to COUNT_CAP + 1 tickets (make bench: 50,000 tickets).
_OPEN_LIST = CompiledList(_open_tickets, capped=True)
_STATUS_LIST = CompiledList(_tickets_in_status, capped=True, status=str)
_ALL_LIST = CompiledList(_all_tickets, capped=True)


def own_tickets_paged(customer, status: str, page_size: int) -> PagedList:
    """``tickets_filtered`` of all the customer's own tickets without a search, for a
    ``CappedCountPaginator``: "open" (or "") for those not closed, a status, or all of
    them for anything else (as ``tickets_filtered``)."""
    if status in ("", "open"):
        return _OPEN_LIST.paged(customer.pk, page_size)
    if status in Ticket.Status.values:
        return _STATUS_LIST.paged(customer.pk, page_size, status=status)
    return _ALL_LIST.paged(customer.pk, page_size)


_MESSAGE_FIELDS = ("ticket_id", "kind", "author_id", "author_email", "body", "source", "created_at")


def _conversation_messages(ticket_id):
    return (
        Message.objects.filter(ticket_id=ticket_id)
        .exclude(kind=Message.Kind.NOTE)
        .select_related("author")
        # What the page shows of a message and its author (User.__str__): not the
        # author's password hash, dates and flags (0.4 ms of 43 rows, make bench).
        .only(*_MESSAGE_FIELDS, "author__email", "author__first_name", "author__last_name")
        .order_by("created_at", "id")
    )


def _conversation_files(ticket_id):
    return (
        Attachment.objects.filter(message__ticket_id=ticket_id)
        .exclude(message__kind=Message.Kind.NOTE)
        .order_by("id")
    )


# Compiled once per process (make bench: building and compiling them, and Django's
# prefetch cloning a queryset for each message, cost 2-3 ms of the ticket page's Python
# on every view). Prepared on the server per ticket: a conversation may be short or very
# long, and PostgreSQL plans it knowing which.
_MESSAGES = PreparedQuery(_conversation_messages, server_side=("ticket_id",), ticket_id=int)
_FILES = PreparedQuery(_conversation_files, server_side=("ticket_id",), ticket_id=int)


def conversation(ticket: Ticket) -> list[Message]:
    """What the customer sees of a ticket: every message but internal notes, oldest
    first, each with its files (``message.files``, by id)."""
    messages = _MESSAGES(ticket_id=ticket.pk)
    by_id = {}
    for message in messages:
        message.ticket = ticket
        message.files = []
        by_id[message.pk] = message
    if messages:  # as a prefetch: no query for a conversation without messages
        for file in _FILES(ticket_id=ticket.pk):
            message = by_id[file.message_id]
            file.message = message
            message.files.append(file)
    return messages
