"""A world with every kind of access to one customer (issue 7), and the ways in that no
longer work or never did. ``world.expected`` lists the users the test asserts the policy
lets in, ``world.kept_out`` those it keeps out; the overview tests check the page against
the policy itself, and these lists keep that check from being empty."""

import re
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from accounts import services as account_services
from accounts.models import Invitation, User
from contacts.services import contact_phone_password_set
from delegation import services as grant_services
from delegation.models import Grant
from portal import policy
from tests.accounts.factories import InvitationFactory, LinkRequestFactory
from tests.contacts.factories import ContactFactory
from tests.delegation.factories import approved_grant, make_grant
from tests.factories import (
    CustomerFactory,
    HostingAccountFactory,
    MembershipFactory,
    UserFactory,
)


@dataclass
class World:
    customer: object
    main: object
    owner: object
    accounts: list
    expected: dict = field(default_factory=dict)  # label -> user the policy lets in
    kept_out: dict = field(default_factory=dict)  # label -> user it keeps out
    grants: dict = field(default_factory=dict)
    invitations: dict = field(default_factory=dict)
    contacts: dict = field(default_factory=dict)
    memberships: dict = field(default_factory=dict)


def _user(email, **kwargs):
    return UserFactory(email=email, **kwargs)


def _agency(name, world, *, grant_to, label, state=None, ends_at=None, extra_people=False):
    """An agency with a delegate (manage delegations) and a plain member; a grant of
    ``grant_to`` in ``state``."""
    agency = CustomerFactory(name=name)
    boss = MembershipFactory(customer=agency, owner=True, user__email=f"boss@{label}.example").user
    delegate = MembershipFactory(
        customer=agency, can_manage_delegations=True, user__email=f"delegate@{label}.example"
    ).user
    plain = MembershipFactory(customer=agency, user__email=f"plain@{label}.example").user
    grant = approved_grant(
        grantor=world.customer,
        agency=agency,
        accounts=grant_to,
        by=world.owner,
        approver=boss,
        ends_at=ends_at,
    )
    people = SimpleNamespace(agency=agency, boss=boss, delegate=delegate, plain=plain)
    if extra_people:
        people.inactive = MembershipFactory(
            customer=agency,
            can_manage_delegations=True,
            user__email=f"inactive@{label}.example",
            user__status=User.Status.INACTIVE,
        ).user
    world.grants[label] = grant
    return people


