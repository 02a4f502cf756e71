"""The one access policy of the portal.

Every view asks this module whether the signed-in user may do something, and nothing
else in the portal consults memberships, main-account links, grants or django-guardian.
Each decision comes with a reason ("member with manage contacts", "via main account
K-100231", "grant #42 until 2027-01-31"), so that the access overview can explain
exactly what the portal enforces.

Answers to views: an object the user cannot see at all is a 404, an object the user
can see but not act on in that way is a 403 (STYLE.md, "Authorisation: one policy").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connections, router
from django.db.models import (
    Case,
    CharField,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Cast, Coalesce, Lower
from django.http import Http404
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from guardian.models import GroupObjectPermission, UserObjectPermission

from accounts.models import (
    Customer,
    CustomerGroup,
    HostingAccount,
    Invitation,
    Membership,
    SubAccountLinkRequest,
    User,
    UserSession,
)
from delegation.models import DelegatedAccount, Grant, live_q, open_q
from portal.pagination import COUNT_CAP, CompiledList, PagedList, counts_query
from portal.prepared import PER_CUSTOMER, PreparedPages, PreparedQuery

MANAGE_ACCOUNT_PERM = "accounts.manage_hostingaccount"
# The membership flag with which an agency's users use the accounts granted to it (D4).
DELEGATE_FLAG = "can_manage_delegations"


class Action(StrEnum):
    """What someone wants to do. Customer-wide actions map to a membership flag (U3)."""

    VIEW_CUSTOMER = "view_customer"  # see the customer's dashboard at all
    VIEW_PRODUCTS = "view_products"
    CHANGE_DNS = "change_dns"
    VIEW_INVOICES = "view_invoices"
    MANAGE_CONTACTS = "manage_contacts"
    MANAGE_USERS = "manage_users"
    MANAGE_DELEGATIONS = "manage_delegations"
    OPEN_TICKETS = "open_tickets"
    SEE_ALL_TICKETS = "see_all_tickets"
    MANAGE_SUB_ACCOUNTS = "manage_sub_accounts"
    CUSTOMER_SETTINGS = "customer_settings"
    # Per hosting account
    VIEW_ACCOUNT = "view_account"
    CHANGE_ACCOUNT = "change_account"


# Which membership flag each customer-wide action needs. None: any membership will do.
# Owner-only actions map to "is_owner".
ACTION_FLAGS: dict[Action, str | None] = {
    Action.VIEW_CUSTOMER: None,
    Action.VIEW_PRODUCTS: "can_view_products",
    Action.CHANGE_DNS: "can_change_dns",
    Action.VIEW_INVOICES: "can_view_invoices",
    Action.MANAGE_CONTACTS: "can_manage_contacts",
    Action.MANAGE_USERS: "can_manage_users",
    Action.MANAGE_DELEGATIONS: "can_manage_delegations",
    Action.OPEN_TICKETS: "can_open_tickets",
    Action.SEE_ALL_TICKETS: "can_see_all_tickets",
    Action.MANAGE_SUB_ACCOUNTS: "is_owner",
    Action.CUSTOMER_SETTINGS: "is_owner",
    Action.VIEW_ACCOUNT: "can_view_products",
    Action.CHANGE_ACCOUNT: "can_change_dns",
}


class Via(StrEnum):
    MEMBERSHIP = "membership"
    MAIN_ACCOUNT = "main_account"
    GRANT = "grant"


@dataclass(frozen=True)
class Access:
    """How a user reaches a customer (or one of its hosting accounts), and why."""

    via: Via
    customer: Customer
    membership: Membership | None = None
    grant: Grant | None = None

    @property
    def reason(self) -> str:
        if self.via == Via.MEMBERSHIP:
            return _("member of %(customer)s") % {"customer": self.customer.display_number}
        if self.via == Via.MAIN_ACCOUNT:
            return _("via main account %(main)s") % {
                "main": self.membership.customer.display_number
            }
        if self.grant.ends_at:
            return _("grant #%(id)s until %(end)s") % {
                "id": self.grant.pk,
                "end": formats.date_format(timezone.localtime(self.grant.ends_at), "DATE_FORMAT"),
            }
        return _("grant #%(id)s, no end date") % {"id": self.grant.pk}

    def allows(self, action: Action) -> bool:
        if self.via == Via.GRANT:
            # A delegate may view and change the granted accounts and open tickets about
            # them; nothing customer-wide (D4, D5).
            return action in (Action.VIEW_ACCOUNT, Action.CHANGE_ACCOUNT, Action.OPEN_TICKETS)
        if action == Action.VIEW_ACCOUNT:
            # Whoever may change an account's DNS may also open it.
            return self.membership.has_flag("can_view_products") or self.membership.has_flag(
                "can_change_dns"
            )
        flag = ACTION_FLAGS[action]
        if flag is None:
            return True
        if flag == "is_owner":
            return self.membership.is_owner
        return self.membership.has_flag(flag)


class TwoFactorRequired(PermissionDenied):
    """The customer requires two-factor sign-in and this session has not done it (U1)."""

    def __init__(self, customer: Customer):
        super().__init__("two-factor required")
        self.customer = customer


class RecentAuthRequired(PermissionDenied):
    """A sensitive change (delegations, two-factor, users) and this session last proved
    who it is too long ago: the person confirms it first (STYLE: a recent OTP)."""


# Session keys with times (``time.time()``): when the person signed in (the session's
# absolute lifetime counts from it, S15), and when they last proved who they are after
# that, with a code from their app (or, without two-factor, their password).
LOGIN_AT = "portal_login_at"
AUTH_AT = "portal_auth_at"


def require_recent_auth(request) -> None:
    """Raises RecentAuthRequired unless this session proved who it is — signing in counts —
    within ``settings.RECENT_AUTH_SECONDS``. Called by the views of sensitive changes after
    the access decision, so another tenant's object still answers 404 first."""
    proved = request.session.get(AUTH_AT, request.session.get(LOGIN_AT))
    if proved is None or time.time() - proved > settings.RECENT_AUTH_SECONDS:
        raise RecentAuthRequired("recent authentication required")


# --- who a user is -----------------------------------------------------------------


# The one status in which a user acts for anyone (U6, S6). ``user_may_act`` asks it of one
# user; ``acting_users_q`` is the same rule for queries (the access overview, mail lists).
ACTING_STATUS = User.Status.ACTIVE


def user_may_act(user) -> bool:
    """Only signed-in, active users act for anyone (U6, S6): inactive and unverified never."""
    return bool(
        user is not None
        and user.is_authenticated
        and getattr(user, "status", None) == ACTING_STATUS
    )


def acting_users_q(prefix: str = "") -> Q:
    """``user_may_act`` as a filter; ``prefix`` leads to the user (``"user__"``)."""
    return Q(**{f"{prefix}status": ACTING_STATUS})


def holds_q(flag: str, prefix: str = "") -> Q:
    """``PermissionSet.has_flag`` as a filter on memberships: owners hold every flag."""
    return Q(**{f"{prefix}is_owner": True}) | Q(**{f"{prefix}{flag}": True})


def _is_verified(user) -> bool:
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def _membership_rows(user_id):
    """The user's memberships with each customer (and its main account and access review),
    whether it has sub-accounts and whether it holds an active grant."""
    has_subs = Exists(Customer.objects.filter(parent_id=OuterRef("customer_id")))
    # Whether the customer holds a grant in the active state at all: without one it has
    # no delegated accounts, and the dashboard skips that list's query (4 ms to plan,
    # make bench). The list itself still checks each grant in full (D4).
    holds_grants = Exists(
        Grant.objects.filter(agency_id=OuterRef("customer_id"), state=Grant.State.ACTIVE)
    )
    return (
        Membership.objects.filter(user_id=user_id)
        .select_related(
            "customer",
            "customer__parent",
            # The dashboard's reminder and the access overview (issue 7).
            "customer__access_review",
            "customer__access_review__confirmed_by",
        )
        .annotate(customer_has_subs=has_subs, customer_holds_grants=holds_grants)
    )


# Compiled once per process: building and compiling this query cost 2.4 ms of the
# 2.9 ms it took, on every signed-in request (make bench).
_MEMBERSHIPS = PreparedQuery(_membership_rows, user_id=int)


def _memberships(user) -> dict[int, Membership]:
    """The user's memberships by customer id, loaded once per request, with each
    customer (and its main account) and whether it has sub-accounts: so that the page's
    customer and the account switcher usually need no query of their own."""
    cache = getattr(user, "_policy_memberships", None)
    if cache is None:
        cache = {m.customer_id: m for m in _MEMBERSHIPS(user_id=user.pk)}
        user._policy_memberships = cache
    return cache


