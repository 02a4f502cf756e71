"""The access overview page, its actions and its CSV export (issue 7; U2, U3, U4, D2, D3,
D4, D6, K8, K10, K11, S1, S2, S5, S27)."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Invitation, Membership
from accounts.views_access import csv_safe
from delegation.models import Grant
from tests.contacts.factories import ContactFactory
from tests.delegation.factories import client_as, clock
from tests.factories import MembershipFactory
from tests.overview.conftest import page_user_ids

pytestmark = pytest.mark.django_db


def url(name, customer, **kwargs):
    return reverse(f"accounts:{name}", kwargs={"customer": customer.number, **kwargs})


PAGES = ["access_overview", "access_overview_export"]
POSTS = ["access_review_confirm", "access_review_settings"]


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- who may open it ------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES + POSTS)
def test_s2_anonymous_is_sent_to_login(client, customer, name):
    """S2: anonymous requests are redirected to the login page."""
    response = (client.post if name in POSTS else client.get)(url(name, customer))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("name", PAGES + POSTS)
def test_s1_another_tenant_gets_404(client_for, customer, outsider, name):
    """S1: the owner of another customer learns nothing about this one."""
    client = client_for(outsider)
    response = (client.post if name in POSTS else client.get)(url(name, customer))
    assert response.status_code == 404


@pytest.mark.parametrize("name", PAGES + POSTS)
def test_u3_member_without_manage_users_gets_403(client_for, customer, member, name):
    """U3: only owners and users allowed to manage users see who can act."""
    client = client_for(member)
    response = (client.post if name in POSTS else client.get)(url(name, customer))
    assert response.status_code == 403


@pytest.mark.parametrize("name", PAGES)
def test_d4_delegate_gets_404_on_the_grantor(client_for, customer, grant, delegate, name):
    """D4: an agency's delegate never sees the grantor's users."""
    assert client_for(delegate).get(url(name, customer)).status_code == 404


def test_u3_user_manager_sees_the_page_but_owners_confirm_reviews(client_for, customer):
    """U3: a user allowed to manage users reads the overview; the review is the owners'."""
    manager = MembershipFactory(customer=customer, can_manage_users=True).user
    client = client_for(manager)
    response = client.get(url("access_overview", customer))
    assert response.status_code == 200
    assert b"Confirm: everyone listed" not in response.content
    assert client.post(url("access_review_confirm", customer)).status_code == 403


def test_c3_owner_of_the_main_account_reviews_a_sub_account(client_for, world):
    """C3: the main account's owner acts for the sub-account with owner permissions."""
    client = client_for(world.expected["main_owner"])
    response = client.get(url("access_overview", world.customer))
    assert response.status_code == 200
    # Members of the main account are changed in the main account.
    edit = reverse(
        "accounts:member_edit",
        kwargs={
            "customer": world.main.number,
            "membership": Membership.objects.get(
                customer=world.main, user=world.expected["main_member"]
            ).pk,
        },
    )
    assert edit.encode() in response.content


def test_navigation_names_the_page(client_for, customer, owner):
    response = client_for(owner).get(reverse("portal:dashboard", args=[customer.number]))
    assert url("access_overview", customer).encode() in response.content
    assert b"Who can act for us" in response.content


# --- what it shows --------------------------------------------------------------------


def test_k8_k10_k11_contacts_who_instruct_or_order_are_listed_with_their_reason(client_for, world):
    """K8, K10, K11: authorised, primary and phone-password contacts, never a plain or an
    archived contact; the phone password itself is never shown."""
    html = client_for(world.owner).get(url("access_overview", world.customer)).content.decode()
    assert "Petra Primär" in html and "primary contact" in html
    assert "Chef Person" in html and "may instruct the provider without limit" in html
    assert "Telefon Tom" in html and "may place orders by phone" in html
    assert "=reboots only" in html  # K8: the restrictions staff read out
    assert "Sommer2024" not in html
    assert "Nur Standard" not in html
    assert "Archiviert Authorised" not in html


