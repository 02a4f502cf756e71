"""Main and sub-accounts (C1–C4): the overview, ordering, linking with consent, the
collective invoice option."""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent, Customer, Membership, SubAccountLinkRequest
from contacts.models import Contact
from portal.prepared import executed_sql
from tests.accounts.factories import LinkRequestFactory
from tests.factories import CustomerFactory, HostingAccountFactory, MembershipFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def url(name, customer, **kwargs):
    return reverse(f"accounts:{name}", kwargs={"customer": customer.number, **kwargs})


def link_url(name, customer, link):
    return url(name, customer, link_request=link.pk)


def test_main_account_users_see_every_sub_account(
    client_for, main_user, main_customer, sub_customer
):
    """C3: the overview lists the sub-accounts, each a link to act in it."""
    second = CustomerFactory(name="Second Shop", parent=main_customer)
    page = client_for(main_user).get(url("sub_account_list", main_customer)).content.decode()
    for sub in (sub_customer, second):
        assert sub.name in page and sub.display_number in page
        assert sub.get_absolute_url() in page


def test_main_account_users_act_in_each_sub_account_from_one_login(
    main_user, main_customer, sub_customer
):
    """C3: one login, every sub-account: dashboard and switcher."""
    second = CustomerFactory(name="Second Shop", parent=main_customer)
    client = sign_in(Client(), main_user)
    for sub in (sub_customer, second):
        assert client.get(sub.get_absolute_url()).status_code == 200
    switcher = client.get(reverse("portal:home")).content.decode()
    assert sub_customer.name in switcher and second.name in switcher


def test_a_plain_member_of_the_main_account_sees_the_overview_but_cannot_order(
    main_customer, sub_customer
):
    """C3: every user of the main account sees the overview; ordering and linking are the
    owners' (MANAGE_SUB_ACCOUNTS)."""
    member = MembershipFactory(customer=main_customer).user
    client = sign_in(Client(), member)
    page = client.get(url("sub_account_list", main_customer)).content.decode()
    assert sub_customer.name in page and "Order a new sub-account" not in page
    assert client.get(url("sub_account_order", main_customer)).status_code == 403
    assert client.post(url("sub_account_link", main_customer), {"number": "1"}).status_code == 403


def test_sub_account_users_keep_only_their_own_access(main_customer, sub_customer):
    """C3: a sub-account's own users reach their account only, not the main account."""
    sub_owner = MembershipFactory(customer=sub_customer, owner=True).user
    client = sign_in(Client(), sub_owner)
    assert client.get(url("sub_account_list", main_customer)).status_code == 404
    page = client.get(url("sub_account_list", sub_customer)).content.decode()
    assert "is a sub-account of" in page and main_customer.name in page
    assert client.get(url("sub_account_order", sub_customer)).status_code == 403


def test_overview_query_count_is_fixed(client_for, main_user, main_customer):
    """The overview costs the same with 2 and 20 sub-accounts."""
    client = client_for(main_user)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("sub_account_list", main_customer)).status_code == 200
        return len(queries)

    for _i in range(2):
        HostingAccountFactory(customer=CustomerFactory(parent=main_customer))
    LinkRequestFactory(main=main_customer, requested_by=main_user)
    small = count()
    for _i in range(18):
        HostingAccountFactory(customer=CustomerFactory(parent=main_customer))
    LinkRequestFactory.create_batch(5, main=main_customer, requested_by=main_user)
    assert count() == small


def test_pages_answer_anonymous_and_outsiders(client, outsider, main_customer, sub_customer):
    """S2: anonymous to login; S1: another tenant 404, also for ids of its objects."""
    link = LinkRequestFactory(main=main_customer)
    get_urls = [
        url(name, main_customer)
        for name in ("sub_account_list", "sub_account_order", "sub_account_link")
    ]
    post_urls = [
        url("sub_account_collective_invoice", main_customer, sub=sub_customer.pk),
        link_url("link_request_cancel", main_customer, link),
        link_url("link_request_confirm", main_customer, link),
        link_url("link_request_decline", main_customer, link),
    ]
    for target in get_urls:
        assert reverse("accounts:login") in client.get(target)["Location"]
    for target in post_urls:
        assert reverse("accounts:login") in client.post(target)["Location"]
    attacker = sign_in(Client(), outsider)
    for target in get_urls:
        assert attacker.get(target).status_code == 404
    for target in post_urls:
        assert attacker.post(target).status_code == 404
    own = outsider.memberships.get().customer
    assert (
        attacker.post(url("sub_account_collective_invoice", own, sub=sub_customer.pk)).status_code
        == 404
    )
    assert attacker.post(link_url("link_request_cancel", own, link)).status_code == 404