def forget(user) -> None:
    """Drop what this module cached on the user object (after membership changes)."""
    for attr in ("_policy_memberships",):
        if hasattr(user, attr):
            delattr(user, attr)


# --- customers ---------------------------------------------------------------------


@dataclass(frozen=True)
class MembershipRoute:
    """One way a membership reaches a customer: through the membership in the customer
    ``source(customer)`` names. ``customer_access`` tries the routes in order for one user;
    the access overview lists, per route, every membership that takes it."""

    via: Via
    source: Callable[[Customer], int | None]


MEMBERSHIP_ROUTES: tuple[MembershipRoute, ...] = (
    # Own membership first (U3) ...
    MembershipRoute(Via.MEMBERSHIP, lambda customer: customer.pk),
    # ... else a membership in the main account reaches each sub-account (C1-C3).
    MembershipRoute(Via.MAIN_ACCOUNT, lambda customer: customer.parent_id),
)


def customer_access(user, customer: Customer) -> Access | None:
    """How the user acts in this customer: own membership first, else the main account's (C3)."""
    if not user_may_act(user):
        return None
    memberships = _memberships(user)
    for route in MEMBERSHIP_ROUTES:
        source = route.source(customer)
        membership = memberships.get(source) if source is not None else None
        if membership is not None:
            return Access(route.via, customer, membership=membership)
    return None


def requires_two_factor(customer: Customer) -> bool:
    if customer.requires_two_factor:
        return True
    parent = customer.parent if customer.parent_id else None
    return bool(parent and parent.requires_two_factor)


def can(user, action: Action, customer: Customer) -> bool:
    access = customer_access(user, customer)
    return bool(access and access.allows(action))


def _sub_accounts_by_name(main_id):
    return Customer.objects.filter(parent_id=main_id).order_by(Lower("name"), "number")


@lru_cache(maxsize=16)
def _first_subs(count: int) -> PreparedQuery:
    """A main account's first ``count`` sub-accounts by name (the switcher's order),
    compiled once per process for each count (make bench: on every page of a main
    account's users)."""

    def first_subs(main_id):
        return _sub_accounts_by_name(main_id)[:count]

    return PreparedQuery(first_subs, server_side=("main_id",), main_id=int)


def actable_customers(user, limit: int | None = None) -> list[Customer]:
    """Every customer the user may act in, for the account switcher: own memberships and
    the sub-accounts of main accounts they belong to (C3), by name.

    With ``limit``, at most ``limit + 1`` of them (the first by name; one more than asked
    says that there are more): a main account with a thousand sub-accounts then costs a
    page header no thousand rows (make bench)."""
    if not user_may_act(user):
        return []
    memberships = _memberships(user)
    customers = {m.customer_id: m.customer for m in memberships.values()}
    main_ids = [
        cid
        for cid, m in memberships.items()
        if m.customer.parent_id is None and m.customer_has_subs
    ]
    if len(main_ids) == 1 and limit is not None:
        # The usual case, compiled once: the main account's first sub-accounts by name,
        # as many more as the user's own customers that may be among them.
        first = _first_subs(limit + 1 + len(customers))(main_id=main_ids[0])
        for sub in [c for c in first if c.pk not in customers][: limit + 1]:
            customers[sub.pk] = sub
    elif main_ids:
        subs = Customer.objects.filter(parent_id__in=main_ids).exclude(pk__in=list(customers))
        if limit is not None:
            subs = subs.order_by(Lower("name"), "number")[: limit + 1]
        for sub in subs:
            customers.setdefault(sub.pk, sub)
    ordered = sorted(customers.values(), key=lambda c: (c.name.lower(), c.number))
    return ordered if limit is None else ordered[: limit + 1]


def sub_account_count(user, customer: Customer) -> int:
    """How many sub-accounts ``customer`` has (C3): no query where the user's memberships
    already say it has none."""
    if customer.parent_id is not None:
        return 0
    membership = _memberships(user).get(customer.pk) if user_may_act(user) else None
    if membership is not None and not membership.customer_has_subs:
        return 0
    return customer.sub_accounts.count()


def _own_customer(user, number: int) -> Customer | None:
    """The customer with this number if the user is a member of it: loaded with the
    memberships already (make bench: one query less on every customer page)."""
    if not user_may_act(user):
        return None
    for membership in _memberships(user).values():
        if membership.customer.number == number:
            return membership.customer
    return None


def get_customer_for(request, number: int, action: Action = Action.VIEW_CUSTOMER) -> Customer:
    """The customer named in the URL if the user may do ``action`` in it.

    404 when the user has no access to the customer at all, 403 when they have access but
    not this permission. Raises TwoFactorRequired where the customer demands two-factor.
    """
    customer = _own_customer(request.user, number)
    if customer is None:
        customer = Customer.objects.select_related("parent").filter(number=number).first()
    if customer is None:
        raise Http404
    access = customer_access(request.user, customer)
    if access is None:
        raise Http404
    if requires_two_factor(customer) and not _is_verified(request.user):
        raise TwoFactorRequired(customer)
    if not access.allows(action):
        raise PermissionDenied
    request.access = access
    return customer


# --- hosting accounts --------------------------------------------------------------


def customer_group(customer: Customer):
    """The guardian group of a customer, created on first use."""
    from django.contrib.auth.models import Group

    link = CustomerGroup.objects.select_related("group").filter(customer=customer).first()
    if link:
        return link.group
    group, _created = Group.objects.get_or_create(name=f"customer-{customer.number}")
    CustomerGroup.objects.get_or_create(customer=customer, defaults={"group": group})
    return group


def _manage_permission_rows(model) -> QuerySet:
    """Guardian's rows (``model``: user or group object permissions) for the manage
    permission on hosting accounts: one table, no content-type round trips.

    The content type is named by id (Django caches it per process) and the permission by
    a scalar subquery that PostgreSQL runs once. Joined in through the permission and
    content-type tables instead, the planner guessed that one row would match, and for
    an agency with 5,000 live grants compared every delegated account with every
    permission row as text: 12.5 million comparisons, 6 s per dashboard view (make bench,
    docs/PERFORMANCE.md). Named by id, the rows are looked up through guardian's own
    (group or user, permission, object) index."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    content_type = ContentType.objects.get_for_model(HostingAccount)
    permission = (
        Permission.objects.filter(content_type_id=content_type.pk, codename="manage_hostingaccount")
        .order_by()  # Permission's own order would join the content types again
        .values("pk")[:1]
    )
    return model.objects.filter(content_type_id=content_type.pk, permission_id=Subquery(permission))


def _restricted_rows(customer_id: int, user_ids: list[int]):
    """The customer's hosting accounts (with ``pk_text``, guardian's ``object_pk``) and
    the guardian rows giving one of them to one of ``user_ids`` (held by the user, not by
    a group)."""
    own = HostingAccount.objects.filter(customer_id=customer_id).annotate(
        pk_text=Cast("pk", CharField())
    )
    rows = _manage_permission_rows(UserObjectPermission).filter(
        user_id__in=user_ids, object_pk__in=own.values("pk_text")
    )
    return own, rows


def restricted_account_ids(customer_id: int, user_ids) -> dict[int, set[int]]:
    """For members restricted to chosen hosting accounts: which of the customer's accounts
    each user was given. One query for any number of users."""
    user_ids = list(user_ids)
    chosen: dict[int, set[int]] = {pk: set() for pk in user_ids}
    if not user_ids:
        return chosen
    _own, rows = _restricted_rows(customer_id, user_ids)
    for user_id, object_pk in rows.values_list("user_id", "object_pk"):
        chosen[user_id].add(int(object_pk))
    return chosen


def _restricted_account_names(customer_id: int, user_ids) -> dict[int, list[str]]:
    """``restricted_account_ids`` with the accounts' names, in the same single query."""
    names: dict[int, list[str]] = {pk: [] for pk in user_ids}
    own, rows = _restricted_rows(customer_id, list(names))
    named = rows.annotate(
        name=Subquery(own.filter(pk_text=OuterRef("object_pk")).values("name")[:1])
    )
    for user_id, name in named.values_list("user_id", "name"):
        names[user_id].append(name)
    return names


def chosen_accounts(membership: Membership) -> QuerySet[HostingAccount]:
    """The customer's hosting accounts a member limited to chosen accounts was given (U3),
    as a queryset to page through."""
    given = _manage_permission_rows(UserObjectPermission).filter(
        user_id=membership.user_id, object_pk=OuterRef("pk_text")
    )
    return (
        HostingAccount.objects.filter(customer_id=membership.customer_id)
        .annotate(pk_text=Cast("pk", CharField()))
        .filter(Exists(given))
    )


