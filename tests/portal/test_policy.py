"""The one policy as a table: every role × every Action → allowed or not (U3, C3, D4, U6,
S6). Customer-wide actions are asked of the customer (``policy.can``), the per-account
actions of one of its hosting accounts (``policy.account_access``)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from accounts.models import Membership, User
from portal import policy
from portal.policy import Action
from tests.factories import HostingAccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db

A = Action
ALL = frozenset(Action)
ACCOUNT_ACTIONS = {A.VIEW_ACCOUNT, A.CHANGE_ACCOUNT}
NONE = frozenset()

# A member with exactly one permission: what it allows besides seeing the customer.
SINGLE_PERMISSION = {
    "can_view_products": {A.VIEW_PRODUCTS, A.VIEW_ACCOUNT},
    "can_change_dns": {A.CHANGE_DNS, A.CHANGE_ACCOUNT, A.VIEW_ACCOUNT},
    "can_view_invoices": {A.VIEW_INVOICES},
    "can_manage_contacts": {A.MANAGE_CONTACTS},
    "can_manage_users": {A.MANAGE_USERS},
    "can_manage_delegations": {A.MANAGE_DELEGATIONS},
    "can_open_tickets": {A.OPEN_TICKETS},
    "can_see_all_tickets": {A.SEE_ALL_TICKETS},
}

EXPECTED: dict[str, frozenset[Action]] = {
    "owner": ALL,
    **{
        f"member with {flag}": frozenset({A.VIEW_CUSTOMER, *allowed})
        for flag, allowed in SINGLE_PERMISSION.items()
    },
    "member with no permission": frozenset({A.VIEW_CUSTOMER}),
    # Read-only: sees products and services, changes nothing, opens no tickets.
    "read-only member": frozenset({A.VIEW_CUSTOMER, A.VIEW_PRODUCTS, A.VIEW_ACCOUNT}),
    # C3: the main account's owner acts in the sub-account with the owner's permissions.
    "main-account owner, in a sub-account": ALL,
    # C3: the main account's member brings only their own permissions along.
    "main-account member with view products, in a sub-account": frozenset(
        {A.VIEW_CUSTOMER, A.VIEW_PRODUCTS, A.VIEW_ACCOUNT}
    ),
    # C3: a sub-account's users do not reach the main account.
    "sub-account owner, in the main account": NONE,
    # D4: a delegate reaches the granted hosting account only, nothing customer-wide.
    "delegate": frozenset(ACCOUNT_ACTIONS),
    "outsider": NONE,
    "unverified owner": NONE,  # U6
    "inactive owner": NONE,  # U6, S6
    "staff without membership": NONE,
}


def only(flag: str) -> dict:
    """Membership flags with exactly ``flag`` on."""
    flags = dict.fromkeys(Membership.PERMISSION_FIELDS, False)
    if flag:
        flags[flag] = True
    return flags


@pytest.fixture
def cast(request, customer, account, main_customer, sub_customer):
    """role name → (user, customer acted in, hosting account of that customer)."""
    fixture = request.getfixturevalue
    sub_account = HostingAccountFactory(customer=sub_customer)
    main_account = HostingAccountFactory(customer=main_customer)
    roles = {
        "owner": (fixture("owner"), customer, account),
        "read-only member": (fixture("readonly_member"), customer, account),
        "member with no permission": (
            MembershipFactory(customer=customer, **only("")).user,
            customer,
            account,
        ),
        "main-account owner, in a sub-account": (fixture("main_user"), sub_customer, sub_account),
        "main-account member with view products, in a sub-account": (
            MembershipFactory(customer=main_customer, **only("can_view_products")).user,
            sub_customer,
            sub_account,
        ),
        "sub-account owner, in the main account": (
            MembershipFactory(customer=sub_customer, owner=True).user,
            main_customer,
            main_account,
        ),
        "delegate": (fixture("delegate"), customer, account),
        "outsider": (fixture("outsider"), customer, account),
        "unverified owner": (
            MembershipFactory(customer=customer, owner=True, user__unverified=True).user,
            customer,
            account,
        ),
        "inactive owner": (
            MembershipFactory(customer=customer, owner=True, user__inactive=True).user,
            customer,
            account,
        ),
        "staff without membership": (fixture("staff_user"), customer, account),
    }
    fixture("grant")  # the delegate's live grant on ``account``
    for flag in SINGLE_PERMISSION:
        user = MembershipFactory(customer=customer, **only(flag)).user
        roles[f"member with {flag}"] = (user, customer, account)
    return roles


def allowed_actions(user, customer, account) -> frozenset[Action]:
    user = User.objects.get(pk=user.pk)  # fresh: no cached memberships
    allowed = set()
    for action in Action:
        if action in ACCOUNT_ACTIONS:
            access = policy.account_access(user, account)
            ok = bool(access and access.allows(action))
        else:
            ok = policy.can(user, action, customer)
        if ok:
            allowed.add(action)
    return frozenset(allowed)


def test_the_table_covers_every_role_and_action():
    """U3: the roles of the brief, and every Action of the policy, are in the table."""
    assert len(EXPECTED) == 19
    assert set().union(*EXPECTED.values()) == set(Action)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_role_by_action(cast, role):
    """U3, C3, D4, U6, S6: what each role may do, action by action."""
    user, customer, account = cast[role]
    got = allowed_actions(user, customer, account)
    expected = EXPECTED[role]
    wrong = {
        action.value: ("allowed" if action in got else "denied")
        for action in Action
        if (action in got) != (action in expected)
    }
    assert not wrong, f"{role}: {wrong}"


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


@pytest.mark.parametrize(
    ("role", "action", "answer"),
    [
        ("owner", A.VIEW_INVOICES, "ok"),
        ("member with can_open_tickets", A.VIEW_INVOICES, "403"),
        ("read-only member", A.MANAGE_USERS, "403"),
        ("main-account owner, in a sub-account", A.MANAGE_USERS, "ok"),
        ("sub-account owner, in the main account", A.VIEW_CUSTOMER, "404"),
        ("delegate", A.VIEW_CUSTOMER, "404"),
        ("outsider", A.VIEW_CUSTOMER, "404"),
        ("unverified owner", A.VIEW_CUSTOMER, "404"),
        ("inactive owner", A.VIEW_CUSTOMER, "404"),
        ("staff without membership", A.VIEW_CUSTOMER, "404"),
    ],
)
def test_no_access_is_404_and_a_missing_permission_403(cast, role, action, answer):
    """S1: a customer the user cannot reach at all is a 404; reachable but not allowed
    this action, a 403."""
    user, customer, _account = cast[role]
    request = _request(User.objects.get(pk=user.pk))
    if answer == "ok":
        assert policy.get_customer_for(request, customer.number, action) == customer
    else:
        error = Http404 if answer == "404" else PermissionDenied
        with pytest.raises(error):
            policy.get_customer_for(request, customer.number, action)


def test_grantable_fields_and_membership_changes(cast, customer):
    """U3: owners hand out everything; a manager only what they hold, never ownership,
    and changes neither owners nor their own membership."""
    owner, *_ = cast["owner"]
    manager = MembershipFactory(
        customer=customer, **only("can_manage_users") | {"can_view_products": True}
    )
    member = Membership.objects.get(user=cast["member with can_view_invoices"][0])
    owner_access = policy.customer_access(owner, customer)
    manager_access = policy.customer_access(manager.user, customer)
    assert policy.grantable_fields(owner_access) == frozenset(Membership.choice_fields())
    assert policy.grantable_fields(manager_access) == frozenset(
        {"can_manage_users", "can_view_products", *Membership.NOTIFICATION_FIELDS}
    )
    owner_membership = Membership.objects.get(user=owner, customer=customer)
    assert policy.may_change_membership(owner, owner_access, member)
    assert not policy.may_change_membership(owner, owner_access, owner_membership)
    assert policy.may_change_membership(manager.user, manager_access, member)
    assert not policy.may_change_membership(manager.user, manager_access, owner_membership)
    assert not policy.may_change_membership(manager.user, manager_access, manager)
    assert not policy.may_grant(manager_access, {"is_owner": True})
    assert policy.may_grant(manager_access, {"can_view_products": True, "notify_orders": True})


def test_ordering_and_answering_sub_account_links(cast, main_customer, sub_customer, customer):
    """C1, C2: only a main account's owners, through their own membership, order and link;
    only a customer's own owners answer a link request."""
    main_owner, *_ = cast["main-account owner, in a sub-account"]
    in_main = policy.customer_access(main_owner, main_customer)
    in_sub = policy.customer_access(main_owner, sub_customer)
    assert policy.may_order_sub_accounts(in_main)
    assert not policy.may_order_sub_accounts(in_sub)  # C1: a sub-account has none
    assert policy.may_answer_link_requests(in_main)
    assert not policy.may_answer_link_requests(in_sub)  # not its own owner
    reader, *_ = cast["read-only member"]
    assert not policy.may_answer_link_requests(policy.customer_access(reader, customer))