def test_ordering_a_sub_account_creates_a_customer_linked_at_once(
    client_for, main_user, main_customer
):
    """C2: ordering creates a new customer with a new number, linked at once; the person
    who ordered owns it."""
    response = client_for(main_user).post(
        url("sub_account_order", main_customer),
        {"name": "Berlin Branch", "email": "berlin@example.com", "on_collective_invoice": "on"},
    )
    assert response.status_code == 302
    sub = Customer.objects.get(name="Berlin Branch")
    assert sub.parent == main_customer and sub.on_collective_invoice
    assert sub.number > main_customer.number
    assert Membership.objects.get(customer=sub, user=main_user).is_owner
    contact = Contact.objects.get(customer=sub)  # K3: a standard contact from the start
    assert contact.is_standard and contact.email == main_user.email
    assert AuditEvent.objects.filter(action="sub_account.ordered", customer=main_customer).exists()
    assert AuditEvent.objects.filter(action="sub_account.linked", customer=sub).exists()


def test_a_sub_account_cannot_order_sub_accounts(main_user, main_customer, sub_customer):
    """C1: one level only — not even the main account's owner, acting in the sub-account,
    can order or link below it."""
    client = sign_in(Client(), main_user)
    assert client.get(url("sub_account_order", sub_customer)).status_code == 403
    response = client.post(url("sub_account_order", sub_customer), {"name": "Too deep"})
    assert response.status_code == 403
    assert not Customer.objects.filter(name="Too deep").exists()


