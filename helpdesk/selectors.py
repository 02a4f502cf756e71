"""Reads of the helpdesk: filtering and searching a list of tickets, a ticket's conversation.

Which tickets a user may see at all comes from ``portal.policy.visible_tickets``; these
functions only narrow it down.
"""

from __future__ import annotations

import re

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from helpdesk.models import Attachment, Message, Ticket

_NUMBER = re.compile(r"^\s*#?\s*(?:T-?)?(\d{1,18})\s*$", re.IGNORECASE)


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
    return tickets.for_list().order_by("-updated_at", "-id")


def conversation(ticket: Ticket) -> QuerySet[Message]:
    """What the customer sees of a ticket: every message but internal notes, with files."""
    return (
        ticket.messages.exclude(kind=Message.Kind.NOTE)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )
