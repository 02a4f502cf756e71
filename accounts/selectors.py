"""Reads of the accounts app for the customer's pages (STYLE.md: selectors).

Each takes the customer the view already obtained through the policy; none decides access.
"""

from __future__ import annotations

from functools import partial

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from accounts.models import (
    AccessReview,
    AuditEvent,
    Customer,
    HostingAccount,
    Invitation,
    Membership,
    StaffRequest,
    SubAccountLinkRequest,
)
from portal.pagination import CompiledList, PagedList, counts_query
from portal.prepared import PER_CUSTOMER, PreparedPages, PreparedQuery

# What the users page reads of a person (User.__str__ and the rows): the rest of a user's
# row (the password hash, three dates) is not loaded for its 25 + 25 people (make bench).
_PERSON = ("email", "first_name", "last_name")


def _members(customer_id: int) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(customer_id=customer_id)
        .select_related("user")
        # Owners first, then by the person's name: the membership's copies of the user's
        # names, so that the index membership_list_order gives the order (make bench).
        .order_by(*Membership.LIST_ORDER)
    )


def members_of(customer: Customer) -> QuerySet[Membership]:
    """The customer's memberships, owners first. The user's status is not shown to
    customers: only staff see who is inactive (U4)."""
    return _members(customer.pk)


def _invitations(customer_id: int) -> QuerySet[Invitation]:
    return Invitation.objects.filter(customer_id=customer_id).select_related("invited_by")


def invitations_of(customer: Customer) -> QuerySet[Invitation]:
    """Every invitation of the customer, newest first: pending, accepted, cancelled and
    expired alike (they stay visible as such)."""
    return _invitations(customer.pk)


def _reported_left() -> Exists:
    """Whether the customer has told support the member has left, while staff have not yet
    handled it (U4): an open "has left" request for the membership's user."""
    return Exists(
        StaffRequest.objects.filter(
            customer_id=OuterRef("customer_id"),
            user_id=OuterRef("user_id"),
            kind=StaffRequest.Kind.USER_LEFT,
            state=StaffRequest.State.OPEN,
        )
    )


def _members_reported(customer_id: int) -> QuerySet[Membership]:
    own = [f.name for f in Membership._meta.concrete_fields if not f.name.startswith("sort_")]
    return (
        _members(customer_id)
        .only(*own, *(f"user__{name}" for name in _PERSON))
        .annotate(reported_left=_reported_left())
    )


def _invitations_shown(customer_id: int) -> QuerySet[Invitation]:
    shown = ("customer", "email", "state", "created_at", "expires_at", "invited_by")
    return _invitations(customer_id).only(
        *Invitation.choice_fields(), *shown, *(f"invited_by__{name}" for name in _PERSON)
    )


def _member_list_counts(customer_id: int) -> QuerySet:
    return counts_query(
        customer_id, {"members": _members(customer_id), "invitations": _invitations(customer_id)}
    )


# Compiled once per process (make bench: building and compiling the count took 1.5 ms a
# view); prepared on the server per customer, planned for its sizes.
_MEMBER_LIST_COUNTS = PreparedQuery(_member_list_counts, server_side=PER_CUSTOMER, customer_id=int)


def member_list_counts(customer: Customer) -> dict[str, int]:
    """How many members and invitations the customer has (``members_of``,
    ``invitations_of``), in one query (``portal.pagination.counts_query``) (U2)."""
    (row,) = _MEMBER_LIST_COUNTS(customer_id=customer.pk)
    return {"members": row["n_members"], "invitations": row["n_invitations"]}


def _members_page(members: QuerySet[Membership], offset: int, size: int) -> QuerySet[Membership]:
    """A page of ``members`` in the order of the index membership_list_order. Past the
    first page the page's ids are picked from the index alone, so that the members before
    it are neither joined with their users nor asked whether they were reported as left
    (make bench, the 40th page of 1,000 members: 2.0 → 0.9 ms). The first page reads
    its rows straight from the index: the subquery would only add planning (0.2 ms)."""
    if not offset:
        return members[:size]
    return members.filter(pk__in=members.values("pk")[offset : offset + size])


_MEMBER_PAGES = PreparedPages(_members_reported, page=_members_page, server_side=PER_CUSTOMER)
_INVITATION_PAGES = PreparedPages(_invitations_shown, server_side=PER_CUSTOMER)


