"""The users page's order (U3): owners first, then by the person's last name, first name
and address. An index serves it (make bench: a customer with 1,000 members sorted all of
them with their users to show 25), over copies of the user's names on each membership
that the database keeps (accounts migration 0007). These tests hold the order to the one
the users' own columns give, whatever path changes a name or a membership."""

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import selectors, services
from accounts.models import Membership, User
from portal.prepared import executed_sql
from tests.accounts.factories import InvitationFactory
from tests.factories import CustomerFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

# Case, accents, empty and equal names, addresses that differ only after the names.
PEOPLE = [
    ("Anna", "berger", "a1@example.com"),
    ("anna", "Berger", "a2@example.com"),
    ("Émile", "Zola", "e@example.com"),
    ("Emile", "Zola", "e2@example.com"),
    ("", "", "nobody@example.com"),
    ("Zoë", "", "zoe@example.com"),
    ("Bob", "Ångström", "b@example.com"),
    ("Bob", "Angstrom", "b2@example.com"),
    ("Carl", "Berger", "c2@example.com"),
    ("Carl", "Berger", "c1@example.com"),
    ("Dora", "d'Arc", "d@example.com"),
    ("Dora", "Darc", "d2@example.com"),
    ("Eve", "O Neil", "o@example.com"),
    ("Eve", "ONeil", "o2@example.com"),
]


def by_users_columns(customer) -> list[int]:
    """The order as the page asked for it before the copies: from the users' columns."""
    return list(
        Membership.objects.filter(customer=customer)
        .order_by("-is_owner", "user__last_name", "user__first_name", "user__email")
        .values_list("pk", flat=True)
    )


def listed(customer) -> list[int]:
    return [m.pk for m in selectors.members_of(customer)]


def assert_copies_current():
    """Every membership holds its user's names as they are now."""
    stale = Membership.objects.exclude(
        sort_last_name=F("user__last_name"),
        sort_first_name=F("user__first_name"),
        sort_email=F("user__email"),
    )
    assert list(stale.values_list("pk", "sort_last_name", "sort_first_name", "sort_email")) == []


@pytest.fixture
def people(customer, owner):
    members = [
        MembershipFactory(
            customer=customer,
            user__first_name=first,
            user__last_name=last,
            user__email=email,
            is_owner=n % 5 == 0,
        )
        for n, (first, last, email) in enumerate(PEOPLE)
    ]
    MembershipFactory(customer=CustomerFactory(), user=members[0].user)  # a second customer
    return members


def test_u3_order_is_the_users_columns_order(customer, people):
    """Owners first, then last name, first name, address, exactly as the users' columns
    sort (case, accents, empty names, ties broken by the address); each page too."""
    assert_copies_current()
    assert listed(customer) == by_users_columns(customer)
    expected = by_users_columns(customer)
    for offset in (0, 5, 10):
        assert [m.pk for m in selectors.members_page(customer, offset, 5)] == expected[
            offset : offset + 5
        ]


def test_u3_renames_move_the_member_whatever_changes_the_user(customer, people):
    """A user's names changed by a save, a queryset update or raw SQL are the membership's
    copies at once (in every customer the person acts for)."""
    user = people[4].user
    user.last_name = "Aaron"
    user.save()
    assert_copies_current()
    assert listed(customer) == by_users_columns(customer)
    User.objects.filter(pk=people[1].user_id).update(first_name="Zed", email="zed@example.com")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_user SET last_name = %s WHERE id = %s", ["Mmm", people[2].user_id]
        )
    assert_copies_current()
    assert listed(customer) == by_users_columns(customer)


def test_u3_membership_writes_cannot_leave_the_copies_behind(customer, people):
    """A membership saved from an instance read before a rename, one moved to another
    user, and memberships made in bulk hold their user's current names."""
    stale = Membership.objects.get(pk=people[3].pk)
    User.objects.filter(pk=stale.user_id).update(last_name="Renamed")
    stale.can_view_invoices = True
    stale.save()  # writes every column, the old copies among them
    moved = Membership.objects.get(pk=people[5].pk)
    newcomer = UserFactory(last_name="Aardvark")
    Membership.objects.filter(pk=moved.pk).update(user=newcomer)
    Membership.objects.bulk_create(
        [Membership(customer=customer, user=UserFactory()) for _ in range(3)]
    )
    made = Membership(customer=customer, user=UserFactory(), sort_last_name="forged")
    made.save()
    assert_copies_current()
    assert listed(customer) == by_users_columns(customer)


def test_u3_user_inserted_after_its_membership_in_one_transaction(customer):
    """Foreign keys are checked at commit: a membership may name a user inserted later in
    the same transaction (fixtures, restores); the user's insert fills the copies."""
    with transaction.atomic():
        next_id = (User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 100
        Membership.objects.bulk_create([Membership(customer=customer, user_id=next_id)])
        User.objects.create(id=next_id, email="late@example.com", last_name="Late")
    assert_copies_current()
    assert Membership.objects.get(user_id=next_id).sort_last_name == "Late"


def test_u3_services_and_admin_keep_the_order(customer, owner, people, staff_client):
    """The paths people use: a role change (owner or not), an invitation accepted by an
    existing login, a staff edit of a person's name in the admin."""
    services.membership_update(membership=people[6], changes={"is_owner": True}, by=owner)
    invited = UserFactory(last_name="Invited", email="invited@example.com")
    invitation = InvitationFactory(customer=customer, email=invited.email)
    services.invitation_accept(invitation=invitation, user=invited)
    target = people[7].user
    response = staff_client.post(
        reverse("admin:accounts_user_change", args=[target.pk]),
        {
            "email": target.email,
            "first_name": "Aaa",
            "last_name": "Aaa",
            "language": target.language,
            "status": target.status,
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Membership.objects.get(pk=people[7].pk).sort_last_name == "Aaa"
    assert_copies_current()
    assert listed(customer) == by_users_columns(customer)


def test_u3_members_page_reads_its_order_from_the_index(
    client_for, owner, customer, people, settings
):
    """The page's query walks membership_list_order: no sort of all members."""
    settings.PREPARED_STATEMENTS = False  # the query as SQL, to EXPLAIN with these settings
    url = reverse("accounts:member_list", kwargs={"customer": customer.number})
    client = client_for(owner)
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    pages = [
        q["sql"]
        for q in queries.captured_queries
        if '"sort_last_name" ASC' in executed_sql(q["sql"]).partition("ORDER BY")[2]
    ]
    assert len(pages) == 1 and "accounts_user" in pages[0]
    with connection.cursor() as cursor:
        # A tiny table: without these the planner may rightly prefer a scan and a sort.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + pages[0])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "membership_list_order" in plan and "Sort" not in plan, plan
