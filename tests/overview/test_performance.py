"""Fast for big customers (issue 7): the access overview of a main account with 1,000
sub-accounts and 5,000 grants needs the same number of queries as that of a small one,
and so does a sub-account's overview with hundreds of main-account users. Every section
is paginated."""

import itertools
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.models import GroupObjectPermission, UserObjectPermission

from accounts.models import Customer, HostingAccount, Invitation, Membership, User, UserSession
from contacts.models import Contact
from delegation.models import Grant
from portal import policy
from portal.prepared import executed_sql
from tests.delegation.factories import client_as
from tests.factories import CustomerFactory, MembershipFactory

pytestmark = pytest.mark.django_db

_numbers = itertools.count(700_000)


def populate(customer, *, subs: int, grants: int, people: int, tag: str) -> None:
    """Bulk rows for ``customer``: sub-accounts, hosting accounts, members (one restricted
    to a chosen account), sessions, agencies with delegates, live, ending, pending and
    ended grants with their guardian rows, invitations and authorised contacts."""
    now = timezone.now()
    Customer.objects.bulk_create(
        [
            Customer(number=next(_numbers), name=f"Sub {tag} {i}", parent=customer)
            for i in range(subs)
        ]
    )
    accounts = HostingAccount.objects.bulk_create(
        [
            HostingAccount(customer=customer, kind="domain", name=f"{tag}-{i}.example")
            for i in range(max(grants // 25, 2))
        ]
    )
    users = User.objects.bulk_create(
        [User(email=f"{tag}-person{i}@big.example", password="!") for i in range(people)]
    )
    members = Membership.objects.bulk_create(
        [
            Membership(
                user=user,
                customer=customer,
                can_manage_users=i % 7 == 0,
                restricted_to_accounts=i == 0,
            )
            for i, user in enumerate(users)
        ]
    )
    ct = ContentType.objects.get_for_model(HostingAccount)
    perm = Permission.objects.get(codename="manage_hostingaccount", content_type=ct)
    UserObjectPermission.objects.create(
        user=members[0].user, permission=perm, content_type=ct, object_pk=str(accounts[0].pk)
    )
    UserSession.objects.bulk_create(
        [UserSession(user=u, session_key=f"{tag}-{u.pk}") for u in users[: people // 2]]
    )
    agencies = [CustomerFactory(name=f"Agency {tag} {i}") for i in range(max(grants // 100, 1))]
    for i, agency in enumerate(agencies):
        MembershipFactory(customer=agency, owner=True, user__email=f"{tag}-boss{i}@agency.example")
        MembershipFactory(
            customer=agency,
            can_manage_delegations=True,
            user__email=f"{tag}-delegate{i}@agency.example",
        )
    states = itertools.cycle(["live", "live", "live", "live", "soon", "live", "pending", "ended"])
    rows = []
    for i, state in zip(range(grants), states, strict=False):
        grant = Grant(grantor=customer, agency=agencies[i % len(agencies)], created_at=now)
        if state in ("live", "soon"):
            grant.state = Grant.State.ACTIVE
            grant.approved_at = now
            grant.ends_at = now + timedelta(days=5 if state == "soon" else 200 + i)
        elif state == "pending":
            grant.key_hash = f"{tag}-{i}"
            grant.key_prefix = "ABCD"
            grant.key_expires_at = now + timedelta(days=10)
        else:
            grant.state = Grant.State.REVOKED
            grant.ended_at = now
        rows.append(grant)
    made = Grant.objects.bulk_create(rows)
    Grant.accounts.through.objects.bulk_create(
        [
            Grant.accounts.through(grant_id=g.pk, hostingaccount_id=accounts[i % len(accounts)].pk)
            for i, g in enumerate(made)
        ]
    )
    groups = {agency.pk: policy.customer_group(agency).pk for agency in agencies}
    permitted = {
        (groups[g.agency_id], accounts[i % len(accounts)].pk)
        for i, g in enumerate(made)
        if g.state == Grant.State.ACTIVE
    }
    GroupObjectPermission.objects.bulk_create(
        [
            GroupObjectPermission(
                group_id=group_id, permission=perm, content_type=ct, object_pk=str(account_id)
            )
            for group_id, account_id in permitted
        ]
    )
    Invitation.objects.bulk_create(
        [
            Invitation(
                customer=customer,
                email=f"{tag}-invitee{i}@big.example",
                token_hash=f"{tag}-{i}",
                created_at=now - timedelta(days=2 * (i % 2) * 5),
                expires_at=now + timedelta(days=5 - 10 * (i % 2)),
            )
            for i in range(max(people // 4, 2))
        ]
    )
    Contact.objects.bulk_create(
        [
            Contact(
                customer=customer,
                name=f"Contact {tag} {i}",
                email=f"{tag}-contact{i}@big.example",
                is_standard=True,
                is_authorised=True,
                is_primary=i == 0,
            )
            for i in range(max(people // 10, 2))
        ]
    )


def measure(client, path):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(path)
        seconds = time.perf_counter() - started
    assert response.status_code == 200
    return len(queries), seconds, response


def overview(customer, **query):
    path = reverse("accounts:access_overview", kwargs={"customer": customer.number})
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def sizes(db):
    """A small and a big main account, each with an owner; and a sub-account of each."""
    out = {}
    for tag, subs, grants, people in (("small", 2, 40, 30), ("big", 1000, 5000, 400)):
        main = CustomerFactory(name=f"Main {tag}")
        owner = MembershipFactory(customer=main, owner=True, user__email=f"{tag}@owner.example")
        populate(main, subs=subs, grants=grants, people=people, tag=tag)
        sub = Customer.objects.filter(parent=main).order_by("pk").first()
        populate(sub, subs=0, grants=max(grants // 10, 16), people=people // 2, tag=f"{tag}sub")
        out[tag] = (main, sub, owner.user)
    if connection.vendor == "postgresql":
        # Statistics, as production has them: bulk-loaded tables have none yet.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return out


def test_query_count_does_not_grow_with_the_customer(sizes):
    """1,000 sub-accounts and 5,000 grants need the same queries as 2 sub-accounts and 40
    grants (every list page, STYLE.md): the main account's page, its later pages, and a
    sub-account's page listing the main account's users (C3). Every section is
    paginated."""
    counts = {}
    for tag, (main, sub, owner) in sizes.items():
        client = client_as(owner)
        measure(client, overview(main))  # warm caches (content types, the session)
        counts[tag], seconds, response = measure(client, overview(main))
        later = {f"{s}_page": 2 for s in ("members", "grants", "contacts", "invitations")}
        counts[f"{tag} page 2"], _s, _r = measure(client, overview(main, **later))
        counts[f"{tag} sub"], sub_seconds, sub_response = measure(client, overview(sub))
        assert b"Users of the main account" in sub_response.content
        print(
            f"\n{tag}: main {counts[tag]} queries {seconds * 1000:.0f} ms, "
            f"sub-account {counts[f'{tag} sub']} queries {sub_seconds * 1000:.0f} ms"
        )
    assert counts["small"] == counts["big"]
    assert counts["small page 2"] == counts["big page 2"]
    assert counts["small sub"] == counts["big sub"]
    # The sections and the sub-accounts are counted in one query (22 -> 16 in make bench);
    # the session, its user, device and guard row are one (make bench: 10 in all).
    assert counts["big"] <= 13
    assert counts["big sub"] <= 17

    html = response.content.decode()  # the big main account's first page
    assert "its 1000 sub-accounts" in html
    assert html.count("<tr") < 25 * 7 + 10
    for section in ("members", "grants", "contacts", "invitations", "grant_keys", "ended_grants"):
        assert f"?{section}_page=2#{section}_page" in html, section


def test_accounts_of_every_grant_section_in_one_query(sizes):
    """D4: the hosting accounts of the live, pending and ended grants on the page come from
    one query (make bench: the access overview at 10 queries), each section still showing
    its own: what the agency reaches now, what a pending or ended grant named."""
    main, _sub, owner = sizes["small"]
    client = client_as(owner)
    measure(client, overview(main))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(overview(main))
    sqls = [executed_sql(q["sql"]) for q in queries.captured_queries]
    assert len([sql for sql in sqls if sql.startswith('SELECT "delegation_grant_accounts".')]) == 1
    assert not [sql for sql in sqls if "_prefetch_related_val_grant_id" in sql]
    sections = {s["key"]: s for s in response.context["sections"]}
    for key in ("grants", "grant_keys", "ended_grants"):
        rows = [item["row"] for item in sections[key]["rows"]]
        assert rows and all(row.accounts for row in rows), key