def member_account_give(membership: Membership, account: HostingAccount) -> None:
    """Let a member limited to chosen accounts act on ``account``; the caller
    (``accounts.services.membership_account_choose``) checks it is the customer's own."""
    from guardian.shortcuts import assign_perm

    assign_perm(MANAGE_ACCOUNT_PERM, membership.user, account)


def member_account_take(membership: Membership, account: HostingAccount) -> None:
    from guardian.shortcuts import remove_perm

    remove_perm(MANAGE_ACCOUNT_PERM, membership.user, account)


def _member_restricted_ids(user, membership: Membership) -> set[int]:
    return restricted_account_ids(membership.customer_id, [user.pk])[user.pk]


def _prefixed(q: Q, prefix: str) -> Q:
    """``q`` with every lookup led through ``prefix`` (``grant__``): one definition of a
    rule (``delegation.models.live_q``) filters the rows that point to it as well."""
    out = Q()
    out.connector, out.negated = q.connector, q.negated
    out.children = [
        _prefixed(child, prefix) if isinstance(child, Q) else (prefix + child[0], child[1])
        for child in q.children
    ]
    return out


def live_delegations(at=None, *, owner=None, agency=None, account=None) -> QuerySet:
    """The (grant, hosting account) pairs through which an agency's delegates reach an
    account right now (D4, D6, S5, S6): the grant is live (state and end time, checked
    here, never left to the job), the account is still the grantor's own, and the
    agency's guardian group holds the manage permission on it, so neither a stale
    guardian row nor a dead grant lets anyone in.

    Rows of ``Grant.accounts.through`` (``grant_id``, ``hostingaccount_id``).
    ``account_access`` asks it about one account, ``delegated_accounts`` for an agency,
    the access overview for a grantor.

    ``owner``: where the account's customer comes from, for a caller that has the account
    at hand already (``OuterRef("customer_id")`` in a subquery of hosting accounts);
    without it the pair's account is joined in to read it. ``agency``: only that agency's
    grants (the customer or its id); its guardian group is then read once for all pairs,
    not once per pair. ``account``: only the pairs of that account (an ``OuterRef`` in a
    subquery of hosting accounts); its guardian row is then looked up by the account's
    own id: through the pair's column, PostgreSQL read the agency's guardian rows in
    order until the account's turned up, up to 5,000 of them per account (make bench)."""
    agency_id = getattr(agency, "pk", agency)
    if account is None:
        object_pk = OuterRef("account_text")
    else:
        object_pk = Cast(OuterRef(account), CharField())
    permitted = _agency_permission(agency_id, object_pk)
    return (
        Grant.accounts.through.objects.filter(
            _prefixed(live_q(at or timezone.now()), "grant__"),
            grant__grantor_id=F("hostingaccount__customer_id") if owner is None else owner,
        )
        .filter(**({} if agency is None else {"grant__agency_id": agency_id}))
        .filter(**({} if account is None else {"hostingaccount_id": account}))
        .annotate(account_text=Cast("hostingaccount_id", CharField()))
        .filter(Exists(permitted))
    )


def _agency_permission(agency_id, object_pk) -> QuerySet:
    """The guardian row that lets the grant's agency (or the agency ``agency_id``) manage
    the account ``object_pk`` (an outer reference), for ``Exists`` in a query of
    ``Grant.accounts.through`` (``live_delegations``)."""
    # The agency's group by a scalar subquery (one group per customer): joined through
    # ``group__customer_link`` instead, every pair also read ``auth_group`` (make bench).
    agency_group = CustomerGroup.objects.filter(
        customer_id=OuterRef(OuterRef("grant__agency_id")) if agency_id is None else agency_id
    ).values("group_id")[:1]
    return _manage_permission_rows(GroupObjectPermission).filter(
        group_id=Subquery(agency_group), object_pk=object_pk
    )


def delegate_memberships(agency_ids) -> QuerySet[Membership]:
    """Memberships through which users use what is granted to these agencies (D4): owners
    and members allowed to manage delegations, of users who may act at all."""
    return Membership.objects.filter(
        holds_q(DELEGATE_FLAG), acting_users_q("user__"), customer_id__in=agency_ids
    )


def _delegate_grants(user, account: HostingAccount) -> list[Grant]:
    """Live grants through which the user's agencies manage this account (D4)."""
    agency_ids = [cid for cid, m in _memberships(user).items() if m.has_flag(DELEGATE_FLAG)]
    if not agency_ids:
        return []
    pairs = live_delegations().filter(hostingaccount=account, grant__agency_id__in=agency_ids)
    return list(
        Grant.objects.filter(pk__in=pairs.values("grant_id"))
        .select_related("agency")
        .order_by("-created_at", "-pk")
    )


def account_access(user, account: HostingAccount) -> Access | None:
    """How the user reaches one hosting account: membership (possibly restricted to chosen
    accounts), main account, or a live grant."""
    access = customer_access(user, account.customer)
    if access is not None:
        membership = access.membership
        if (
            access.via == Via.MEMBERSHIP
            and membership.restricted_to_accounts
            and not membership.is_owner
            and account.pk not in _member_restricted_ids(user, membership)
        ):
            access = None
        if access is not None:
            return access
    if not user_may_act(user):
        return None
    grants = _delegate_grants(user, account)
    if grants:
        return Access(Via.GRANT, account.customer, grant=grants[0])
    return None


def get_account_for(
    request, customer: Customer | int, account_id: int, action: Action = Action.VIEW_ACCOUNT
) -> HostingAccount:
    """A hosting account under its customer's path, if the user may do ``action`` on it.

    Delegates reach a grantor's account under the grantor's path and nothing else there.
    """
    number = customer.number if isinstance(customer, Customer) else customer
    account = (
        HostingAccount.objects.select_related("customer", "customer__parent")
        .filter(pk=account_id, customer__number=number)
        .first()
    )
    if account is None:
        raise Http404
    access = account_access(request.user, account)
    if access is None:
        raise Http404
    if access.via != Via.GRANT and requires_two_factor(account.customer):
        if not _is_verified(request.user):
            raise TwoFactorRequired(account.customer)
    if not access.allows(action):
        raise PermissionDenied
    request.access = access
    return account


def visible_accounts(user, customer: Customer) -> QuerySet[HostingAccount]:
    """The customer's own hosting accounts the user may see (not delegated ones)."""
    qs = HostingAccount.objects.filter(customer=customer).select_related("customer")
    scope = _account_scope(user, customer)
    if scope is None:
        return qs.none()
    if scope is _ALL:
        return qs
    return qs.filter(pk__in=scope)


_ALL = object()  # every account of the customer (_account_scope)


def _account_scope(user, customer: Customer):
    """Which of the customer's own accounts the user sees: None (none), ``_ALL``, or the
    ids of the accounts a restricted member was given."""
    access = customer_access(user, customer)
    if access is None or not access.allows(Action.VIEW_ACCOUNT):
        return None
    membership = access.membership
    if (
        access.via == Via.MEMBERSHIP
        and membership.restricted_to_accounts
        and not membership.is_owner
    ):
        return _member_restricted_ids(user, membership)
    return _ALL


def _accounts_by_kind(customer_id):
    return (
        HostingAccount.objects.filter(customer_id=customer_id)
        .select_related("customer")
        .order_by("kind", "name")
    )


_ACCOUNT_LIST = CompiledList(_accounts_by_kind)


def visible_account_list(user, customer: Customer, page_size: int):
    """``visible_accounts`` by kind and name for a ``Paginator`` of ``page_size``: for a
    user who sees all of them (most), count and pages are compiled once (make bench)."""
    if _account_scope(user, customer) is _ALL:
        return _ACCOUNT_LIST.paged(customer.pk, page_size)
    return visible_accounts(user, customer).order_by("kind", "name")


def _delegating_access(user, agency: Customer) -> bool:
    """Whether the user sees the accounts delegated to ``agency`` (D4): a member allowed
    to manage delegations, of a customer that holds an active grant."""
    access = customer_access(user, agency)
    if access is None or access.via != Via.MEMBERSHIP:
        return False
    if not access.allows(Action.MANAGE_DELEGATIONS):
        return False
    return access.membership.customer_holds_grants


