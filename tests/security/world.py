"""Two tenants, their sub-accounts, an agency and every kind of person who could try to
cross between them: the cast of the isolation matrix (S1) and of the contract-data scan (S3).

Tenant A is where every role lives (owner, a member per single permission, the main-account
user, the sub-account user, unverified and inactive people); tenant B is whose objects they
ask for. An agency C holds a live grant on one of A's hosting accounts; its delegate must
reach that account and nothing else of A's, and nothing at all of B's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import SimpleCookie

from django.test import Client

from accounts import services
from accounts.models import Customer, HostingAccount, Membership, User
from tests.factories import GrantFactory, HostingAccountFactory, TOTPDeviceFactory, UserFactory
from tests.helpers import activate_grant, sign_in

PERMISSIONS = Membership.PERMISSION_FIELDS
NO_PERMISSIONS = dict.fromkeys(PERMISSIONS, False)


@dataclass
class Target:
    """A tenant whose objects a role must not reach: the customer in the URL, hosting
    accounts of each kind for makers to hang objects on, and a marker string that every
    object made for it carries, so that a page showing any of it is caught."""

    key: str
    customer: Customer
    marker: str
    owner: User  # signs in for the positive control: the objects really exist for them
    owner_device: object = None
    accounts: dict[str, HostingAccount] = field(default_factory=dict)
    excluded_accounts: tuple = ()  # accounts of this customer a maker must not use
    seq: int = 0

    def next_name(self, stem: str = "obj") -> str:
        self.seq += 1
        return f"{self.marker}-{stem}-{self.seq}"


@dataclass
class Role:
    key: str
    user: User | None
    home: Customer | None  # the customer number this role may use in the "mixed" variant
    targets: tuple[str, ...]
    expect: str = "404"  # or "login": anonymous, unverified, inactive
    device: object = None
    resign_each_request: bool = False
    cookies: object = None  # this role's cookie jar on the matrix's one shared client

    def sign_in(self, client: Client) -> None:
        """Give ``client`` this role's own, freshly signed-in cookie jar."""
        client.cookies = SimpleCookie()
        if self.user is not None:
            sign_in(client, self.user, self.device)
        self.cookies = client.cookies


def _customer(name: str, parent: Customer | None = None) -> Customer:
    return services.customer_create(
        name=name, email=f"{name.split()[0].lower()}@c.example", parent=parent
    )


def _accounts(customer: Customer, marker: str) -> dict[str, HostingAccount]:
    return {
        "domain": HostingAccountFactory(
            customer=customer, name=f"{marker}-dom.example", description=marker
        ),
        "package": HostingAccountFactory(customer=customer, package=True, description=marker),
        "server": HostingAccountFactory(customer=customer, server=True, description=marker),
    }


def _member(customer: Customer, email: str, **flags) -> User:
    user = UserFactory(email=email)
    services.membership_create(user=user, customer=customer, **flags)
    return user


@dataclass
class World:
    a: Customer
    a2: Customer
    b: Customer
    b2: Customer
    agency: Customer
    granted: HostingAccount
    grant: object
    delegate: User
    targets: dict[str, Target]
    roles: list[Role]


def build_world() -> World:
    a = _customer("Tenant Aqxmark GmbH")
    a2 = _customer("Tenant Aqxsub Shop", parent=a)
    b = _customer("Tenant Bqxmark Kft.")
    b2 = _customer("Tenant Bqxsub Shop", parent=b)
    agency = _customer("Agency Cqxmark")

    a_owner = _member(a, "owner-a@a.example", is_owner=True)
    a2_owner = _member(a2, "owner-a2@a.example", is_owner=True)
    b_owner = _member(b, "owner-b@b.example", is_owner=True)
    b2_owner = _member(b2, "owner-b2@b.example", is_owner=True)
    a_device = TOTPDeviceFactory(user=a_owner)
    b_device = TOTPDeviceFactory(user=b_owner)
    b2_device = TOTPDeviceFactory(user=b2_owner)

    granted = HostingAccountFactory(customer=a, name="granted-to-agency.example")
    delegate = _member(
        agency,
        "delegate@c.example",
        can_manage_delegations=True,
        **{k: False for k in PERMISSIONS if k != "can_manage_delegations"},
    )
    _member(agency, "agency-owner@c.example", is_owner=True)
    grant = activate_grant(GrantFactory(grantor=a, agency=agency, created_by=a_owner), [granted])

    # B gives a grant of its own to an agency of its own, so grant pages have B's objects.
    b_agency = _customer("Agency Dqxother")
    b_granted = HostingAccountFactory(customer=b, name="bqxmark-granted.example")
    activate_grant(GrantFactory(grantor=b, agency=b_agency, created_by=b_owner), [b_granted])

    targets = {
        "B": Target("B", b, "bqxmark", b_owner, b_device, _accounts(b, "bqxmark")),
        "B2": Target("B2", b2, "bqxsub", b2_owner, b2_device, _accounts(b2, "bqxsub")),
        # A itself, for its sub-account's own users (C3) and for the delegate, who reaches
        # only the granted account under A's path (D4).
        "A": Target(
            "A",
            a,
            "aqxmark",
            a_owner,
            a_device,
            _accounts(a, "aqxmark"),
            excluded_accounts=(granted.pk,),
        ),
    }

    roles = [
        Role("anonymous", None, a, ("B",), expect="login"),
        Role(
            "unverified",
            _member(a, "unverified@a.example"),
            a,
            ("B",),
            expect="login",
            resign_each_request=True,
        ),
        Role(
            "inactive",
            _member(a, "inactive@a.example"),
            a,
            ("B",),
            expect="login",
            resign_each_request=True,
        ),
        Role("owner", a_owner, a, ("B", "B2"), device=a_device),
        Role("member:none", _member(a, "none@a.example", **NO_PERMISSIONS), a, ("B",)),
    ]
    for flag in PERMISSIONS:
        user = _member(a, f"{flag}@a.example", **{**NO_PERMISSIONS, flag: True})
        roles.append(Role(f"member:{flag}", user, a, ("B",)))
    main_user = _member(a, "main-user@a.example", **dict.fromkeys(PERMISSIONS, True))
    roles += [
        Role("delegate", delegate, agency, ("B", "A")),
        Role("main-account user", main_user, a2, ("B", "B2")),
        Role("sub-account user", a2_owner, a2, ("A", "B")),
        Role(
            "staff without two-factor", UserFactory(staff=True, email="staff@p.example"), a, ("B",)
        ),
    ]
    staff2 = UserFactory(staff=True, email="staff2@p.example")
    roles.append(
        Role("staff with two-factor", staff2, a, ("B",), device=TOTPDeviceFactory(user=staff2))
    )
    # Statuses last: the session guard signs these out on their first request.
    User.objects.filter(email="unverified@a.example").update(status=User.Status.UNVERIFIED)
    User.objects.filter(email="inactive@a.example").update(status=User.Status.INACTIVE)
    for role in roles:
        if role.user is not None:
            role.user.refresh_from_db()
    return World(a, a2, b, b2, agency, granted, grant, delegate, targets, roles)
