"""The page lists exactly the people the policy lets in, and nobody else (issue 7).

For every user in the database: ``customer_access`` or ``account_access`` (for any of the
customer's hosting accounts) is not None ⟺ the user appears on the access overview as
someone who can act (``data-user``), and in the CSV export."""

import csv
import io

import pytest
from django.urls import reverse

from accounts.models import User
from portal import policy
from tests.overview.conftest import lets_in, page_user_ids

pytestmark = pytest.mark.django_db


def overview_html(client_for, world) -> str:
    client = client_for(world.owner)
    response = client.get(
        reverse("accounts:access_overview", kwargs={"customer": world.customer.number})
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_world_has_people_on_both_sides(world):
    """The check below is not empty: the policy lets in and keeps out whom we think."""
    for label, user in world.expected.items():
        assert lets_in(user, world.customer), label
    for label, user in world.kept_out.items():
        assert not lets_in(user, world.customer), label


def test_page_lists_exactly_the_users_the_policy_lets_in(world, client_for):
    """U3, C3, D4, D6, U6, S6, U4: members, main-account users and the agencies' delegates
    appear; inactive and unverified users, removed memberships, plain agency members,
    expired, revoked, handed-back, pending grants and grants past their end without the
    job having run do not."""
    html = overview_html(client_for, world)
    shown = page_user_ids(html)
    allowed = {u.pk for u in User.objects.all() if lets_in(u, world.customer)}
    assert shown == allowed
    assert {u.pk for u in world.expected.values()} <= shown
    assert not {u.pk for u in world.kept_out.values()} & shown


def test_people_kept_out_are_not_named_anywhere_on_the_page(world, client_for):
    """Nobody the policy keeps out appears as a person — except an invitation's address,
    which is listed as an invitation (U2), not as someone who can act."""
    html = overview_html(client_for, world)
    for label, user in world.kept_out.items():
        if label == "invited_with_login":
            continue
        assert user.email not in html, label


def test_export_lists_the_same_people(world, client_for):
    """The CSV names the same users in its person sections as the page (issue 7)."""
    client = client_for(world.owner)
    response = client.get(
        reverse("accounts:access_overview_export", kwargs={"customer": world.customer.number})
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    person_sections = {
        str(policy.OVERVIEW_TITLES[s])
        for s in (
            policy.OverviewSection.MEMBERS,
            policy.OverviewSection.MAIN_ACCOUNT,
            policy.OverviewSection.GRANTS,
        )
    }
    emails = {row[1] for row in rows[1:] if row[2] in person_sections}
    allowed = {u.email for u in User.objects.all() if lets_in(u, world.customer)}
    assert emails == allowed


def test_each_person_row_gives_the_policys_own_reason(world):
    """DESIGN: the reasons come from the policy's Access.reason, the one that decides."""
    customer = world.customer
    sections = policy.overview_sections(customer)
    members = policy.overview_rows(
        customer, policy.OverviewSection.MEMBERS, sections[policy.OverviewSection.MEMBERS]
    )
    for row in members:
        assert row.reason == policy.customer_access(row.user, customer).reason
    main_rows = policy.overview_rows(
        customer,
        policy.OverviewSection.MAIN_ACCOUNT,
        sections[policy.OverviewSection.MAIN_ACCOUNT],
    )
    assert {r.user for r in main_rows} >= {world.expected["main_owner"]}
    for row in main_rows:
        assert row.reason == f"via main account {world.main.display_number}"
    grant_rows = policy.overview_rows(
        customer, policy.OverviewSection.GRANTS, sections[policy.OverviewSection.GRANTS]
    )
    for row in grant_rows:
        for person in row.people:
            user = User.objects.get(pk=person.user.pk)
            reached = [policy.account_access(user, account) for account in row.accounts]
            assert all(a is not None and a.via == policy.Via.GRANT for a in reached)
            assert person.reason == policy.Access(policy.Via.GRANT, customer, grant=row.obj).reason


def test_overview_rows_name_exactly_the_users_the_policy_lets_in(world):
    """The same check on the policy's own rows, every section, no page in between."""
    customer = world.customer
    listed = set()
    for section, queryset in policy.overview_sections(customer).items():
        for row in policy.overview_rows(customer, section, queryset):
            listed.update(row.user_ids)
    assert listed == {u.pk for u in User.objects.all() if lets_in(u, customer)}