def delegated_accounts(user, agency: Customer) -> QuerySet[HostingAccount]:
    """Hosting accounts other customers have granted to ``agency``, for users of the agency
    allowed to manage delegations (D4), annotated with the grant and its end. The
    dashboard's list in its order is ``delegated_account_list``."""
    if not _delegating_access(user, agency):
        return HostingAccount.objects.none()
    # The account's owner from the outer row: the pairs need not read each account again.
    live = live_delegations(owner=OuterRef("customer_id"), agency=agency).filter(
        hostingaccount=OuterRef("pk")
    )
    latest = live.order_by("-grant__ends_at")
    return (
        HostingAccount.objects.filter(Exists(live))
        .annotate(
            grant_id=Subquery(latest.values("grant_id")[:1]),
            grant_ends_at=Subquery(latest.values("grant__ends_at")[:1]),
        )
        .select_related("customer")
    )


DELEGATED_ORDER = ("customer__name", "name", "pk")  # the dashboard's order (delegated_account_list)


def _delegated_rows(customer_id, at) -> QuerySet[DelegatedAccount]:
    """The agency's rows of the delegated-accounts table whose end has not passed at
    ``at``: what the dashboard counts."""
    return DelegatedAccount.objects.filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=at), agency_id=customer_id
    )


_DELEGATED_ROW_ORDER = ("customer_name", "account_name", "account_id")  # its index's


def _delegated_list(customer_id, at) -> tuple:
    """The list's values for ``PreparedPages``; ``_delegated_page`` makes the page."""
    return customer_id, at


def _delegated_page(values: tuple, offset: int, size: int) -> QuerySet[HostingAccount]:
    """A page of the accounts delegated to the agency: picked from the table alone, in
    its index's order (customer name, account name), then each account checked as
    ``live_delegations`` checks a pair (the grant live at ``at``, the account still the
    grantor's, the agency's guardian row). The count is the table's too, so a page
    shows fewer rows only if the table and the check disagree, and the check wins. The
    table's grant and end are the annotations ``delegated_accounts`` gives."""
    customer_id, at = values
    picked = (
        _delegated_rows(customer_id, at)
        .order_by(*_DELEGATED_ROW_ORDER)
        .values("pk")[offset : offset + size]
    )
    live = live_delegations(
        at, owner=OuterRef("customer_id"), agency=customer_id, account=OuterRef("pk")
    )
    rows = "delegated_rows__"
    return (
        HostingAccount.objects.filter(**{f"{rows}in": picked})
        # The check as a scalar subquery, run for each of the page's accounts: PostgreSQL
        # turns an EXISTS into a join, and misjudging the agency's guardian rows (three
        # instead of 5,000) it joined all 5,000 pairs to check 25 (make bench).
        .alias(_live_pair=Subquery(live.values("pk")[:1]))
        .filter(_live_pair__isnull=False)
        .annotate(grant_id=F(f"{rows}grant_id"), grant_ends_at=F(f"{rows}ends_at"))
        .select_related("customer")
        .order_by(*(rows + field for field in _DELEGATED_ROW_ORDER))
    )


def _delegated_count(customer_id, at):
    # At most COUNT_CAP + 1 index entries (CappedCountPaginator): counting all 5,000 of
    # the bench's agency took 2.6 ms of PostgreSQL per view, a quarter of the page.
    return counts_query(customer_id, {"rows": _delegated_rows(customer_id, at)}, cap=COUNT_CAP)


_DELEGATED_COUNT = PreparedQuery(
    _delegated_count, server_side=PER_CUSTOMER, customer_id=int, at=datetime
)
# The page is prepared on the server: its plan starts from the agency's entries in the
# index's order whatever the agency holds (two or 5,000), and planning it again for every
# view was its largest cost (0.7 ms of PostgreSQL under make bench's load, pg_stat_statements).
_DELEGATED_PAGES = PreparedPages(
    _delegated_list, page=_delegated_page, server_side=True, at=datetime
)


def delegated_account_list(user, agency: Customer, page_size: int, at=None):
    """``delegated_accounts`` by customer name, then account name, for a ``Paginator`` of
    ``page_size`` (the agency dashboard).

    An agency may hold thousands of delegated accounts (make bench: 5,000 live grants);
    sorting them all by their customers' names, each checked against its grant, owner
    and guardian row, took 25–40 ms of PostgreSQL per view. On PostgreSQL the database
    keeps them in that order (``delegation.models.DelegatedAccount``, written in the
    transaction of every write that changes them): the total counts the agency's index
    entries whose end has not passed, a page is picked from the same entries and only
    its accounts are read and checked as ``live_delegations`` checks a pair
    (``_delegated_page``). Count and pages are compiled once per process and prepared
    on the server: the count for each agency, the pages for all of them. Elsewhere
    (SQLite in development, no triggers) the accounts are read from the grants."""
    if not _delegating_access(user, agency):
        return HostingAccount.objects.none()
    if connections[router.db_for_read(DelegatedAccount)].vendor != "postgresql":
        return delegated_accounts(user, agency).order_by(*DELEGATED_ORDER)
    at = at or timezone.now()

    def count() -> int:
        rows = _DELEGATED_COUNT(customer_id=agency.pk, at=at)
        return rows[0]["n_rows"] if rows else 0

    return PagedList(
        count, lambda offset, size: _DELEGATED_PAGES(agency.pk, offset, size, at=at), page_size
    )


# --- Contacts (K5, K10–K12, H3): decisions of the contacts app -----------------------
# - Authorised people (K10, K11) are users whose login address is the *confirmed* address
#   of an authorised, non-domain contact of the customer, and managers (users this policy
#   lets see all tickets; the owner has every permission). Only they name or remove
#   authorised contacts, change an authorised contact's address, or move the primary
#   contact. ``contacts.selectors.is_authorised_user`` answers it.
# - A time-limited authorisation from a register extract (K12) ends at its time on every
#   read; a beat job only marks the row and records it.
# - Routing (K5): ``contacts.selectors.recipients_for`` is the one function; when no
#   contact is left for a category (types, switches, confirmed addresses), the customer's
#   account e-mail gets it, so no notification goes nowhere.
# - A domain contact carries no other operative type (only owner/signatory beside it).
# - Contacts are never deleted, only archived; the primary one only with a successor.


def is_manager(user, customer: Customer) -> bool:
    """H3, K10: a manager sees all of the organisation's tickets — a member with that
    permission, or a user who is an authorised contact of the customer."""
    access = customer_access(user, customer)
    if access is None or access.via == Via.GRANT:
        return False
    if access.allows(Action.SEE_ALL_TICKETS):
        return True
    from contacts.selectors import is_authorised_contact_user  # contacts imports us lazily

    return is_authorised_contact_user(user, customer)


# --- hosting: the account history (issue 11, A4) ------------------------------------------


def may_see_person_in_history(viewer: Access, *, via: str, agency_id: int | None) -> bool:
    """Whether a hosting account's history names the person behind an entry for ``viewer``.

    The customer's own users (membership, main account) see everyone, delegates included
    (A4). A delegate sees the people of its own agency by name and nobody else: the
    grantor's users are not theirs to see (D4). ``via``/``agency_id`` describe the entry:
    the access it was made through and, for a grant, the agency acting."""
    if viewer.via != Via.GRANT:
        return True
    return (
        via == Via.GRANT
        and agency_id is not None
        and viewer.grant is not None
        and agency_id == viewer.grant.agency_id
    )


# --- Users, invitations and sub-accounts (issue 4: U2–U4, C1–C3) ---------------------
# Who may hand out which permissions, change or remove whose membership, and answer a
# request to link a customer as a sub-account. Views call these after get_customer_for.


def two_factor_satisfied(request, customer: Customer) -> bool:
    """Whether this session may act for ``customer`` as far as two-factor goes (U1, S9)."""
    return not requires_two_factor(customer) or _is_verified(request.user)


def grantable_fields(access: Access) -> frozenset[str]:
    """The membership fields this access may set when inviting or changing a member.

    Owners hand out everything, ownership included. Users allowed to manage users hand out
    only the permissions they hold themselves, and notification choices, so nobody can
    give more than they have.
    """
    if access.via == Via.GRANT or not access.allows(Action.MANAGE_USERS):
        return frozenset()
    membership = access.membership
    if membership.is_owner:
        return frozenset(Membership.choice_fields())
    held = {name for name in Membership.PERMISSION_FIELDS if getattr(membership, name)}
    return frozenset(held | set(Membership.NOTIFICATION_FIELDS))


def may_change_membership(user, access: Access, membership: Membership) -> bool:
    """Whether ``user`` (acting through ``access``) may change or remove ``membership``.

    Never one's own (another owner or manager does that), and an owner's only as an owner.
    Removing the last owner is refused by the service, not here.
    """
    if access.via == Via.GRANT or not access.allows(Action.MANAGE_USERS):
        return False
    if membership.customer_id != access.customer.pk or membership.user_id == user.pk:
        return False
    return access.membership.is_owner or not membership.is_owner


