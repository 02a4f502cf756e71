"""Pages of both sides: happy paths, anonymous, other tenant (404), forbidden (403), query
counts, and the rules they show (D1–D7, S1, S2, S4, S5, S7, S8)."""

from datetime import timedelta

import pytest
from django.core import mail as django_mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from delegation import services
from delegation.models import Grant, GrantEvent
from delegation.views import KEY_REFUSED
from tests.delegation.factories import approved_grant, client_as, clock, make_grant
from tests.factories import CustomerFactory, HostingAccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db
Kind = GrantEvent.Kind


def url(name, customer, **kwargs):
    return reverse(f"delegation:{name}", kwargs={"customer": customer.number, **kwargs})


# --- every view: anonymous, other tenant, forbidden -----------------------------------

GRANTOR_VIEWS = [
    ("grant_list", False, "get"),
    ("grant_create", False, "get"),
    ("grant_request_create", False, "get"),
    ("grant_detail", True, "get"),
    ("grant_key_mail", True, "post"),
    ("grant_revoke", True, "post"),
]
AGENCY_VIEWS = [
    ("request_list", False, "get"),
    ("request_detail", True, "get"),
    ("request_approve", True, "post"),
    ("request_hand_back", True, "post"),
]


def _call(client, method, target):
    return getattr(client, method)(target)


@pytest.mark.parametrize(("name", "with_grant", "method"), GRANTOR_VIEWS + AGENCY_VIEWS)
def test_s2_anonymous_is_sent_to_login(name, with_grant, method, pending, customer, agency):
    """S2: anonymous requests are redirected to sign-in."""
    grant, _key = pending
    owner_side = customer if name.startswith("grant") else agency
    extra = {"grant": grant.pk} if with_grant else {}
    response = _call(Client(), method, url(name, owner_side, **extra))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


@pytest.mark.parametrize(("name", "with_grant", "method"), GRANTOR_VIEWS)
def test_s1_other_tenant_gets_404_on_grantor_pages(
    name, with_grant, method, pending, customer, outsider, client_for
):
    """S1: another tenant's customer and grants answer 404."""
    grant, _key = pending
    extra = {"grant": grant.pk} if with_grant else {}
    assert _call(client_for(outsider), method, url(name, customer, **extra)).status_code == 404


@pytest.mark.parametrize(("name", "with_grant", "method"), AGENCY_VIEWS)
def test_s1_other_tenant_gets_404_on_agency_pages(
    name, with_grant, method, pending, agency, outsider, client_for
):
    grant, _key = pending
    extra = {"grant": grant.pk} if with_grant else {}
    assert _call(client_for(outsider), method, url(name, agency, **extra)).status_code == 404


@pytest.mark.parametrize(
    ("name", "with_grant", "method"), [v for v in GRANTOR_VIEWS + AGENCY_VIEWS if v[1]]
)
def test_s1_grant_of_another_customer_is_404_in_own_path(
    name, with_grant, method, owner, customer, delegate, agency, client_for
):
    """S1: a grant id that is not this customer's answers 404 even under its own path."""
    other_grantor = CustomerFactory()
    other_owner = MembershipFactory(customer=other_grantor, owner=True).user
    foreign, _key = make_grant(
        grantor=other_grantor,
        agency=CustomerFactory(),
        accounts=[HostingAccountFactory(customer=other_grantor)],
        by=other_owner,
    )
    user, own = (owner, customer) if name.startswith("grant") else (delegate, agency)
    response = _call(client_for(user), method, url(name, own, grant=foreign.pk))
    assert response.status_code == 404


@pytest.mark.parametrize(("name", "with_grant", "method"), GRANTOR_VIEWS)
def test_member_without_delegation_permission_gets_403(
    name, with_grant, method, pending, customer, member, client_for
):
    """D4: only users allowed to manage delegations; others of the customer get 403."""
    grant, _key = pending
    extra = {"grant": grant.pk} if with_grant else {}
    assert _call(client_for(member), method, url(name, customer, **extra)).status_code == 403


@pytest.mark.parametrize(("name", "with_grant", "method"), AGENCY_VIEWS)
def test_d4_agency_user_without_delegation_permission_gets_403(
    name, with_grant, method, pending, agency, client_for
):
    """D4: only the agency's users allowed to manage delegations see grants."""
    grant, _key = pending
    plain = MembershipFactory(customer=agency).user
    extra = {"grant": grant.pk} if with_grant else {}
    assert _call(client_for(plain), method, url(name, agency, **extra)).status_code == 403


