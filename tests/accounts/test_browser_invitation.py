"""In a browser: an owner invites a person who already acts for another customer; the
person accepts, switches customer and sees only what the permissions allow; the owner
removes them and they lose access at once (U2, U3, U4, S5)."""

import re

import pytest
from django.core import mail

from tests.factories import PASSWORD, HostingAccountFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, email):
    page.goto(base + "/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_invite_accept_switch_and_lose_access(live_server, browser, page, customer, other_customer):
    """U2, U3, U4, S5 end to end."""
    base = live_server.url
    owner = MembershipFactory(customer=customer, owner=True, user__email="olga@example.com").user
    bob = MembershipFactory(
        customer=other_customer, owner=True, user__email="bob@example.com", user__first_name="Bob"
    ).user
    HostingAccountFactory(customer=customer, name="alice-shop.example")
    HostingAccountFactory(customer=other_customer, name="bob-own.example")

    # The owner invites Bob to view products and change DNS (no invoices).
    sign_in(page, base, owner.email)
    page.get_by_role("heading", name=customer.name).wait_for()
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("link", name="Invite a person").click()
    page.get_by_label("E-mail address of the person to invite").fill(bob.email)
    page.get_by_label("change domain and DNS settings").check()
    assert not page.get_by_label("view and pay invoices").is_checked()
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text(f"An invitation was sent to {bob.email}").wait_for()
    [message] = mail.outbox
    link = re.search(r"https?://\S+/invitations/#\S+", message.body).group(0)
    fragment = link.split("/invitations/", 1)[1]

    # Bob, already signed in at his own customer, opens the link and accepts.
    bob_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    bob_page = bob_context.new_page()
    bob_page.set_default_timeout(10_000)
    try:
        sign_in(bob_page, base, bob.email)
        bob_page.get_by_role("heading", name=other_customer.name).wait_for()
        bob_page.goto(f"{base}/invitations/{fragment}")
        # The script took the code from the fragment and removed it from the address bar.
        bob_page.get_by_role("button", name="Open the invitation").wait_for()
        assert "#" not in bob_page.url
        assert bob_page.get_by_label("Invitation code from the mail").input_value()
        bob_page.get_by_role("button", name="Open the invitation").click()
        bob_page.get_by_role("button", name="Accept the invitation").click()
        bob_page.get_by_role("heading", name=customer.name).wait_for()
        assert bob_page.get_by_role("link", name="alice-shop.example").is_visible()

        # Only what the permissions allow: no Users, no Invoices; invoices are refused.
        nav = bob_page.get_by_role("navigation", name="Customer")
        assert nav.get_by_role("link", name="Users").count() == 0
        assert nav.get_by_role("link", name="Invoices").count() == 0
        response = bob_page.goto(f"{base}/c/{customer.number}/invoices/")
        assert response.status == 403
        bob_page.go_back()

        # The switcher offers both customers.
        bob_page.goto(f"{base}/c/{customer.number}/")
        bob_page.locator("details.switcher summary").click()
        bob_page.locator(".switcher-list").get_by_role("link", name=other_customer.name).click()
        bob_page.get_by_role("heading", name=other_customer.name).wait_for()
        assert bob_page.get_by_role("link", name="bob-own.example").is_visible()
        bob_page.locator("details.switcher summary").click()
        bob_page.locator(".switcher-list").get_by_role("link", name=customer.name).click()
        bob_page.get_by_role("heading", name=customer.name).wait_for()

        # The owner removes Bob.
        page.goto(f"{base}/c/{customer.number}/users/")
        page.get_by_role("link", name=re.compile(r"Change or remove\s+Bob")).click()
        page.get_by_role("button", name=re.compile(r"^Remove .* from this customer$")).click()
        page.get_by_text("no longer acts for this customer").wait_for()

        # Bob's very next request: signed out; signed in again, the customer is gone.
        bob_page.reload()
        assert "/login/" in bob_page.url
        sign_in(bob_page, base, bob.email)
        bob_page.get_by_role("heading", name=other_customer.name).wait_for()
        response = bob_page.goto(f"{base}/c/{customer.number}/")
        assert response.status == 404
        assert bob_page.locator("details.switcher").count() == 0
    finally:
        bob_context.close()