def may_order_sub_accounts(access: Access) -> bool:
    """Owners of a main account order and link sub-accounts; a sub-account cannot (C1)."""
    return (
        access.via == Via.MEMBERSHIP
        and access.customer.parent_id is None
        and access.allows(Action.MANAGE_SUB_ACCOUNTS)
    )


def may_answer_link_requests(access: Access) -> bool:
    """Only the customer's own owners confirm or decline becoming a sub-account (C2):
    nobody reaching it through another account decides for it."""
    return access.via == Via.MEMBERSHIP and access.membership.is_owner


def may_grant(access: Access, values: dict[str, bool]) -> bool:
    """Whether every permission switched on in ``values`` is one this access may hand out
    (inviting, resending an invitation, changing a member)."""
    allowed = grantable_fields(access)
    return all(name in allowed for name, on in values.items() if on)


# --- delegation (issue 5: technical administrators, D1–D7) -----------------------------
# Decisions of the delegation app that consult memberships or guardian rows live here.


def grantable_accounts(user, grantor: Customer) -> QuerySet[HostingAccount]:
    """Hosting accounts the user may put into a grant of ``grantor``: only the grantor's
    OWN accounts the user can see, never accounts it holds by delegation (D4: a grant is
    not passed on) and never another tenant's (S4)."""
    if not can(user, Action.MANAGE_DELEGATIONS, grantor):
        return HostingAccount.objects.none()
    return visible_accounts(user, grantor).filter(customer=grantor)


def delegation_managers(customer: Customer) -> QuerySet[User]:
    """Active users who manage delegations for ``customer`` (owners and members with that
    permission): who receives grant keys, reminders and notices of a grant (D3, D6)."""
    # One filter() call: the owner/permission test must hold for the membership in THIS
    # customer, not for any membership the user has elsewhere.
    return (
        User.objects.filter(
            holds_q(DELEGATE_FLAG, "memberships__"),
            acting_users_q(),
            memberships__customer=customer,
        )
        .distinct()
        .order_by("email")
    )


def grant_accounts_assign(grant: Grant) -> None:
    """Give the agency's guardian group the manage permission on the grant's accounts;
    done when a grant is approved (D4). Liveness is still checked on every request."""
    from guardian.shortcuts import assign_perm

    group = customer_group(grant.agency)
    for account in grant.accounts.filter(customer_id=grant.grantor_id):
        assign_perm(MANAGE_ACCOUNT_PERM, group, account)


def grant_accounts_release(grant: Grant) -> None:
    """Remove the agency's guardian rows for the grant's accounts when the grant ends —
    except where another live grant to the same agency still covers an account."""
    group = customer_group(grant.agency)
    still_granted = Grant.objects.live().filter(agency_id=grant.agency_id).exclude(pk=grant.pk)
    covered = set(
        HostingAccount.objects.filter(grants__in=still_granted).values_list("pk", flat=True)
    )
    account_ids = [
        str(pk) for pk in grant.accounts.values_list("pk", flat=True) if pk not in covered
    ]
    if account_ids:
        GroupObjectPermission.objects.filter(
            group=group,
            permission__codename="manage_hostingaccount",
            permission__content_type__app_label="accounts",
            content_type__app_label="accounts",
            content_type__model="hostingaccount",
            object_pk__in=account_ids,
        ).delete()


# === Tickets (helpdesk: H3, D5, U4) ====================================================
#
# Who sees a ticket: the person who opened it and the people copied on it, while they
# still act for its customer; all of the organisation's tickets for managers (the "see
# all tickets" permission, or a user who is an authorised contact, K10: ``is_manager``
# above); a technical administrator the tickets they opened or are copied on about an
# account granted to their agency, while the grant is live (D5). The grantor's managers
# see those tickets as part of the organisation's. A ticket stays with its customer when
# the person who opened it leaves (U4): they lose sight of it, the managers keep it.
# Staff work in the admin, not here.


class TicketAction(StrEnum):
    VIEW = "view_ticket"  # read the conversation, download its attachments
    REPLY = "reply_ticket"
    CLOSE = "close_ticket"  # close and reopen: the requester and managers


@dataclass(frozen=True)
class TicketAccess:
    """How a user sees one ticket, and why."""

    access: Access
    is_manager: bool = False
    is_requester: bool = False
    is_copied: bool = False

    @property
    def reason(self) -> str:
        if self.is_manager:
            return _("manager of %(customer)s") % {"customer": self.access.customer.display_number}
        if self.is_requester:
            return _("you opened this ticket")
        return _("you are copied on this ticket")

    def allows(self, action: TicketAction) -> bool:
        if action == TicketAction.CLOSE:
            return self.is_manager or self.is_requester
        return True


def _ticket_participant_q(user):
    """Tickets the user opened or is copied on, by login or by address."""
    from django.db.models import Q

    from helpdesk.models import Participant

    copied = Participant.objects.filter(ticket=OuterRef("pk")).filter(
        Q(user=user) | Q(email=user.email.lower())
    )
    return Q(requester=user) | Q(requester_email=user.email.lower()) | Q(Exists(copied))


def visible_tickets(user, customer: Customer):
    """The tickets listed under ``customer``'s path for this user: the customer's own by
    H3, and, for a technical administrator, those about accounts granted to this agency
    that they opened or are copied on (D5)."""
    from helpdesk.models import Ticket

    access = customer_access(user, customer)
    if access is None:
        return Ticket.objects.none()
    qs = Ticket.objects.filter(customer=customer)
    if not is_manager(user, customer):
        qs = qs.filter(_ticket_participant_q(user))
    if _sees_delegated_tickets(access):
        delegated = delegated_accounts(user, customer).values("pk")
        qs = qs | Ticket.objects.filter(_ticket_participant_q(user), account__in=delegated).exclude(
            customer=customer
        )
    return qs


def _sees_delegated_tickets(access: Access) -> bool:
    """Whether the list may hold tickets about accounts granted to the customer (D5): only
    for a member allowed to manage delegations of a customer holding a grant at all (the
    preconditions of ``delegated_accounts``)."""
    return (
        access.via == Via.MEMBERSHIP
        and access.allows(Action.MANAGE_DELEGATIONS)
        and access.membership.customer_holds_grants
    )


def sees_all_own_tickets(user, customer: Customer) -> bool:
    """Whether ``visible_tickets(user, customer)`` is exactly the customer's own tickets:
    a manager (H3) of a customer whose list holds no delegated account's tickets (D5). The
    ticket list compiles that list once per process (make bench)."""
    access = customer_access(user, customer)
    return access is not None and is_manager(user, customer) and not _sees_delegated_tickets(access)


def ticket_access(user, ticket) -> TicketAccess | None:
    """How the user sees ``ticket``, or None when they do not see it at all."""
    if ticket.customer_id is None or not user_may_act(user):
        return None
    from helpdesk.models import Participant

    email = user.email.lower()
    is_requester = ticket.requester_id == user.pk or ticket.requester_email == email
    if "participants" in getattr(ticket, "_prefetched_objects_cache", {}):
        # Read with the ticket for this page (get_ticket_for), which lists them too.
        copied = ticket.participants.all()
        is_copied = any(p.user_id == user.pk or p.email == email for p in copied)
    else:
        is_copied = Participant.objects.filter(
            Q(user=user) | Q(email=email), ticket=ticket
        ).exists()
    access = customer_access(user, ticket.customer)
    if access is not None:
        if is_manager(user, ticket.customer):
            return TicketAccess(access, True, is_requester, is_copied)
        if is_requester or is_copied:
            return TicketAccess(access, False, is_requester, is_copied)
        return None
    # A technical administrator: their own ticket about an account granted to them (D5).
    if ticket.account_id is not None and (is_requester or is_copied):
        grant_access = account_access(user, ticket.account)
        if grant_access is not None and grant_access.allows(Action.OPEN_TICKETS):
            return TicketAccess(grant_access, False, is_requester, is_copied)
    return None


def _ticket_row(ticket_id):
    """The ticket with this id, with what the access check and the page read of it."""
    from helpdesk.models import Ticket

    return (
        Ticket.objects.select_related(
            "customer", "customer__parent", "account", "account__customer", "requester"
        )
        .filter(pk=ticket_id)
        .order_by()[:1]
    )


def _in_range(field, value: int) -> bool:
    low, high = connections[router.db_for_read(field.model)].ops.integer_field_range(
        field.get_internal_type()
    )
    return (low is None or value >= low) and (high is None or value <= high)


def _ticket_participants(ticket_id):
    from helpdesk.models import Participant

    return Participant.objects.filter(ticket_id=ticket_id)