def test_u2_d6_ending_soon_is_said_in_words_not_only_by_colour(client_for, world):
    """Grants and invitations ending within 14 days carry the text "ends within 14 days";
    a grant ending in 60 days does not."""
    html = client_for(world.owner).get(url("access_overview", world.customer)).content.decode()
    rows = html.split("<tr")
    soon = [r for r in rows if "Agentur Bald" in r][0]
    later = [r for r in rows if "Agentur Später" in r][0]
    invitation = [r for r in rows if "invitee@elsewhere.example" in r][0]
    for row in (soon, invitation):
        assert 'class="ending-soon' in row
        assert "ends within 14 days" in row
    assert "ends within 14 days" not in later


def test_d6_u2_ended_grants_and_invitations_stay_visible_for_90_days_with_their_state(
    client_for, world
):
    """D6, U2: revoked, handed-back, expired (also past the end without the job), cancelled
    and expired invitations are listed with their state; older than 90 days they go."""
    html = client_for(world.owner).get(url("access_overview", world.customer)).content.decode()
    section = html[html.index('id="ended_grants_page"') :]
    for name, state in (
        ("Agentur Widerruf", "revoked"),
        ("Agentur Zurück", "handed back"),
        ("Agentur Abgelaufen", "expired"),
        ("Agentur Vorbei", "expired"),  # D6: past ends_at, the job has not run
    ):
        row = [r for r in section.split("<tr") if name in r][0]
        assert f">{state}</span>" in row, name
    assert "Agentur Alt" not in html
    invitations = html[html.index('id="invitations_page"') : html.index('id="grant_keys_page"')]
    for email, state in (
        ("cancelled@invite.example", "cancelled"),
        ("expired@invite.example", "expired"),
        ("lapsed@invite.example", "expired"),
    ):
        row = [r for r in invitations.split("<tr") if email in r][0]
        assert f">{state}</span>" in row, email
    assert "ancient@invite.example" not in html


def test_d3_pending_grant_keys_are_listed_and_give_nobody_access(client_for, world):
    """D3: a grant waiting for its key names the agency, not its people."""
    html = client_for(world.owner).get(url("access_overview", world.customer)).content.decode()
    keys = html[html.index('id="grant_keys_page"') : html.index('id="ended_grants_page"')]
    assert "Agentur Wartet" in keys
    assert "data-user" not in keys
    assert "boss@pending.example" not in html


def test_last_activity_is_shown_where_known(client_for, world):
    """Last activity: the later of the last sign-in and the last request of a session."""
    member = world.expected["member"]
    html = client_for(world.owner).get(url("access_overview", world.customer)).content.decode()
    row = [r for r in html.split("<tr") if member.email in r][0]
    shown = timezone.localtime(member.last_activity)
    assert shown.strftime("%m/%d/%Y") in row


# --- actions: the existing views' forms -----------------------------------------------


def test_u4_s5_remove_a_member_from_the_overview(client_for, world):
    """U4, S5: the overview's remove form posts to the member view; the person is gone
    from the page and from the customer on the next request."""
    client = client_for(world.owner)
    member = world.expected["member"]
    membership = Membership.objects.get(customer=world.customer, user=member)
    remove = reverse(
        "accounts:member_remove",
        kwargs={"customer": world.customer.number, "membership": membership.pk},
    )
    html = client.get(url("access_overview", world.customer)).content.decode()
    assert f'action="{remove}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert client.post(remove).status_code == 302
    html = client.get(url("access_overview", world.customer)).content.decode()
    assert member.email not in html
    other = client_as(member)
    assert other.get(reverse("portal:dashboard", args=[world.customer.number])).status_code in (
        302,
        404,
    )


def test_d2_s5_revoke_a_grant_from_the_overview(client_for, world):
    """D2, S5: the revoke form posts to the grant view; the agency's delegate gets a 404 on
    the granted account with its very next request."""
    grant = world.grants["live"]
    delegate = world.expected["Agentur Live delegate"]
    account = grant.accounts.get(name="kunde-shop.example")
    account_url = account.get_absolute_url()
    agency_client = client_as(delegate)
    assert agency_client.get(account_url).status_code == 200
    client = client_for(world.owner)
    revoke = reverse(
        "delegation:grant_revoke", kwargs={"customer": world.customer.number, "grant": grant.pk}
    )
    assert (
        f'action="{revoke}"'.encode() in client.get(url("access_overview", world.customer)).content
    )
    assert client.post(revoke).status_code == 302
    assert agency_client.get(account_url).status_code == 404
    grant.refresh_from_db()
    assert grant.state == Grant.State.REVOKED
    html = client.get(url("access_overview", world.customer)).content.decode()
    assert delegate.pk not in page_user_ids(html)
    assert delegate.email not in html


