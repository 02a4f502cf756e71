"""The access overview's queries are compiled once per process (make bench: building and
compiling the seven sections' querysets, counts and pages, and the grants' accounts and
delegates, were two thirds of the page's Python). Compiled, they still answer for each
view's moment and customer: nothing of either is compiled in."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.models import GroupObjectPermission

from accounts import views_access
from accounts.models import HostingAccount, Invitation
from delegation.models import Grant
from portal import policy
from tests.accounts.factories import InvitationFactory
from tests.contacts.factories import ContactFactory
from tests.delegation.factories import approved_grant, client_as
from tests.factories import CustomerFactory, HostingAccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def overview(customer, **query):
    path = reverse("accounts:access_overview", kwargs={"customer": customer.number})
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def sections_of(response) -> dict:
    """Per section: its count and the objects of its rows."""
    return {
        s["key"]: (s["page"].paginator.count, [item["row"].obj for item in s["rows"]])
        for s in response.context["sections"]
    }


def granted(customer, owner, name, *, ends_at=None):
    """A live grant of one of ``customer``'s accounts to a new agency."""
    agency = CustomerFactory(name=name)
    boss = MembershipFactory(customer=agency, owner=True).user
    account = HostingAccountFactory(customer=customer)
    return approved_grant(
        grantor=customer,
        agency=agency,
        accounts=[account],
        by=owner,
        approver=boss,
        ends_at=ends_at,
    )


@pytest.fixture
def spied(monkeypatch):
    """Calls of what builds the page's querysets, by name."""
    calls = []
    for name in ("overview_sections", "_grant_account_pairs", "_agency_delegates"):
        original = getattr(policy, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(policy, name, spy)
    return calls


def test_a_view_builds_no_queryset_once_compiled(customer, owner, spied):
    """After a first view of each page, the next views (of another customer too, a
    sub-account's and a main account's) build none of the sections, counts, pages,
    grants' accounts and delegates again: they run the compiled queries."""
    main = CustomerFactory(name="Main GmbH")
    main_owner = MembershipFactory(customer=main, owner=True).user
    sub = CustomerFactory(name="Sub GmbH", parent=main)
    for grantor, by in ((customer, owner), (main, main_owner)):
        granted(grantor, by, f"Agency of {grantor.name}")
        Grant.objects.filter(grantor=grantor).update(state=Grant.State.REVOKED)  # ended
        granted(grantor, by, f"Second agency of {grantor.name}")
    views = [(owner, customer), (main_owner, main), (main_owner, sub)]
    for user, shown in views:
        assert client_as(user).get(overview(shown)).status_code == 200
    spied.clear()
    for user, shown in views:
        response = client_as(user).get(overview(shown, grants_page=1))
        assert response.status_code == 200
    assert spied == []
    found = sections_of(response)  # the sub-account's: the main account's users
    assert found["main_account"] == (1, [main_owner.memberships.get()])


def test_compiled_sections_answer_for_the_moment_of_each_view(customer, owner, monkeypatch):
    """The moment and the start of the ended sections' window are parameters: compiled at
    one moment, the sections answer for a later one. A live grant that ended moves to the
    ended grants, a grant that ended more than 90 days ago and an invitation that expired
    that long ago leave the page, a contact's authorisation that ended takes it off."""
    now = timezone.now()
    ending = granted(customer, owner, "Ending Agency", ends_at=now + timedelta(days=2))
    old = granted(customer, owner, "Old Agency")
    Grant.objects.filter(pk=old.pk).update(
        state=Grant.State.REVOKED, ended_at=now - timedelta(days=89)
    )
    invitation = InvitationFactory(customer=customer, invited_by=owner)
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=now - timedelta(days=100), expires_at=now - timedelta(days=89)
    )
    contact = ContactFactory(
        customer=customer, is_authorised=True, authorised_until=now + timedelta(days=1)
    )
    client = client_as(owner)
    before = sections_of(client.get(overview(customer)))
    assert before["grants"] == (1, [ending])
    assert before["ended_grants"] == (1, [old])
    assert before["invitations"] == (1, [invitation])
    assert before["contacts"] == (1, [contact])

    # The page's moment three days on (the session's own clock stays: it would expire).
    later = SimpleNamespace(now=lambda: now + timedelta(days=3))
    monkeypatch.setattr(views_access, "timezone", later)
    after = sections_of(client.get(overview(customer)))
    assert after["grants"] == (0, [])
    assert after["ended_grants"] == (1, [ending])
    assert after["invitations"] == (0, [])
    assert after["contacts"] == (0, [])


def test_pages_past_the_compiled_ones_read_the_same_rows(customer, owner, monkeypatch):
    """Pages past those compiled once per process go through the ORM: the same rows."""
    for n in range(25):
        MembershipFactory(customer=customer, user__last_name=f"Person {n:02}")
    client = client_as(owner)
    compiled = sections_of(client.get(overview(customer, members_page=3)))["members"]
    monkeypatch.setattr(views_access, "_COMPILED_PAGES", 1)
    through_orm = sections_of(client.get(overview(customer, members_page=3)))["members"]
    assert compiled == through_orm
    assert compiled[0] == 26 and len(compiled[1]) == 6


def test_d4_s6_grant_rows_name_the_accounts_the_agency_reaches_now(customer, owner):
    """D4, S6: a live grant's row names the accounts its agency reaches now: not one whose
    guardian row is gone, nor one that left the customer. An ended grant's row names its
    accounts that are still the customer's own. The page's statements answer as the ORM
    does for the same grants (the export's batches)."""
    agency = CustomerFactory(name="Reaching Agency")
    boss = MembershipFactory(customer=agency, owner=True).user
    reached, unguarded, moved, kept, gone = (
        HostingAccountFactory(customer=customer, name=name)
        for name in ("reached", "unguarded", "moved", "kept", "gone")
    )
    live = approved_grant(
        grantor=customer,
        agency=agency,
        accounts=[reached, unguarded, moved],
        by=owner,
        approver=boss,
    )
    ended = approved_grant(
        grantor=customer, agency=agency, accounts=[kept, gone], by=owner, approver=boss
    )
    Grant.objects.filter(pk=ended.pk).update(state=Grant.State.REVOKED)
    GroupObjectPermission.objects.filter(object_pk=str(unguarded.pk)).delete()
    other = CustomerFactory(name="Elsewhere GmbH")
    HostingAccount.objects.filter(pk__in=[moved.pk, gone.pk]).update(customer=other)

    client = client_as(owner)
    for _view in range(2):  # compiled at the first, prepared statements at the second
        response = client.get(overview(customer))
        sections = {s["key"]: s for s in response.context["sections"]}
        (live_row,) = [item["row"] for item in sections["grants"]["rows"]]
        (ended_row,) = [item["row"] for item in sections["ended_grants"]["rows"]]
        assert (live_row.obj, [a.name for a in live_row.accounts]) == (live, ["reached"])
        assert (ended_row.obj, [a.name for a in ended_row.accounts]) == (ended, ["kept"])
    at = timezone.now()
    through_orm = policy._grant_account_pairs(customer.pk, at, [live.pk], [ended.pk])
    assert sorted((p.grant_id, p.hostingaccount.name) for p in through_orm) == [
        (live.pk, "reached"),
        (ended.pk, "kept"),
    ]
