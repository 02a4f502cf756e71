"""Reads for the delegation pages: the grants a customer gave or received, and a grant's
history as one side sees it (D7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from accounts.models import Customer, HostingAccount
from delegation.models import Grant, GrantEvent, GrantRequest, pending_first

_ACCOUNTS = Prefetch(
    "accounts",
    queryset=HostingAccount.objects.select_related("customer").order_by("kind", "name"),
)


def grants_given(grantor: Customer) -> QuerySet[Grant]:
    """The grantor's grants, newest first, with administrator and accounts in two queries."""
    return (
        Grant.objects.given_by(grantor)
        .select_related("agency")
        .prefetch_related(_ACCOUNTS)
        .order_by("-created_at", "-pk")
    )


def grants_received(agency: Customer) -> QuerySet[Grant]:
    """Grants addressed to the agency: pending requests first, then the newest.

    The grantors come in a query of their own for the page's grants: joined in, every
    grant of the agency was joined with its grantor before the sort picked a page (make
    bench: 6,000 grants, a full read of the customers on every view)."""
    return (
        Grant.objects.addressed_to(agency)
        .prefetch_related("grantor", _ACCOUNTS)
        .annotate(pending_first=pending_first())  # an index serves this order
        .order_by("pending_first", "-created_at", "-pk")
    )


def grant_requests_of(grantor: Customer) -> QuerySet[GrantRequest]:
    return GrantRequest.objects.filter(grantor=grantor).select_related("created_customer")


@dataclass(frozen=True)
class HistoryRow:
    at: datetime
    what: str
    who: str


def history(grant: Grant, side: str) -> list[HistoryRow]:
    """The grant's events for one side (D7). People are named only to their own side;
    the other side sees the customer's name, so that neither learns the other's users
    (D4: no grantor's users for the delegate)."""
    names = {
        GrantEvent.Side.GRANTOR: grant.grantor.name,
        GrantEvent.Side.AGENCY: grant.agency.name,
        GrantEvent.Side.SYSTEM: _("the portal"),
    }
    rows = []
    for event in grant.events.select_related("actor").order_by("at", "pk"):
        who = names[event.side]
        if event.side == side and event.actor is not None:
            who = f"{event.actor.get_full_name() or event.actor.email} ({who})"
        rows.append(HistoryRow(at=event.at, what=event.get_kind_display(), who=who))
    return rows