# Compiled once per process (make bench: building and compiling them cost 1.5 ms of the
# ticket page's Python on every view). The ticket is a primary-key lookup; who is copied
# is prepared per ticket.
_TICKET_ROW = PreparedQuery(_ticket_row, ticket_id=int)
_TICKET_PARTICIPANTS = PreparedQuery(
    _ticket_participants, server_side=("ticket_id",), ticket_id=int
)


def _with_participants(ticket) -> None:
    """``prefetch_related("participants")`` with the compiled query: the rows are the
    ticket's ``participants.all()`` from here on, as Django's prefetch leaves them."""
    participants = _TICKET_PARTICIPANTS(ticket_id=ticket.pk)
    for participant in participants:
        participant.ticket = ticket
    copied = ticket.participants.all()
    copied._result_cache = participants
    copied._prefetch_done = True
    ticket._prefetched_objects_cache = {"participants": copied}


def get_ticket_for(request, customer: int, ticket_id: int, action: TicketAction):
    """A ticket under its customer's path if the user may do ``action`` on it: 404 when
    they do not see it, 403 when they see it but may not do that."""
    from helpdesk.models import Ticket

    # An id outside its column's range names no ticket (Django's lookup finds none).
    rows = _TICKET_ROW(ticket_id=ticket_id) if _in_range(Ticket._meta.pk, ticket_id) else []
    # Only under its own customer's path.
    ticket = rows[0] if rows and rows[0].customer_id is not None else None
    if ticket is None or ticket.customer.number != customer:
        raise Http404
    _with_participants(ticket)  # who is in copy: the access check and the page
    access = ticket_access(request.user, ticket)
    if access is None:
        raise Http404
    if access.access.via != Via.GRANT and requires_two_factor(ticket.customer):
        if not _is_verified(request.user):
            raise TwoFactorRequired(ticket.customer)
    if not access.allows(action):
        raise PermissionDenied
    request.access = access.access
    request.ticket_access = access
    return ticket


def ticket_accounts(user, customer: Customer) -> QuerySet[HostingAccount]:
    """Hosting accounts and servers a new ticket in ``customer`` may name (H1): the
    customer's own the user may see, and those granted to it as an agency (D5)."""
    from django.db.models import Q

    access = customer_access(user, customer)
    if access is None or not access.allows(Action.OPEN_TICKETS):
        return HostingAccount.objects.none()
    own = visible_accounts(user, customer).values("pk")
    delegated = delegated_accounts(user, customer).values("pk")
    return (
        HostingAccount.objects.filter(Q(pk__in=own) | Q(pk__in=delegated))
        .select_related("customer")
        .order_by("customer__name", "kind", "name")
    )


# === Who can act for a customer, and why (issue 7: the access overview) ===============
#
# Every person and organisation that can act for a customer or for one of its hosting
# accounts, each with the reason the decisions above give, built from the same rules:
# - members and the main account's users: ``MEMBERSHIP_ROUTES`` for the customer, users
#   who pass ``acting_users_q`` (``customer_access`` walks the same routes for one user);
#   the reason is ``Access.reason``;
# - technical administrators: ``live_delegations`` of the customer's accounts (what
#   ``account_access`` asks for one account) and the agencies' ``delegate_memberships``;
# - contacts, who have no login but instruct the provider by mail or phone: authorised
#   contacts (``contacts.selectors.authorised_contacts``, also behind ``is_manager``), the
#   primary contact (K11), contacts with a phone password (K8);
# - what may still become access (usable invitations, grants waiting for their key), and
#   what ended within ``OVERVIEW_ENDED_DAYS`` (grants, invitations) with its state.
# Sections are querysets (the page paginates them, the export reads them in batches);
# ``overview_rows`` turns one page of a section into rows with a fixed number of queries.

OVERVIEW_ENDING_SOON = timedelta(days=14)
OVERVIEW_ENDED_DAYS = 90


class OverviewSection(StrEnum):
    MEMBERS = "members"
    MAIN_ACCOUNT = "main_account"
    GRANTS = "grants"
    CONTACTS = "contacts"
    INVITATIONS = "invitations"
    GRANT_KEYS = "grant_keys"
    ENDED_GRANTS = "ended_grants"


OVERVIEW_TITLES = {
    OverviewSection.MEMBERS: gettext_lazy("Members"),
    OverviewSection.MAIN_ACCOUNT: gettext_lazy("Users of the main account"),
    OverviewSection.GRANTS: gettext_lazy("Technical administrators"),
    OverviewSection.CONTACTS: gettext_lazy("Contacts who instruct or order"),
    OverviewSection.INVITATIONS: gettext_lazy("Invitations"),
    OverviewSection.GRANT_KEYS: gettext_lazy("Grants waiting for their key"),
    OverviewSection.ENDED_GRANTS: gettext_lazy("Ended grants"),
}


@dataclass
class OverviewPerson:
    """A user who can act through a row (an agency's delegate)."""

    user: User
    reason: str


@dataclass
class OverviewRow:
    """One line of the access overview: who, why, since and until when, and the object
    the matching action works on (membership, grant, contact or invitation)."""

    section: OverviewSection
    who: str
    reason: str
    obj: object
    email: str = ""
    organisation: str = ""
    details: list[str] = field(default_factory=list)
    accounts: list[HostingAccount] = field(default_factory=list)
    people: list[OverviewPerson] = field(default_factory=list)
    user: User | None = None
    since: datetime | None = None
    until: datetime | None = None
    state: str = ""
    state_label: str = ""
    last_activity: datetime | None = None
    ending_soon: bool = False

    @property
    def user_ids(self) -> list[int]:
        """The users who can act through this row: the page lists exactly these."""
        ids = [self.user.pk] if self.user is not None else []
        return ids + [p.user.pk for p in self.people]


def _ending_soon(until, at) -> bool:
    return until is not None and at < until <= at + OVERVIEW_ENDING_SOON


def _later(*moments):
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _route_memberships(customer: Customer, via: Via, at) -> QuerySet[Membership]:
    """Memberships that reach ``customer`` by the route ``via``, of users who may act."""
    from contacts.selectors import authorised_contacts  # contacts imports us lazily

    [route] = [r for r in MEMBERSHIP_ROUTES if r.via == via]
    source = route.source(customer)
    if source is None:
        return Membership.objects.none()
    last_seen = (
        UserSession.objects.filter(user=OuterRef("user_id"))
        .order_by("-last_seen")
        .values("last_seen")[:1]
    )
    return (
        Membership.objects.filter(acting_users_q("user__"), customer_id=source)
        .select_related("user", "customer")
        .annotate(
            last_seen=Subquery(last_seen),
            # K10, H3: a user who is an authorised contact of the customer is a manager.
            is_authorised_contact=Exists(
                authorised_contacts(customer, at).filter(email__iexact=OuterRef("user__email"))
            ),
        )
        # Owners first, then by the user's last name, first name and address (unique: no
        # ties): the membership's copies of them (kept by the database), so that the index
        # membership_list_order gives the order and a page reads its rows, not all of a
        # customer's 1,000 members joined with their users and sorted (make bench).
        .order_by(*Membership.LIST_ORDER)
    )


def _grant_ended_on():
    """When a grant that is neither live nor open stopped: its recorded end, or — before
    the job has marked it — the end time or the key's deadline that passed."""
    return Case(
        When(state__in=Grant.ENDED_STATES, then=Coalesce("ended_at", "ends_at", "created_at")),
        When(state=Grant.State.ACTIVE, then=Coalesce("ends_at", "created_at")),
        When(
            ends_at__isnull=False,
            key_expires_at__isnull=False,
            ends_at__lt=F("key_expires_at"),
            then=F("ends_at"),
        ),
        default=Coalesce("key_expires_at", "ends_at", "created_at"),
    )