def test_u2_cancel_an_invitation_from_the_overview(client_for, world):
    """U2: the cancel form posts to the invitation view; it stays listed as cancelled."""
    invitation = world.invitations["open"]
    client = client_for(world.owner)
    cancel = reverse(
        "accounts:invitation_cancel",
        kwargs={"customer": world.customer.number, "invitation": invitation.pk},
    )
    assert (
        f'action="{cancel}"'.encode() in client.get(url("access_overview", world.customer)).content
    )
    client.post(cancel)
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.CANCELLED
    html = client.get(url("access_overview", world.customer)).content.decode()
    row = [r for r in html.split("<tr") if invitation.email in r and 'scope="row"' in r][0]
    assert ">cancelled</span>" in row
    assert f'action="{cancel}"' not in html


def test_actions_follow_the_users_own_permissions(client_for, world):
    """A user who manages users but not delegations or contacts gets no revoke button and
    no contact link (D2, K10); nobody changes their own membership."""
    manager = world.expected["user_manager"]
    html = client_for(manager).get(url("access_overview", world.customer)).content.decode()
    assert "/revoke/" not in html
    assert "/contacts/" not in html
    own = Membership.objects.get(customer=world.customer, user=manager)
    assert f"/users/{own.pk}/remove/" not in html
    other = Membership.objects.get(customer=world.customer, user=world.expected["member"])
    assert f"/users/{other.pk}/remove/" in html
    # The owner's membership is not a manager's to change.
    owner = Membership.objects.get(customer=world.customer, user=world.owner)
    assert f"/users/{owner.pk}/" not in html


# --- export ---------------------------------------------------------------------------


def test_export_is_a_csv_download_with_a_safe_name(client_for, world):
    response = client_for(world.owner).get(url("access_overview_export", world.customer))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="access-K-{world.customer.number}-{today}.csv"'
    )
    rows = rows_of(response)
    assert rows[0][:3] == ["Name", "E-mail address", "Section"]
    assert len({len(row) for row in rows}) == 1


def test_export_is_named_by_the_portals_day_not_utcs(client_for, world):
    """At 23:30 UTC in December it is already the next day in Berlin (TIME_ZONE): the
    file is named after the day the portal shows."""
    from datetime import UTC, datetime

    client = client_for(world.owner)
    with clock(datetime(2026, 12, 6, 23, 30, tzinfo=UTC)):
        response = client.get(url("access_overview_export", world.customer))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'-K-{world.customer.number}-2026-12-07.csv"')


def test_s27_export_is_recorded_in_the_audit_trail(client_for, world):
    client_for(world.owner).get(url("access_overview_export", world.customer))
    event = AuditEvent.objects.get(action="access_overview.exported")
    assert event.customer == world.customer
    assert event.actor == world.owner


def test_export_cells_never_start_a_formula(client_for, world):
    """CSV injection: a contact named like a formula arrives as text."""
    ContactFactory(
        customer=world.customer,
        name='=HYPERLINK("http://evil.example","x")',
        email="formula@contacts.example",
        authorised=True,
    )
    ContactFactory(customer=world.customer, name="@SUM(A1)", authorised=True)
    rows = rows_of(client_for(world.owner).get(url("access_overview_export", world.customer)))
    names = [row[0] for row in rows]
    assert '\'=HYPERLINK("http://evil.example","x")' in names
    assert "'@SUM(A1)" in names
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\t=x", "'\t=x"),
        ("Anna", "Anna"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_csv_safe_quotes_formula_starts(value, safe):
    assert csv_safe(value) == safe


def test_ended_rows_older_than_90_days_are_not_exported(client_for, world):
    rows = rows_of(client_for(world.owner).get(url("access_overview_export", world.customer)))
    flat = "\n".join(",".join(r) for r in rows)
    assert "Agentur Alt" not in flat
    assert "ancient@invite.example" not in flat
    assert "Agentur Widerruf" in flat
