"""Reads for the delegation pages: the grants a customer gave or received, and a grant's
history as one side sees it (D7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext as _

from accounts.models import Customer, HostingAccount
from delegation.models import Grant, GrantEvent, GrantRequest, pending_first
from portal.pagination import PagedList, counts_query
from portal.prepared import PER_CUSTOMER, PreparedPages, PreparedQuery

_ACCOUNTS = Prefetch(
    "accounts",
    queryset=HostingAccount.objects.select_related("customer").order_by("kind", "name"),
)


def grants_given(grantor: Customer | int) -> QuerySet[Grant]:
    """The grantor's grants, newest first, with administrator and accounts in two queries."""
    return (
        Grant.objects.given_by(grantor)
        .select_related("agency")
        .prefetch_related(_ACCOUNTS)
        .order_by("-created_at", "-pk")
    )


def grants_received(agency: Customer | int) -> QuerySet[Grant]:
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


def grant_requests_of(grantor: Customer | int) -> QuerySet[GrantRequest]:
    return GrantRequest.objects.filter(grantor=grantor).select_related("created_customer")


# --- the two list pages, compiled once per process (make bench) -----------------------
#
# Building and compiling the lists' querysets (count, page, grantors, accounts) cost more
# Python than the rest of each view: about 8 ms of 16. The same queries, with the same
# order and the same rows, are compiled once here; PostgreSQL still plans each call for its
# values (server_side=False: a customer with two grants or with 6,000).


# The columns the lists show (grant_table.html: the state as of now, the end, the date
# made) and the other side's name and number: of eleven grant and eleven customer columns,
# the six unshown dates were a third of the time spent reading a page's rows.
_LISTED = ("state", "key_hash", "key_expires_at", "ends_at", "created_at")


def _given(customer_id):
    return (
        grants_given(customer_id)
        .prefetch_related(None)  # names: GrantList
        .only(*_LISTED, "agency__name", "agency__number")
    )


def _received(customer_id):
    return grants_received(customer_id).prefetch_related(None)


def _given_count(customer_id):
    return counts_query(customer_id, {"grants": _given(customer_id)})


def _received_count(customer_id):
    return counts_query(customer_id, {"grants": _received(customer_id)})


def _received_page(grants: QuerySet[Grant], offset: int, size: int) -> QuerySet[Grant]:
    """The page is picked from the agency's grants alone (the index's order, see
    grants_received); only its grants are then joined with their grantors."""
    return (
        Grant.objects.filter(pk__in=grants.values("pk")[offset : offset + size])
        .select_related("grantor")
        .only(*_LISTED, "grantor__name", "grantor__number")
        .annotate(pending_first=pending_first())
        .order_by("pending_first", "-created_at", "-pk")
    )


_GIVEN_COUNT = PreparedQuery(_given_count, server_side=PER_CUSTOMER, customer_id=int)
_RECEIVED_COUNT = PreparedQuery(_received_count, server_side=PER_CUSTOMER, customer_id=int)
_GIVEN_PAGES = PreparedPages(_given, server_side=PER_CUSTOMER)
_RECEIVED_PAGES = PreparedPages(_received, page=_received_page, server_side=PER_CUSTOMER)


def _ids(size: int) -> dict[str, type]:
    return {f"id{n}": int for n in range(size)}


@lru_cache(maxsize=4)
def _account_names(size: int) -> PreparedQuery:
    """The names of the hosting accounts of up to ``size`` grants, in the order of
    ``_ACCOUNTS`` (kind, name)."""

    def account_names(**ids):
        return (
            Grant.accounts.through.objects.filter(grant_id__in=list(ids.values()))
            .order_by("hostingaccount__kind", "hostingaccount__name", "hostingaccount_id")
            .values("grant_id", "hostingaccount__name")
        )

    return PreparedQuery(account_names, server_side=False, **_ids(size))


def _padded(ids: list[int], size: int) -> dict[str, int]:
    """``size`` parameters for an ``IN`` list: the ids, then the first one repeated."""
    ids = ids + [ids[0]] * (size - len(ids))
    return {f"id{n}": value for n, value in enumerate(ids)}


class GrantList(PagedList):
    """The object list of a ``Paginator`` over a customer's grants, given (the grantor's
    list, D1, D2: as ``grants_given``) or received (the administrator's list, D3, D4: as
    ``grants_received``): its count, and a page's grants with their administrator or
    grantor and, as ``account_names``, the names of their hosting accounts. Each query
    is compiled once per process."""

    def __init__(self, customer: Customer, *, received: bool, page_size: int):
        counter = _RECEIVED_COUNT if received else _GIVEN_COUNT
        pages = _RECEIVED_PAGES if received else _GIVEN_PAGES
        super().__init__(
            lambda: counter(customer_id=customer.pk)[0]["n_grants"],
            lambda offset, size: pages(customer.pk, offset, size),
            page_size,
        )

    def __getitem__(self, key: slice) -> list[Grant]:
        grants = super().__getitem__(key)
        if not grants:
            return grants
        size = self.page_size
        ids = [grant.pk for grant in grants]
        names: dict[int, list[str]] = {pk: [] for pk in ids}
        for row in _account_names(size)(**_padded(ids, size)):
            names[row["grant_id"]].append(row["hostingaccount__name"])
        for grant in grants:
            grant.account_names = names[grant.pk]
        return grants


@lru_cache(maxsize=4)
def _grant_requests(limit: int) -> PreparedQuery:
    def grant_requests(customer_id):
        return grant_requests_of(customer_id)[:limit]

    return PreparedQuery(grant_requests, server_side=PER_CUSTOMER, customer_id=int)


def latest_grant_requests(grantor: Customer, limit: int) -> list[GrantRequest]:
    """``grant_requests_of(grantor)[:limit]``, compiled once per process."""
    return _grant_requests(limit)(customer_id=grantor.pk)


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
