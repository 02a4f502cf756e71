"""The users page reads its rows with queries compiled once per process, folds "reported as
left" into the members' query and looks labels up once per language (make bench): every
answer is the one the querysets and the lazy labels give."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts import selectors
from accounts.models import Invitation, Membership, StaffRequest
from tests.accounts.factories import InvitationFactory, StaffRequestFactory
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "de", "hu"]


def list_url(customer):
    return reverse("accounts:member_list", kwargs={"customer": customer.number})


def _reported(customer) -> set[int]:
    """What the page used to ask: users with an open "has left" request (U4)."""
    return set(
        StaffRequest.objects.filter(
            customer=customer, kind=StaffRequest.Kind.USER_LEFT, state=StaffRequest.State.OPEN
        ).values_list("user_id", flat=True)
    )


@pytest.fixture
def crowd(customer, owner, member, other_customer):
    """30 more members (one reported as left, one with a handled request, one reported
    under another customer) and 27 invitations in every state."""
    members = MembershipFactory.create_batch(30, customer=customer)
    StaffRequestFactory(customer=customer, user=members[3].user)
    StaffRequestFactory(customer=customer, user=members[4].user, state=StaffRequest.State.DONE)
    StaffRequestFactory(customer=other_customer, user=members[5].user)
    InvitationFactory.create_batch(20, customer=customer)
    InvitationFactory.create_batch(3, customer=customer, expired=True)
    InvitationFactory.create_batch(4, customer=customer, cancelled=True)
    InvitationFactory(customer=other_customer)
    return members


@pytest.mark.parametrize("offset", [0, 25, 50])
def test_u3_members_page_answers_as_the_queryset(customer, crowd, offset):
    """U3/U4: the compiled page holds the rows of members_of() at that offset, with the
    same fields, and "reported as left" exactly for the open "has left" requests."""
    expected = list(selectors.members_of(customer)[offset : offset + 25])
    reported = _reported(customer)
    for _ in range(2):  # compiled at the first call, reused at the second
        rows = selectors.members_page(customer, offset, 25)
        assert [m.pk for m in rows] == [m.pk for m in expected]
        for got, want in zip(rows, expected, strict=True):
            assert got.permission_values() == want.permission_values()
            assert (got.customer_id, got.user_id, got.created_at) == (
                want.customer_id,
                want.user_id,
                want.created_at,
            )
            assert str(got.user) == str(want.user) and got.user.email == want.user.email
            assert got.reported_left == (got.user_id in reported)
    assert len(reported) == 1


@pytest.mark.parametrize("offset", [0, 25])
def test_u2_invitations_page_answers_as_the_queryset(customer, crowd, offset):
    """U2: the compiled page holds the rows of invitations_of() at that offset (another
    customer's invitation is never among them), showing the same."""
    expected = list(selectors.invitations_of(customer)[offset : offset + 25])
    rows = selectors.invitations_page(customer, offset, 25)
    assert [i.pk for i in rows] == [i.pk for i in expected]
    for got, want in zip(rows, expected, strict=True):
        assert got.permission_values() == want.permission_values()
        assert (got.email, got.state, got.shown_state, got.created_at, got.expires_at) == (
            want.email,
            want.state,
            want.shown_state,
            want.created_at,
            want.expires_at,
        )
        assert str(got.invited_by) == str(want.invited_by)
        assert got.customer_id == customer.pk


def test_pages_past_the_compiled_ones_use_the_orm(customer, crowd):
    """A page past those compiled once (or an offset between pages) still answers."""
    far = selectors._MEMBER_PAGES._pages * 25
    assert selectors.members_page(customer, far, 25) == []
    assert [m.pk for m in selectors.members_page(customer, 3, 25)] == [
        m.pk for m in selectors.members_of(customer)[3:28]
    ]


def test_u2_counts_answer_as_counting(customer, crowd):
    """U2: both totals, from one query."""
    with CaptureQueriesContext(connection) as queries:
        counts = selectors.member_list_counts(customer)
    assert len(queries) == 1
    assert counts == {
        "members": Membership.objects.filter(customer=customer).count(),
        "invitations": Invitation.objects.filter(customer=customer).count(),
    }


def test_u4_page_marks_only_the_reported_member(client_for, owner, customer, crowd):
    """U4: the badge is on the one member with an open "has left" request of this
    customer, on whichever page the member is."""
    client = client_for(owner)
    reported = _reported(customer)
    shown = 0
    for number in (1, 2):
        response = client.get(list_url(customer) + f"?page={number}")
        for row in response.context["rows"]:
            assert row["reported_left"] == (row["membership"].user_id in reported)
        shown += response.content.decode().count("reported as left")
    assert shown == len(reported) == 1


def test_later_pages_and_empty_lists_cost_no_more_queries(client_for, owner, customer, crowd):
    """Same number of queries on the first and a later page (nothing read per row); a
    customer without invitations costs no more."""
    client = client_for(owner)
    client.get(list_url(customer))

    def count(query=""):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(list_url(customer) + query).status_code == 200
        return len(queries)

    first = count()
    assert count("?page=2&ipage=2") == first
    assert count("?page=99&ipage=x") == first  # past the end: the last page
    Invitation.objects.filter(customer=customer).delete()
    assert count() <= first


@pytest.mark.parametrize("language", LANGUAGES)
def test_u3_labels_are_the_fields_labels_in_every_language(customer, language):
    """U3: the labels looked up once per language are the lazy labels in that language,
    for members and invitations, owners and not; the shown state's too (U2)."""
    plain = MembershipFactory(
        customer=customer, can_view_invoices=True, notify_orders=True, notify_support=False
    )
    boss = MembershipFactory(customer=customer, owner=True)
    invitation = InvitationFactory(customer=customer, can_manage_users=True)
    old = InvitationFactory(customer=customer, expired=True)
    cancelled = InvitationFactory(customer=customer, cancelled=True)
    with translation.override(language):
        for obj in (plain, boss, invitation, old, cancelled):
            expected = (
                [str(translation.gettext("owner (all permissions)"))]
                if obj.is_owner
                else [
                    str(obj._meta.get_field(name).verbose_name)
                    for name in obj.PERMISSION_FIELDS
                    if getattr(obj, name)
                ]
            )
            assert obj.permission_labels() == expected
            assert obj.notification_labels() == [
                str(obj._meta.get_field(name).verbose_name)
                for name in obj.NOTIFICATION_FIELDS
                if getattr(obj, name)
            ]
        for obj in (invitation, old, cancelled):
            assert obj.get_shown_state_display() == str(Invitation.State(obj.shown_state).label)
    if language != "en":
        with translation.override("en"):
            english = plain.permission_labels()
        with translation.override(language):
            assert plain.permission_labels() != english


@pytest.mark.parametrize("language", LANGUAGES)
def test_u3_row_texts_are_the_labels_joined(client_for, owner, customer, crowd, language):
    """U2, U3: the permissions and notification mails each row shows (made once per
    combination of flags in a view) are the row's own labels in the page's language, "—"
    where there are none; members and invitations alike."""
    MembershipFactory(
        customer=customer,
        user__last_name="Aaa",  # on the first page, after the owners
        **dict.fromkeys(Membership.PERMISSION_FIELDS + Membership.NOTIFICATION_FIELDS, False),
    )
    InvitationFactory(customer=customer, can_manage_users=True, notify_orders=True)
    owner.language = language
    owner.save(update_fields=["language"])
    response = client_for(owner).get(list_url(customer))
    with translation.override(language):
        for row in response.context["rows"]:
            m = row["membership"]
            assert row["permissions"] == (", ".join(m.permission_labels()) or "—")
            assert row["notifications"] == (", ".join(m.notification_labels()) or "—")
        for row in response.context["invitation_rows"]:
            assert row["permissions"] == (", ".join(row["invitation"].permission_labels()) or "—")
        owner_text = translation.gettext("owner (all permissions)")
    texts = {row["permissions"] for row in response.context["rows"]}
    assert {"—", owner_text} <= texts
    assert "—" in {row["notifications"] for row in response.context["rows"]}
