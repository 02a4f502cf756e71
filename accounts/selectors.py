"""Reads of the accounts app for the customer's pages (STYLE.md: selectors).

Each takes the customer the view already obtained through the policy; none decides access.
"""

from __future__ import annotations

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
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


def members_of(customer: Customer) -> QuerySet[Membership]:
    """The customer's memberships, owners first. The user's status is not shown to
    customers: only staff see who is inactive (U4)."""
    return (
        Membership.objects.filter(customer=customer)
        .select_related("user")
        .order_by("-is_owner", "user__last_name", "user__first_name", "user__email")
    )


def invitations_of(customer: Customer) -> QuerySet[Invitation]:
    """Every invitation of the customer, newest first: pending, accepted, cancelled and
    expired alike (they stay visible as such)."""
    return Invitation.objects.filter(customer=customer).select_related("invited_by")


def users_reported_left(customer: Customer) -> set[int]:
    """Ids of users the customer has told support have left, while staff have not yet
    handled it."""
    return set(
        StaffRequest.objects.filter(
            customer=customer,
            kind=StaffRequest.Kind.USER_LEFT,
            state=StaffRequest.State.OPEN,
        ).values_list("user_id", flat=True)
    )


def sub_accounts_of(main: Customer) -> QuerySet[Customer]:
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
        Customer.objects.filter(parent=main)
        .annotate(hosting_account_count=Coalesce(Subquery(accounts), 0))
        .order_by("name", "number")
    )


def pending_link_requests(
    customer: Customer, *, sent: bool, received: bool
) -> tuple[list[SubAccountLinkRequest], list[SubAccountLinkRequest]]:
    """Requests still waiting for an owner (C2), in one query: those the customer made as a
    main account (``sent``) and those to link it as a sub-account of another
    (``received``); each list only when asked for, newest first."""
    wanted = Q()
    if sent:
        wanted |= Q(main=customer)
    if received:
        wanted |= Q(sub=customer)
    if not wanted:
        return [], []
    rows = list(
        SubAccountLinkRequest.objects.filter(wanted, state=SubAccountLinkRequest.State.PENDING)
        .select_related("main", "sub", "requested_by")
        .order_by("-created_at", "-pk")
    )
    return (
        [r for r in rows if sent and r.main_id == customer.pk],
        [r for r in rows if received and r.sub_id == customer.pk],
    )


def audit_events_of(customer: Customer) -> QuerySet[AuditEvent]:
    """The customer's own audit trail, newest first (S27)."""
    return AuditEvent.objects.filter(customer=customer).select_related("actor")


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