def overview_sections(customer: Customer, at=None, cutoff=None) -> dict[OverviewSection, QuerySet]:
    """The overview's sections for ``customer``, each an ordered queryset. ``cutoff``, the
    start of the ended ones' window (``at`` less ``OVERVIEW_ENDED_DAYS``), is given apart
    by a page that compiles the sections once (``accounts.views_access``)."""
    from contacts.models import OVERVIEW_CONTACT_Q, Contact
    from contacts.selectors import authorised_contacts

    at = at or timezone.now()
    if cutoff is None:
        cutoff = at - timedelta(days=OVERVIEW_ENDED_DAYS)
    sections: dict[OverviewSection, QuerySet] = {
        OverviewSection.MEMBERS: _route_memberships(customer, Via.MEMBERSHIP, at),
    }
    if customer.parent_id is not None:
        sections[OverviewSection.MAIN_ACCOUNT] = _route_memberships(customer, Via.MAIN_ACCOUNT, at)
    live_pairs = live_delegations(at).filter(grant__grantor=customer)
    from hosting.models import AccountEvent  # the account history (A4)

    # When the agency last changed one of our accounts through the grant (A4).
    last_used = AccountEvent.objects.filter(grant_id=OuterRef("pk")).order_by("-at")
    # The customer's live grants in the page's order (their index), each with a live
    # pair: PostgreSQL checks the pairs of a page's grants, not of all of them (D4).
    sections[OverviewSection.GRANTS] = (
        Grant.objects.filter(live_q(at), grantor=customer)
        .alias(live_pair=Subquery(live_pairs.filter(grant_id=OuterRef("pk")).values("pk")[:1]))
        .filter(live_pair__isnull=False)
        .select_related("agency")
        .annotate(last_used=Subquery(last_used.values("at")[:1]))
        .order_by(F("ends_at").asc(nulls_last=True), "-pk")
    )
    authorised = authorised_contacts(customer, at)
    sections[OverviewSection.CONTACTS] = (
        Contact.objects.active()
        .filter(customer=customer)
        # Adds no rows and takes none away: the condition of the section's index.
        .filter(OVERVIEW_CONTACT_Q)
        .filter(Q(pk__in=authorised.values("pk")) | Q(is_primary=True) | ~Q(phone_password_hash=""))
        .annotate(authorised_now=Exists(authorised.filter(pk=OuterRef("pk"))))
        .order_by("-is_primary", "name", "pk")
    )
    usable = Invitation.objects.usable(at)
    sections[OverviewSection.INVITATIONS] = (
        Invitation.objects.filter(customer=customer)
        .annotate(usable=Exists(usable.filter(pk=OuterRef("pk"))))
        .filter(
            Q(usable=True)
            | Q(state=Invitation.State.CANCELLED, cancelled_at__gte=cutoff)
            | Q(
                state__in=[Invitation.State.EXPIRED, Invitation.State.PENDING],
                expires_at__lte=at,
                expires_at__gte=cutoff,
            )
        )
        .select_related("invited_by")
        .order_by("-usable", "expires_at", "-pk")
    )
    # The grants' hosting accounts: overview_page_rows reads them for all sections at once.
    sections[OverviewSection.GRANT_KEYS] = (
        Grant.objects.open(at)
        .filter(grantor=customer)
        .select_related("agency")
        .order_by("key_expires_at", "-pk")
    )
    sections[OverviewSection.ENDED_GRANTS] = (
        Grant.objects.filter(grantor=customer)
        .exclude(live_q(at))
        .exclude(open_q(at))
        .annotate(ended_on=_grant_ended_on())
        .filter(ended_on__gte=cutoff)
        .select_related("agency")
        .order_by("-ended_on", "-pk")
    )
    return sections


def overview_rows(customer: Customer, section: OverviewSection, objects, at=None):
    """Rows for one page (or batch) of a section; a fixed number of queries per call."""
    return overview_page_rows(customer, {section: objects}, at)[section]


def overview_page_rows(customer: Customer, pages: dict, at=None) -> dict[OverviewSection, list]:
    """Rows for one page of each section in ``pages`` (section: its objects), with a fixed
    number of queries: the hosting accounts of the live, pending and ended grants on the
    page are one query for all three sections (make bench)."""
    at = at or timezone.now()
    pages = {section: list(objects) for section, objects in pages.items()}
    accounts = _grant_accounts(
        customer,
        live_ids=[g.pk for g in pages.get(OverviewSection.GRANTS, [])],
        own_ids=[
            g.pk
            for section in (OverviewSection.GRANT_KEYS, OverviewSection.ENDED_GRANTS)
            for g in pages.get(section, [])
        ],
        at=at,
    )
    build = {
        OverviewSection.MEMBERS: _member_rows,
        OverviewSection.MAIN_ACCOUNT: _main_account_rows,
        OverviewSection.GRANTS: _grant_rows,
        OverviewSection.CONTACTS: _contact_rows,
        OverviewSection.INVITATIONS: _invitation_rows,
        OverviewSection.GRANT_KEYS: _grant_key_rows,
        OverviewSection.ENDED_GRANTS: _ended_grant_rows,
    }
    return {
        section: build[section](customer, objects, at, accounts) if objects else []
        for section, objects in pages.items()
    }


# The overview's rows read the accounts of a page's grants and the delegates of their
# agencies with queries compiled once per process (make bench: building and compiling them
# was a fifth of the page's Python). Up to this many ids, padded to it (a page of 10 rows
# per section; the pending and the ended grants read together); more (the export's
# batches) go through the ORM.
OVERVIEW_COMPILED_IDS = 20


def _id_names(prefix: str) -> dict[str, type]:
    return {f"{prefix}{n}": int for n in range(OVERVIEW_COMPILED_IDS)}


def _padded_ids(prefix: str, ids) -> dict[str, int]:
    """``OVERVIEW_COMPILED_IDS`` values for an ``IN`` list: the ids, then the first again."""
    ids = list(ids)
    ids += [ids[0]] * (OVERVIEW_COMPILED_IDS - len(ids))
    return {f"{prefix}{n}": pk for n, pk in enumerate(ids)}


def _grant_account_pairs(customer_id, at, live_ids, own_ids) -> QuerySet:
    """The (grant, account) pairs of the customer's grants ``live_ids`` through which the
    agency reaches the account now (the rule of ``live_delegations``: the grant live, the
    account still the grantor's, the agency's guardian row) and of its grants ``own_ids``
    whose account is still its own.

    One condition on the page's pairs, looked up by the grants' ids: as a semi-join with
    ``live_delegations`` the planner merge-joined along the hosting accounts' primary key
    and compared each pair with all of an agency's guardian rows (4 ms of planning and
    1 ms of execution on the bench's data). This form's plans start from the customer's
    rows (the page's grants by their ids, or its accounts where it has few) whatever the
    ids, so it is prepared once per customer (make bench)."""
    pairs = Q()
    if live_ids:
        permitted = _agency_permission(None, Cast(OuterRef("hostingaccount_id"), CharField()))
        pairs |= Q(
            _prefixed(live_q(at), "grant__"),
            Exists(permitted),
            grant_id__in=live_ids,
            grant__grantor_id=customer_id,
        )
    if own_ids:
        pairs |= Q(grant_id__in=own_ids)
    # Only the page's grants, by their index, before the pairs' rules: with the rules
    # alone PostgreSQL read every pair of every grant (16,000, make bench).
    return (
        Grant.accounts.through.objects.filter(
            grant_id__in=[*live_ids, *own_ids], hostingaccount__customer_id=customer_id
        )
        .filter(pairs)
        .select_related("hostingaccount")
        .order_by("hostingaccount__kind", "hostingaccount__name", "pk")
    )


@lru_cache(maxsize=4)
def _compiled_grant_accounts(live: bool, own: bool) -> PreparedQuery:
    """``_grant_account_pairs`` for a customer (``customer_id``) with live grants' ids
    (``live0``…) and their moment (``at``), and pending and ended grants' ids
    (``own0``…)."""

    def grant_account_pairs(customer_id, at=None, **ids):
        live_ids = [pk for name, pk in ids.items() if name.startswith("live")]
        own_ids = [pk for name, pk in ids.items() if name.startswith("own")]
        return _grant_account_pairs(customer_id, at, live_ids, own_ids)

    parameters: dict[str, type] = {"customer_id": int}
    if live:
        parameters.update(at=datetime, **_id_names("live"))
    if own:
        parameters.update(**_id_names("own"))
    return PreparedQuery(grant_account_pairs, server_side=PER_CUSTOMER, **parameters)


def _grant_accounts(customer, *, live_ids, own_ids, at) -> dict[int, list[HostingAccount]]:
    """Hosting accounts by grant: for live grants those the agency reaches now (D4, S6),
    for pending and ended ones those of the grant that are still the customer's own."""
    accounts: dict[int, list[HostingAccount]] = {pk: [] for pk in [*live_ids, *own_ids]}
    if not accounts:
        return accounts
    if max(len(live_ids), len(own_ids)) <= OVERVIEW_COMPILED_IDS:
        values = {"customer_id": customer.pk}
        if live_ids:
            values.update(at=at, **_padded_ids("live", live_ids))
        if own_ids:
            values.update(**_padded_ids("own", own_ids))
        pairs = _compiled_grant_accounts(bool(live_ids), bool(own_ids))(**values)
    else:
        pairs = _grant_account_pairs(customer.pk, at, live_ids, own_ids)
    for pair in pairs:
        accounts[pair.grant_id].append(pair.hostingaccount)
    return accounts