def members_page(customer: Customer, offset: int, size: int) -> list[Membership]:
    """The ``size`` rows of ``members_of(customer)`` from ``offset`` on (a page), each with
    ``reported_left``: whether the customer has told support the person has left, while
    staff have not yet handled it (U4). Compiled once per page (make bench: building and
    compiling the query cost more than running it)."""
    return _MEMBER_PAGES(customer.pk, offset, size)


def invitations_page(customer: Customer, offset: int, size: int) -> list[Invitation]:
    """The ``size`` rows of ``invitations_of(customer)`` from ``offset`` on (a page),
    compiled once per page."""
    return _INVITATION_PAGES(customer.pk, offset, size)


def sub_accounts_of(main: Customer) -> QuerySet[Customer]:
    """The main account's sub-accounts with their number of hosting accounts (C3, C4):
    ``_sub_accounts``."""
    return _sub_accounts(main.pk)


def sub_accounts_paged(main: Customer, page_size: int) -> PagedList:
    """``sub_accounts_of`` for a ``Paginator``, compiled once (make bench)."""
    return _SUB_ACCOUNT_LIST.paged(main.pk, page_size)


def _sub_accounts(main_id) -> QuerySet[Customer]:
    """The main account's sub-accounts with their number of hosting accounts (C3, C4).

    The number is a subquery rather than a join with GROUP BY, so that the paginator's
    count is a plain count of sub-accounts and the numbers are computed for the rows of
    the page only (make bench: a main account with 1,000 sub-accounts)."""
    accounts = (
        HostingAccount.objects.filter(customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Customer.objects.filter(parent_id=main_id)
        .annotate(hosting_account_count=Coalesce(Subquery(accounts), 0))
        .order_by("name", "number")
    )


_SUB_ACCOUNT_LIST = CompiledList(_sub_accounts)


def _pending_links(customer_id, *, sent: bool, received: bool):
    wanted = Q()
    if sent:
        wanted |= Q(main_id=customer_id)
    if received:
        wanted |= Q(sub_id=customer_id)
    return (
        SubAccountLinkRequest.objects.filter(wanted, state=SubAccountLinkRequest.State.PENDING)
        .select_related("main", "sub", "requested_by")
        .order_by("-created_at", "-pk")
    )


# Compiled once per process for each of the three shapes (make bench: building the
# query cost about 1 ms of every sub-account page view); planned per call.
_PENDING_LINKS = {
    (sent, received): PreparedQuery(
        partial(_pending_links, sent=sent, received=received),
        server_side=PER_CUSTOMER,
        customer_id=int,
    )
    for sent, received in ((True, True), (True, False), (False, True))
}


def pending_link_requests(
    customer: Customer, *, sent: bool, received: bool
) -> tuple[list[SubAccountLinkRequest], list[SubAccountLinkRequest]]:
    """Requests still waiting for an owner (C2), in one query: those the customer made as a
    main account (``sent``) and those to link it as a sub-account of another
    (``received``); each list only when asked for, newest first."""
    if not (sent or received):
        return [], []
    rows = _PENDING_LINKS[sent, received](customer_id=customer.pk)
    return (
        [r for r in rows if sent and r.main_id == customer.pk],
        [r for r in rows if received and r.sub_id == customer.pk],
    )


def _audit_events(customer_id):
    """The customer's own audit trail, newest first (S27)."""
    return AuditEvent.objects.filter(customer_id=customer_id).select_related("actor")


# The trail only grows: counted up to COUNT_CAP + 1 events (CappedCountPaginator).
_AUDIT_LIST = CompiledList(_audit_events, capped=True)


def audit_events_paged(customer: Customer, page_size: int) -> PagedList:
    """The customer's audit trail for a ``CappedCountPaginator``, compiled once (make bench)."""
    return _AUDIT_LIST.paged(customer.pk, page_size)


def access_review_of(customer: Customer) -> AccessReview:
    """The customer's access review (issue 7), or an unsaved one with the defaults: due
    90 days after the customer was created."""
    if Customer.access_review.is_cached(customer):  # read with the memberships (policy)
        review = getattr(customer, "access_review", None)
    else:
        review = (
            AccessReview.objects.filter(customer=customer).select_related("confirmed_by").first()
        )
    if review is None:
        review = AccessReview(customer=customer, due_at=AccessReview.first_due(customer))
    return review