def test_s1_grantor_cannot_open_its_grant_on_the_agency_side(pending, customer, owner, client_for):
    """A grant is reached only from the side the customer is on."""
    grant, _key = pending
    assert client_for(owner).get(url("request_detail", customer, grant=grant.pk)).status_code == 404


def test_writes_need_post(pending, customer, agency, owner, delegate):
    grant, _key = pending
    assert client_as(owner).get(url("grant_revoke", customer, grant=grant.pk)).status_code == 405
    assert (
        client_as(delegate).get(url("request_approve", agency, grant=grant.pk)).status_code == 405
    )


# --- the grantor's side ---------------------------------------------------------------


def test_d1_d3_owner_makes_a_grant_and_sees_the_key_once(
    customer, agency, account, owner, client_for
):
    """D1–D3: administrator by customer number, chosen accounts, optional end; the key is
    shown in the answer, not stored, and not shown again."""
    client = client_for(owner)
    page = client.get(url("grant_create", customer))
    assert page.status_code == 200
    assert b"alice.example" in page.content
    ends = (timezone.localtime() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        url("grant_create", customer),
        {"administrator": agency.display_number, "accounts": [account.pk], "ends_at": ends},
    )
    assert response.status_code == 200
    key = response.context["key"]
    assert key.encode() in response.content
    assert response["Cache-Control"] == "no-store"
    grant = Grant.objects.get()
    assert grant.agency == agency and grant.state == Grant.State.PENDING
    assert grant.ends_at is not None
    assert services.key_matches(grant, key)
    detail = client.get(url("grant_detail", customer, grant=grant.pk))
    assert key.encode() not in detail.content
    assert services.key_normalise(key).encode() not in detail.content
    assert grant.key_prefix.encode() in detail.content
    listing = client.get(url("grant_list", customer))
    assert b"Charlie Agentur" in listing.content and key.encode() not in listing.content


def test_customer_number_is_read_as_people_type_it(customer, agency, account, owner, client_for):
    response = client_for(owner).post(
        url("grant_create", customer),
        {"administrator": f" k{agency.number} ", "accounts": [account.pk]},
    )
    assert response.status_code == 200 and "key" in response.context


def test_unknown_customer_number_says_so_and_suggests_support(customer, account, owner, client_for):
    """Seed 000: an administrator who is not a customer yet — the form says so and
    points to support."""
    response = client_for(owner).post(
        url("grant_create", customer), {"administrator": "K-999999", "accounts": [account.pk]}
    )
    assert response.status_code == 200
    assert b"There is no customer K-999999" in response.content
    assert url("grant_request_create", customer).encode() in response.content
    assert not Grant.objects.exists()


def test_own_number_is_refused(customer, account, owner, client_for):
    response = client_for(owner).post(
        url("grant_create", customer),
        {"administrator": customer.display_number, "accounts": [account.pk]},
    )
    assert b"That is your own customer number" in response.content
    assert not Grant.objects.exists()


def test_s4_posted_account_of_another_tenant_is_refused(
    customer, agency, account, other_account, owner, client_for
):
    """S4: a posted account id of another tenant is not a valid choice."""
    response = client_for(owner).post(
        url("grant_create", customer),
        {"administrator": agency.display_number, "accounts": [account.pk, other_account.pk]},
    )
    assert response.status_code == 200
    assert "key" not in response.context
    assert response.context["form"].errors["accounts"]
    assert not Grant.objects.exists()


def test_d4_delegate_cannot_pass_a_grant_on(grant, agency, account, delegate, client_for):
    """D4: the agency cannot grant an account it holds by delegation (no passing on)."""
    third = CustomerFactory()
    client = client_for(delegate)
    page = client.get(url("grant_create", agency))
    assert b"alice.example" not in page.content
    response = client.post(
        url("grant_create", agency),
        {"administrator": third.display_number, "accounts": [account.pk]},
    )
    assert "key" not in response.context
    assert Grant.objects.filter(agency=third).count() == 0