def test_linking_an_existing_customer_waits_for_its_owner(
    main_user, main_customer, other_customer, outsider, django_capture_on_commit_callbacks
):
    """C2: linking asks the other customer's owners; nothing is linked until one confirms."""
    main_client = sign_in(Client(), main_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = main_client.post(
            url("sub_account_link", main_customer),
            {"number": other_customer.display_number, "on_collective_invoice": "on"},
        )
    assert response.status_code == 302
    link = SubAccountLinkRequest.objects.get()
    assert link.state == SubAccountLinkRequest.State.PENDING
    other_customer.refresh_from_db()
    assert other_customer.parent is None  # nothing linked silently
    assert [m.to for m in mail.outbox] == [[outsider.email]]
    assert main_client.get(other_customer.get_absolute_url()).status_code == 404
    # The other customer's owner sees the request and confirms it.
    owner_client = sign_in(Client(), outsider)
    page = owner_client.get(url("sub_account_list", other_customer)).content.decode()
    assert main_customer.name in page and "Confirm" in page
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(link_url("link_request_confirm", other_customer, link))
    other_customer.refresh_from_db()
    assert other_customer.parent == main_customer and other_customer.on_collective_invoice
    assert main_client.get(other_customer.get_absolute_url()).status_code == 200
    assert mail.outbox[-1].to == [main_user.email]
    for customer in (main_customer, other_customer):
        assert AuditEvent.objects.filter(action="sub_account.linked", customer=customer).exists()


def test_declining_leaves_the_customer_on_its_own(
    main_user, main_customer, other_customer, outsider
):
    """C2: a declined request links nothing."""
    link = LinkRequestFactory(main=main_customer, sub=other_customer, requested_by=main_user)
    sign_in(Client(), outsider).post(link_url("link_request_decline", other_customer, link))
    link.refresh_from_db()
    other_customer.refresh_from_db()
    assert link.state == SubAccountLinkRequest.State.DECLINED
    assert other_customer.parent is None


def test_only_the_customers_own_owners_answer(main_user, main_customer, other_customer):
    """C2: a non-owner member cannot confirm (403); the requesting main account cannot
    confirm for the other customer (404: not its request to answer)."""
    link = LinkRequestFactory(main=main_customer, sub=other_customer, requested_by=main_user)
    member = MembershipFactory(customer=other_customer).user
    assert (
        sign_in(Client(), member)
        .post(link_url("link_request_confirm", other_customer, link))
        .status_code
        == 403
    )
    main_client = sign_in(Client(), main_user)
    assert (
        main_client.post(link_url("link_request_confirm", main_customer, link)).status_code == 404
    )
    other_customer.refresh_from_db()
    assert other_customer.parent is None


def test_customers_that_cannot_be_linked_get_one_answer(
    client_for, main_user, main_customer, sub_customer
):
    """C1: a number that does not exist, a sub-account, a main account with sub-accounts
    and the customer itself are refused alike."""
    other_main = CustomerFactory()
    CustomerFactory(parent=other_main)
    client = client_for(main_user)
    answers = set()
    for number in (
        "K-999999",
        sub_customer.display_number,
        other_main.number,
        main_customer.number,
    ):
        response = client.post(url("sub_account_link", main_customer), {"number": number})
        assert response.status_code == 200
        answers.add(response.context["form"].errors["number"][0])
    assert len(answers) == 1
    assert not SubAccountLinkRequest.objects.exists()


def test_confirming_checks_one_level_again(main_user, main_customer, other_customer, outsider):
    """C1: if the customer got sub-accounts of its own meanwhile, confirming fails."""
    link = LinkRequestFactory(main=main_customer, sub=other_customer, requested_by=main_user)
    CustomerFactory(parent=other_customer)
    response = sign_in(Client(), outsider).post(
        link_url("link_request_confirm", other_customer, link), follow=True
    )
    assert "can no longer be linked" in response.content.decode()
    other_customer.refresh_from_db()
    assert other_customer.parent is None


def test_a_waiting_request_can_be_withdrawn(client_for, main_user, main_customer, other_customer):
    link = LinkRequestFactory(main=main_customer, sub=other_customer, requested_by=main_user)
    client_for(main_user).post(link_url("link_request_cancel", main_customer, link))
    link.refresh_from_db()
    assert link.state == SubAccountLinkRequest.State.CANCELLED


def test_collective_invoice_option(client_for, main_user, main_customer, sub_customer):
    """C4: the main account puts chosen sub-accounts on its collective invoice, and takes
    them off; the overview shows it."""
    client = client_for(main_user)
    target = url("sub_account_collective_invoice", main_customer, sub=sub_customer.pk)
    client.post(target, {"on": "1"})
    sub_customer.refresh_from_db()
    assert sub_customer.on_collective_invoice
    page = client.get(url("sub_account_list", main_customer)).content.decode()
    assert "Invoice separately" in page
    client.post(target, {"on": "0"})
    sub_customer.refresh_from_db()
    assert not sub_customer.on_collective_invoice
    assert AuditEvent.objects.filter(
        action="sub_account.collective_invoice_on", customer=main_customer
    ).exists()


def test_c2_waiting_requests_sent_and_received_in_one_query(
    client_for, main_user, main_customer, other_customer
):
    """C2: the page lists the requests the main account sent and those it received to
    become someone's sub-account; both come from one query."""
    sent = LinkRequestFactory(main=main_customer, sub=other_customer, requested_by=main_user)
    received = LinkRequestFactory(sub=main_customer, main=CustomerFactory(name="Bigger Main"))
    LinkRequestFactory(main=other_customer, sub=CustomerFactory(name="Not ours"))
    client = client_for(main_user)
    url = reverse("accounts:sub_account_list", kwargs={"customer": main_customer.number})
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert response.context["sent"] == [sent]
    assert response.context["received"] == [received]
    reading = [
        executed_sql(q["sql"])
        for q in queries.captured_queries
        if executed_sql(q["sql"]).startswith('SELECT "accounts_subaccountlinkrequest".')
    ]
    assert len(reading) == 1
