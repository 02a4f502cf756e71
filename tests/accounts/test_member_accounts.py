"""Members limited to chosen hosting accounts (U3): the owner or a user manager chooses
them one by one on the member's page; the policy then lets the person act on those and
no others, from the next request; narrowing it signs them out (S5)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, UserSession
from portal import policy
from tests.factories import HostingAccountFactory, MembershipFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def as_(user) -> Client:
    return sign_in(Client(), user)


@pytest.fixture
def tech(customer):
    return MembershipFactory(
        customer=customer, user__email="tech@alice.example", can_change_dns=True
    )


def page_url(customer, membership):
    return reverse("accounts:member_accounts", args=[customer.number, membership.pk])


def test_u3_limit_to_chosen_accounts_and_choose_them(customer, owner, tech):
    """U3: limited to chosen accounts, the member reaches only the accounts added, from the
    next request; taking one back ends the person's sessions (S5); all is audited."""
    shop = HostingAccountFactory(customer=customer, name="shop.example")
    blog = HostingAccountFactory(customer=customer, name="blog.example")
    member = as_(tech.user)
    assert member.get(shop.get_absolute_url()).status_code == 200

    client = as_(owner)
    url = page_url(customer, tech)
    assert client.post(url, {"form": "scope", "scope": "chosen"}).status_code == 302
    tech.refresh_from_db()
    assert tech.restricted_to_accounts
    assert not UserSession.objects.filter(user=tech.user).exists()  # signed out (S5)
    member = as_(tech.user)
    assert member.get(shop.get_absolute_url()).status_code == 404
    assert "acts on no hosting account" in client.get(url).content.decode()

    response = client.post(url, {"form": "add", "name": "SHOP.example"})
    assert response.status_code == 302
    assert list(policy.chosen_accounts(tech)) == [shop]
    assert member.get(shop.get_absolute_url()).status_code == 200
    assert member.get(blog.get_absolute_url()).status_code == 404
    assert "shop.example" in client.get(url).content.decode()

    remove = reverse("accounts:member_account_remove", args=[customer.number, tech.pk, shop.pk])
    assert client.post(remove).status_code == 302
    assert list(policy.chosen_accounts(tech)) == []
    assert not UserSession.objects.filter(user=tech.user).exists()

    assert client.post(url, {"form": "scope", "scope": "all"}).status_code == 302
    assert as_(tech.user).get(blog.get_absolute_url()).status_code == 200
    actions = set(AuditEvent.objects.filter(customer=customer).values_list("action", flat=True))
    assert {
        "membership.accounts_limited",
        "membership.account_given",
        "membership.account_taken",
        "membership.accounts_unlimited",
    } <= actions


def test_s1_only_this_customers_accounts_can_be_chosen(customer, other_customer, owner, tech):
    """S1: the name is looked up among this customer's accounts only; another tenant's
    account name gets the same answer as a name nobody has, and its id is a 404."""
    theirs = HostingAccountFactory(customer=other_customer, name="bob-shop.example")
    client = as_(owner)
    url = page_url(customer, tech)
    client.post(url, {"form": "scope", "scope": "chosen"})
    page = client.post(url, {"form": "add", "name": "bob-shop.example"}).content.decode()
    assert "This customer has no hosting account named bob-shop.example." in page
    assert list(policy.chosen_accounts(tech)) == []
    remove = reverse("accounts:member_account_remove", args=[customer.number, tech.pk, theirs.pk])
    assert client.post(remove).status_code == 404


def test_u3_owners_are_never_limited(customer, owner):
    other_owner = MembershipFactory(customer=customer, owner=True)
    client = as_(owner)
    url = page_url(customer, other_owner)
    assert "cannot be limited" in client.get(url).content.decode()
    page = client.post(url, {"form": "scope", "scope": "chosen"}).content.decode()
    assert "cannot be limited to some" in page
    other_owner.refresh_from_db()
    assert not other_owner.restricted_to_accounts


def test_s1_u3_who_may_open_it(customer, outsider, member, tech):
    url = page_url(customer, tech)
    assert as_(outsider).get(url).status_code == 404
    assert as_(member).get(url).status_code == 403
    assert as_(member).post(url, {"form": "scope", "scope": "chosen"}).status_code == 403
    tech.refresh_from_db()
    assert not tech.restricted_to_accounts


def test_chosen_accounts_page_queries_do_not_grow(customer, owner, tech):
    """A fixed number of queries with 2 and with 40 chosen accounts (paginated)."""
    client = as_(owner)
    url = page_url(customer, tech)
    client.post(url, {"form": "scope", "scope": "chosen"})

    def choose(n):
        for account in HostingAccountFactory.create_batch(n, customer=customer):
            policy.member_account_give(tech, account)

    choose(2)
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    choose(38)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(small) == len(large)