def test_d2_end_in_the_past_is_refused(customer, agency, account, owner, client_for):
    past = (timezone.localtime() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(owner).post(
        url("grant_create", customer),
        {"administrator": agency.display_number, "accounts": [account.pk], "ends_at": past},
    )
    assert b"The end must be in the future" in response.content


def test_d3_key_is_mailed_by_button_and_not_kept(
    pending, customer, agency, owner, delegate, client_for, django_capture_on_commit_callbacks
):
    """D3: the key page's button mails the key to the administrator; the portal checks
    the posted key against the hash and keeps no copy."""
    grant, key = pending
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(owner).post(
            url("grant_key_mail", customer, grant=grant.pk), {"key": key}
        )
    assert response.status_code == 302
    assert [m.to for m in django_mail.outbox] == [[delegate.email]]
    assert key in django_mail.outbox[0].body
    assert url("request_detail", agency, grant=grant.pk) in django_mail.outbox[0].body
    assert grant.events.filter(kind=Kind.KEY_MAILED).count() == 1


def test_key_mail_with_a_wrong_key_sends_nothing(pending, customer, owner, client_for):
    grant, _key = pending
    response = client_for(owner).post(
        url("grant_key_mail", customer, grant=grant.pk), {"key": "ABCD"}, follow=True
    )
    assert b"can no longer be e-mailed" in response.content
    assert not django_mail.outbox


def test_d2_s5_grantor_revokes_and_delegate_is_out_on_the_next_request(
    grant, customer, account, owner, delegate
):
    """D2, S5: revocation takes effect on the delegate's very next request."""
    delegate_client = client_as(delegate)
    account_url = account.get_absolute_url()
    assert delegate_client.get(account_url).status_code == 200
    response = client_as(owner).post(url("grant_revoke", customer, grant=grant.pk))
    assert response.status_code == 302
    assert delegate_client.get(account_url).status_code == 404
    grant.refresh_from_db()
    assert grant.state == Grant.State.REVOKED


def test_grant_request_goes_to_support(customer, owner, client_for):
    """U5/seed 000: the grantor asks support for the administrator's customer number."""
    response = client_for(owner).post(
        url("grant_request_create", customer),
        {
            "company": "Neu Agentur",
            "first_name": "Nina",
            "last_name": "Neu",
            "street": "Hauptstr. 1",
            "postal_code": "12345",
            "city": "Berlin",
            "country": "Germany",
            "phone": "+49 30 1234",
            "email": "nina@neu.example",
        },
    )
    assert response.status_code == 302
    listing = client_for(owner).get(url("grant_list", customer))
    assert b"Neu Agentur" in listing.content


# --- the administrator's side ---------------------------------------------------------


def test_d3_administrator_sees_pending_request_and_approves_with_key(
    pending, agency, account, delegate, client_for
):
    """D3, D4: the request is listed; the key approves it; the accounts appear on the
    agency's overview with the grantor's name and the end."""
    grant, key = pending
    client = client_for(delegate)
    listing = client.get(url("request_list", agency))
    assert listing.status_code == 200
    assert b"Alice Hosting GmbH" in listing.content
    detail = client.get(url("request_detail", agency, grant=grant.pk))
    assert b'name="key"' in detail.content
    response = client.post(url("request_approve", agency, grant=grant.pk), {"key": key})
    assert response.status_code == 302
    dashboard = client.get(reverse("portal:dashboard", kwargs={"customer": agency.number}))
    assert b"alice.example" in dashboard.content
    assert b"Alice Hosting GmbH" in dashboard.content
    assert client.get(account.get_absolute_url()).status_code == 200


def test_d4_dashboard_marks_delegated_accounts_with_grantor_and_end(
    customer, agency, account, owner, delegate, client_for
):
    ends = timezone.now() + timedelta(days=12)
    approved_grant(
        grantor=customer,
        agency=agency,
        accounts=[account],
        by=owner,
        approver=delegate,
        ends_at=ends,
    )
    response = client_for(delegate).get(
        reverse("portal:dashboard", kwargs={"customer": agency.number})
    )
    row = response.content.decode().split("alice.example", 1)[1].split("</tr>", 1)[0]
    assert "Alice Hosting GmbH" in row
    assert timezone.localtime(ends).strftime("%Y") in row


def test_s8_every_key_failure_is_answered_the_same_way(
    settings, customer, agency, account, owner, delegate
):
    """S8: wrong key, expired key, used key, revoked request, too many tries — the same
    status and the same message."""
    settings.WRONG_KEY_LIMIT = "50/h"
    client = client_as(delegate)

    def attempt(grant, key):
        response = client.post(url("request_approve", agency, grant=grant.pk), {"key": key})
        return response.status_code, str(KEY_REFUSED) in response.content.decode()

    wrong, _k = make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
    expired, expired_key = make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
    Grant.objects.filter(pk=expired.pk).update(key_expires_at=timezone.now())
    used, used_key = make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
    assert services.grant_approve(grant=used, key=used_key, user=delegate)
    revoked, revoked_key = make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
    services.grant_revoke(grant=revoked, actor=owner)
    answers = {
        attempt(wrong, "WRONG-KEY"),
        attempt(expired, expired_key),
        attempt(used, used_key),
        attempt(revoked, revoked_key),
        attempt(wrong, ""),
    }
    settings.WRONG_KEY_LIMIT = "5/h"  # now over the limit: even the right key fails
    limited, limited_key = make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
    answers.add(attempt(limited, limited_key))
    assert answers == {(400, True)}
    assert GrantEvent.objects.filter(kind=Kind.WRONG_KEY).count() == 6


def test_d2_administrator_hands_back(grant, agency, account, delegate, client_for):
    client = client_for(delegate)
    response = client.post(url("request_hand_back", agency, grant=grant.pk))
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.state == Grant.State.HANDED_BACK
    assert client.get(account.get_absolute_url()).status_code == 404


def test_d2_administrator_declines_a_pending_request(pending, agency, delegate, client_for):
    grant, key = pending
    client_for(delegate).post(url("request_hand_back", agency, grant=grant.pk))
    grant.refresh_from_db()
    assert grant.state == Grant.State.HANDED_BACK
    assert not services.grant_approve(grant=grant, key=key, user=delegate)


def test_d7_history_is_readable_by_both_sides_without_naming_the_other_sides_people(
    customer, agency, account, owner, delegate
):
    """D7: made, key sent, approved, wrong key, revoked — both sides read the history;
    each sees the other side only as a customer, never its users (D4)."""
    owner.last_name, delegate.last_name = "Grantorperson", "Agencyperson"
    owner.save()
    delegate.save()
    grant, key = make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
    services.grant_key_mail(grant=grant, key=key, actor=owner)
    services.grant_approve(grant=grant, key="WRONG", user=delegate)
    services.grant_approve(grant=grant, key=key, user=delegate)
    services.grant_revoke(grant=grant, actor=owner)
    grantor_page = client_as(owner).get(url("grant_detail", customer, grant=grant.pk))
    agency_page = client_as(delegate).get(url("request_detail", agency, grant=grant.pk))
    for page in (grantor_page, agency_page):
        text = page.content.decode()
        for label in (
            "grant made",
            "key e-mailed to the administrator",
            "wrong key tried",
            "approved with the key",
            "revoked",
        ):
            assert label in text
    assert owner.last_name in grantor_page.content.decode()
    assert owner.last_name not in agency_page.content.decode()
    assert owner.email not in agency_page.content.decode()
    assert delegate.last_name in agency_page.content.decode()
    assert delegate.last_name not in grantor_page.content.decode()


def test_d6_s5_delegate_refused_at_the_end_time_with_no_worker(
    customer, agency, account, owner, delegate
):
    """D6, S5: with the clock moved to the end time the delegate's request is refused,
    though no job has marked the grant."""
    grant = approved_grant(
        grantor=customer,
        agency=agency,
        accounts=[account],
        by=owner,
        approver=delegate,
        ends_at=timezone.now() + timedelta(minutes=20),
    )
    client = client_as(delegate)
    with clock(grant.ends_at - timedelta(seconds=1)):
        assert client.get(account.get_absolute_url()).status_code == 200
    with clock(grant.ends_at):
        assert client.get(account.get_absolute_url()).status_code == 404
        dashboard = client.get(reverse("portal:dashboard", kwargs={"customer": agency.number}))
        assert b"alice.example" not in dashboard.content
        detail = client.get(url("request_detail", agency, grant=grant.pk))
        assert b"expired" in detail.content
    assert Grant.objects.get(pk=grant.pk).state == Grant.State.ACTIVE


def test_navigation_shows_both_entries(customer, owner, client_for):
    response = client_for(owner).get(url("grant_list", customer))
    assert url("grant_list", customer).encode() in response.content
    assert url("request_list", customer).encode() in response.content


# --- query counts ---------------------------------------------------------------------


def _count(client, target):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(target)
    assert response.status_code == 200
    return len(queries)


def test_grant_list_query_count_is_fixed(customer, owner, client_for):
    """The grantor's list costs the same at two sizes."""
    client = client_for(owner)

    def add(n):
        for _i in range(n):
            agency = CustomerFactory()
            accounts = HostingAccountFactory.create_batch(2, customer=customer)
            make_grant(grantor=customer, agency=agency, accounts=accounts, by=owner)

    add(2)
    small = _count(client, url("grant_list", customer))
    add(8)
    assert _count(client, url("grant_list", customer)) == small


def test_request_list_query_count_is_fixed(agency, delegate, client_for):
    """The administrator's list costs the same at two sizes."""
    client = client_for(delegate)

    def add(n):
        for _i in range(n):
            grantor = CustomerFactory()
            owner = MembershipFactory(customer=grantor, owner=True).user
            accounts = HostingAccountFactory.create_batch(2, customer=grantor)
            make_grant(grantor=grantor, agency=agency, accounts=accounts, by=owner)

    add(2)
    small = _count(client, url("request_list", agency))
    add(8)
    assert _count(client, url("request_list", agency)) == small