def _person(user: User) -> str:
    return user.get_full_name() or user.email


def _membership_row(section, customer, membership, via, at) -> OverviewRow:
    user = membership.user
    details = list(membership.permission_labels())
    if getattr(membership, "is_authorised_contact", False) and not membership.is_owner:
        details.append(_("manager: an authorised contact (K10)"))
    return OverviewRow(
        section=section,
        who=_person(user),
        email=user.email,
        # Whose membership it is: said for the main account's users, not our own members.
        organisation=membership.customer.name if via != Via.MEMBERSHIP else "",
        reason=Access(via, customer, membership=membership).reason,
        obj=membership,
        user=user,
        details=details,
        since=membership.created_at,
        last_activity=_later(user.last_activity, getattr(membership, "last_seen", None)),
    )


def _member_rows(customer, memberships, at, accounts=None) -> list[OverviewRow]:
    rows = [
        _membership_row(OverviewSection.MEMBERS, customer, m, Via.MEMBERSHIP, at)
        for m in memberships
    ]
    # Members restricted to chosen hosting accounts reach only those (U3): name them.
    restricted = [m for m in memberships if m.restricted_to_accounts and not m.is_owner]
    if restricted:
        chosen = _restricted_account_names(customer.pk, [m.user_id for m in restricted])
        for row in rows:
            if row.obj in restricted:
                accounts = sorted(chosen[row.obj.user_id])
                row.details.append(
                    _("only these hosting accounts: %(names)s")
                    % {"names": ", ".join(accounts) or _("none chosen yet")}
                )
    return rows


def _main_account_rows(customer, memberships, at, accounts=None) -> list[OverviewRow]:
    # Since when: the later of joining the main account and this customer's link to it.
    linked_at = (
        SubAccountLinkRequest.objects.filter(
            main_id=customer.parent_id, sub=customer, state=SubAccountLinkRequest.State.CONFIRMED
        )
        .order_by("-decided_at")
        .values_list("decided_at", flat=True)
        .first()
    ) or customer.created_at
    rows = []
    for m in memberships:
        row = _membership_row(OverviewSection.MAIN_ACCOUNT, customer, m, Via.MAIN_ACCOUNT, at)
        row.since = _later(m.created_at, linked_at)
        rows.append(row)
    return rows


def _agency_delegates(agency_ids) -> QuerySet[Membership]:
    return (
        delegate_memberships(agency_ids)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__email")
    )


def _delegates_by_id(**ids) -> QuerySet[Membership]:
    return _agency_delegates(list(ids.values()))


# Prepared once: whatever the agencies, their memberships are read through the index of
# their customer (make bench: planned per call, it cost 0.5–1 ms of PostgreSQL's CPU per
# access overview).
_COMPILED_DELEGATES = PreparedQuery(_delegates_by_id, **_id_names("agency"))


def _grant_rows(customer, grants, at, accounts) -> list[OverviewRow]:
    delegates: dict[int, list[User]] = {}
    agency_ids = {g.agency_id for g in grants}
    if len(agency_ids) <= OVERVIEW_COMPILED_IDS:
        memberships = _COMPILED_DELEGATES(**_padded_ids("agency", agency_ids))
    else:
        memberships = _agency_delegates(agency_ids)
    for m in memberships:
        delegates.setdefault(m.customer_id, []).append(m.user)
    rows = []
    for grant in grants:
        reason = Access(Via.GRANT, customer, grant=grant).reason
        rows.append(
            OverviewRow(
                section=OverviewSection.GRANTS,
                who=grant.agency.name,
                organisation=grant.agency.display_number,
                reason=reason,
                obj=grant,
                accounts=accounts[grant.pk],
                people=[OverviewPerson(u, reason) for u in delegates.get(grant.agency_id, [])],
                since=grant.approved_at or grant.created_at,
                until=grant.ends_at,
                state=grant.effective_state(at),
                state_label=grant.State(grant.effective_state(at)).label,
                last_activity=grant.last_used,
                ending_soon=_ending_soon(grant.ends_at, at),
            )
        )
    return rows


def _contact_rows(customer, contacts, at, accounts=None) -> list[OverviewRow]:
    rows = []
    for contact in contacts:
        reasons = []
        if contact.authorised_now:
            reasons.append(_("authorised: may instruct the provider without limit (K10)"))
        if contact.is_primary:
            reasons.append(_("primary contact: first to receive the provider's information (K11)"))
        if contact.has_phone_password:
            reasons.append(_("phone password: may place orders by phone (K8)"))
        details = list(contact.type_labels())
        if contact.has_phone_password and contact.restrictions:
            details.append(_("phone orders restricted: %(text)s") % {"text": contact.restrictions})
        until = contact.authorised_until if contact.authorised_now else None
        rows.append(
            OverviewRow(
                section=OverviewSection.CONTACTS,
                who=contact.name,
                email=contact.email,
                reason="; ".join(str(r) for r in reasons),
                obj=contact,
                details=details,
                since=contact.created_at,
                until=until,
                ending_soon=_ending_soon(until, at),
            )
        )
    return rows


def _invitation_rows(customer, invitations, at, accounts=None) -> list[OverviewRow]:
    rows = []
    for invitation in invitations:
        state = invitation.shown_state
        usable = invitation.is_usable(at)
        rows.append(
            OverviewRow(
                section=OverviewSection.INVITATIONS,
                who=invitation.email,
                email=invitation.email,
                reason=_("invited by %(person)s (U2)")
                % {"person": _person(invitation.invited_by) if invitation.invited_by else "—"},
                obj=invitation,
                details=list(invitation.permission_labels()),
                since=invitation.created_at,
                until=invitation.expires_at
                if usable or state == invitation.State.EXPIRED
                else invitation.cancelled_at,
                state=state,
                state_label=invitation.State(state).label,
                ending_soon=usable and _ending_soon(invitation.expires_at, at),
            )
        )
    return rows


def _key_deadline(grant: Grant):
    """The moment a pending grant's key stops working: 14 days, or the grant's end."""
    if grant.ends_at and (grant.key_expires_at is None or grant.ends_at < grant.key_expires_at):
        return grant.ends_at
    return grant.key_expires_at


def _grant_key_rows(customer, grants, at, accounts) -> list[OverviewRow]:
    rows = []
    for grant in grants:
        until = _key_deadline(grant)
        rows.append(
            OverviewRow(
                section=OverviewSection.GRANT_KEYS,
                who=grant.agency.name,
                organisation=grant.agency.display_number,
                reason=_(
                    "grant #%(id)s: nobody can use it until the administrator enters the key (D3)"
                )
                % {"id": grant.pk},
                obj=grant,
                accounts=accounts[grant.pk],
                details=[_("key begins with %(prefix)s") % {"prefix": grant.key_display_prefix}],
                since=grant.created_at,
                until=until,
                state=grant.State.PENDING,
                state_label=grant.State.PENDING.label,
                ending_soon=_ending_soon(until, at),
            )
        )
    return rows


def _ended_grant_rows(customer, grants, at, accounts) -> list[OverviewRow]:
    rows = []
    for grant in grants:
        state = grant.effective_state(at)
        rows.append(
            OverviewRow(
                section=OverviewSection.ENDED_GRANTS,
                who=grant.agency.name,
                organisation=grant.agency.display_number,
                reason=_("grant #%(id)s, no access any more") % {"id": grant.pk},
                obj=grant,
                accounts=accounts[grant.pk],
                since=grant.approved_at or grant.created_at,
                until=grant.ended_on,
                state=state,
                state_label=grant.State(state).label,
            )
        )
    return rows


def overview_summary(customer: Customer, at=None, names: int = 10) -> list[dict]:
    """Per section: its title, how many rows and the first ``names`` people or
    organisations — what the access review mail tells the owners."""
    at = at or timezone.now()
    summary = []
    for section, queryset in overview_sections(customer, at).items():
        count = queryset.count()
        if not count:
            continue
        rows = overview_rows(customer, section, queryset[:names], at)
        summary.append(
            {
                "section": section,
                "title": OVERVIEW_TITLES[section],
                "count": count,
                "rows": rows,
                "more": max(count - len(rows), 0),
            }
        )
    return summary


def access_reviewers(customer: Customer) -> QuerySet[User]:
    """Who is asked to review who can act for ``customer``: its owners who may act."""
    return (
        User.objects.filter(
            acting_users_q(), memberships__customer=customer, memberships__is_owner=True
        )
        .distinct()
        .order_by("email")
    )