@pytest.fixture
def world(db, django_capture_on_commit_callbacks):
    """Customer "Kunde" is a sub-account of "Holding"; everything below is about Kunde."""
    now = timezone.now()
    main = CustomerFactory(name="Holding AG")
    customer = CustomerFactory(name="Kunde GmbH", parent=main)
    LinkRequestFactory(
        main=main,
        sub=customer,
        state="confirmed",
        decided_at=now - timedelta(days=30),
    )
    sibling = CustomerFactory(name="Schwester GmbH", parent=main)
    shop = HostingAccountFactory(customer=customer, name="kunde-shop.example")
    blog = HostingAccountFactory(customer=customer, name="kunde-blog.example")
    server = HostingAccountFactory(customer=customer, server=True)
    owner = MembershipFactory(customer=customer, owner=True, user__email="owner@kunde.example").user
    w = World(customer=customer, main=main, owner=owner, accounts=[shop, blog, server])
    w.expected["owner"] = owner

    # Members (U3): plain, manager of users, restricted to one account (U3), and an
    # authorised contact who is also a member (K10: a manager).
    w.expected["member"] = MembershipFactory(
        customer=customer, user__email="member@kunde.example"
    ).user
    w.expected["user_manager"] = MembershipFactory(
        customer=customer, can_manage_users=True, user__email="users@kunde.example"
    ).user
    restricted = MembershipFactory(
        customer=customer, restricted_to_accounts=True, user__email="restricted@kunde.example"
    )
    assign_perm(policy.MANAGE_ACCOUNT_PERM, restricted.user, shop)
    w.memberships["restricted"] = restricted
    w.expected["restricted"] = restricted.user
    w.expected["authorised_member"] = MembershipFactory(
        customer=customer, user__email="chef@kunde.example"
    ).user
    w.expected["member"].last_activity = now - timedelta(hours=3)
    w.expected["member"].save(update_fields=["last_activity"])

    # Members who cannot act (U6, S6) and a removed membership (U4).
    w.kept_out["inactive_member"] = MembershipFactory(
        customer=customer, user__email="gone@kunde.example", user__status=User.Status.INACTIVE
    ).user
    w.kept_out["unverified_member"] = MembershipFactory(
        customer=customer,
        user__email="unverified@kunde.example",
        user__status=User.Status.UNVERIFIED,
    ).user
    removed = MembershipFactory(customer=customer, user__email="removed@kunde.example")
    with django_capture_on_commit_callbacks(execute=True):
        account_services.membership_remove(membership=removed, by=owner)
    w.kept_out["removed_member"] = removed.user

    # The main account's users reach the sub-account (C3); a sibling's do not.
    w.expected["main_owner"] = MembershipFactory(
        customer=main, owner=True, user__email="owner@holding.example"
    ).user
    w.expected["main_member"] = MembershipFactory(
        customer=main, user__email="member@holding.example"
    ).user
    both = MembershipFactory(customer=main, user__email="both@holding.example").user
    MembershipFactory(customer=customer, user=both)
    w.expected["member_and_main"] = both
    w.kept_out["main_inactive"] = MembershipFactory(
        customer=main, user__email="old@holding.example", user__status=User.Status.INACTIVE
    ).user
    w.kept_out["sibling_owner"] = MembershipFactory(
        customer=sibling, owner=True, user__email="owner@schwester.example"
    ).user

    # Agencies (D4): live grants with and without an end; the agency's owner and
    # delegates reach the accounts, its plain members and inactive users do not.
    with django_capture_on_commit_callbacks(execute=True):
        live = _agency("Agentur Live", w, grant_to=[shop, blog], label="live", extra_people=True)
        soon = _agency(
            "Agentur Bald", w, grant_to=[server], label="soon", ends_at=now + timedelta(days=5)
        )
        later = _agency(
            "Agentur Später", w, grant_to=[shop], label="later", ends_at=now + timedelta(days=60)
        )
        late = _agency(
            "Agentur Vorbei", w, grant_to=[shop], label="past", ends_at=now + timedelta(days=1)
        )
        revoked = _agency("Agentur Widerruf", w, grant_to=[blog], label="revoked")
        grant_services.grant_revoke(grant=w.grants["revoked"], actor=owner)
        handed = _agency("Agentur Zurück", w, grant_to=[blog], label="handed")
        grant_services.grant_hand_back(grant=w.grants["handed"], actor=handed.boss)
        expired = _agency("Agentur Abgelaufen", w, grant_to=[blog], label="expired")
        old = _agency("Agentur Alt", w, grant_to=[blog], label="old")
    for people in (live, soon, later):
        w.expected[f"{people.agency.name} boss"] = people.boss
        w.expected[f"{people.agency.name} delegate"] = people.delegate
        w.kept_out[f"{people.agency.name} plain"] = people.plain
    w.kept_out["live inactive delegate"] = live.inactive
    for people in (late, revoked, handed, expired, old):
        w.kept_out[f"{people.agency.name} boss"] = people.boss
        w.kept_out[f"{people.agency.name} delegate"] = people.delegate
        w.kept_out[f"{people.agency.name} plain"] = people.plain
    # D6: past its end, the job has not run: still "active" in the table.
    Grant.objects.filter(pk=w.grants["past"].pk).update(
        created_at=now - timedelta(days=3), ends_at=now - timedelta(hours=1)
    )
    # Expired and marked by the job 10 days ago; another ended 120 days ago (not shown).
    Grant.objects.filter(pk=w.grants["expired"].pk).update(
        ends_at=now - timedelta(days=10), created_at=now - timedelta(days=40)
    )
    assert grant_services.grant_expire(grant_id=w.grants["expired"].pk, at=now)
    Grant.objects.filter(pk=w.grants["old"].pk).update(
        state=Grant.State.EXPIRED,
        created_at=now - timedelta(days=200),
        ends_at=now - timedelta(days=120),
        ended_at=now - timedelta(days=120),
    )
    # A grant whose key has not been entered yet (D3): its agency reaches nothing.
    pending_agency = CustomerFactory(name="Agentur Wartet")
    w.kept_out["pending agency boss"] = MembershipFactory(
        customer=pending_agency, owner=True, user__email="boss@pending.example"
    ).user
    w.grants["pending"], _key = make_grant(
        grantor=customer, agency=pending_agency, accounts=[server], by=owner
    )
    for grant in w.grants.values():
        grant.refresh_from_db()

    # Contacts (K8, K10, K11): no login, but they instruct or order by mail and phone.
    w.contacts["primary"] = ContactFactory(
        customer=customer, name="Petra Primär", technical=True, primary=True, authorised=True
    )
    w.contacts["authorised"] = ContactFactory(
        customer=customer,
        name="Chef Person",
        email="chef@kunde.example",
        authorised=True,
        authorised_until=now + timedelta(days=10),
    )
    phone = ContactFactory(customer=customer, name="Telefon Tom", restrictions="=reboots only")
    contact_phone_password_set(contact=phone, password="Sommer2024!", actor=owner)  # noqa: S106
    w.contacts["phone"] = phone
    w.contacts["plain"] = ContactFactory(customer=customer, name="Nur Standard")
    w.contacts["archived"] = ContactFactory(
        customer=customer, name="Archiviert Authorised", authorised=True, archived=True
    )

    # Invitations (U2): open, ending soon, cancelled, expired (marked and not yet),
    # one to a person who already has a login (they act for nobody here yet).
    has_login = _user("invitee@elsewhere.example")
    w.kept_out["invited_with_login"] = has_login
    w.invitations["open"] = InvitationFactory(
        customer=customer, email=has_login.email, invited_by=owner
    )
    w.invitations["cancelled"] = InvitationFactory(
        customer=customer,
        email="cancelled@invite.example",
        invited_by=owner,
        state=Invitation.State.CANCELLED,
        cancelled_at=now - timedelta(days=2),
    )
    w.invitations["expired"] = InvitationFactory(
        customer=customer,
        email="expired@invite.example",
        invited_by=owner,
        state=Invitation.State.EXPIRED,
        created_at=now - timedelta(days=20),
    )
    w.invitations["lapsed"] = InvitationFactory(
        customer=customer,
        email="lapsed@invite.example",
        invited_by=owner,
        created_at=now - timedelta(days=8),
    )
    w.invitations["ancient"] = InvitationFactory(
        customer=customer,
        email="ancient@invite.example",
        invited_by=owner,
        state=Invitation.State.EXPIRED,
        created_at=now - timedelta(days=200),
    )

    # Nobody else: another tenant, staff, an unattached unverified user (H2).
    w.kept_out["outsider"] = MembershipFactory(owner=True, user__email="bob@other.example").user
    w.kept_out["staff"] = UserFactory(staff=True, email="staff@provider.example")
    w.kept_out["unattached"] = _user("stranger@mail.example", status=User.Status.UNVERIFIED)
    return w


def lets_in(user, customer) -> bool:
    """The policy's own answer: this user acts for the customer or one of its accounts."""
    user = User.objects.get(pk=user.pk)  # nothing cached from earlier calls
    if policy.customer_access(user, customer) is not None:
        return True
    return any(
        policy.account_access(user, account) is not None
        for account in customer.hosting_accounts.select_related("customer")
    )


def page_user_ids(html: str) -> set[int]:
    """The users a rendered overview lists as able to act (``data-user``)."""
    return {int(pk) for pk in re.findall(r'data-user="(\d+)"', html)}
