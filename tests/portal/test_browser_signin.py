"""A person signs in with a TOTP code, switches account and sees the dashboard (U1, U2)."""

import pytest

from tests.factories import PASSWORD, HostingAccountFactory, MembershipFactory, TOTPDeviceFactory
from tests.helpers import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_with_totp_switch_account_and_see_dashboard(
    live_server, page, customer, other_customer
):
    """U1, U2: e-mail, password, TOTP code; the switcher offers both customers."""
    user = MembershipFactory(customer=customer, owner=True, user__email="eve@example.com").user
    MembershipFactory(customer=other_customer, user=user)
    device = TOTPDeviceFactory(user=user)
    HostingAccountFactory(customer=customer, name="first.example")
    HostingAccountFactory(customer=other_customer, name="second.example")

    page.goto(live_server.url + "/login/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your authenticator app, or a backup code").fill(totp_code(device))
    page.get_by_role("button", name="Confirm").click()

    page.get_by_role("heading", name="Choose a customer to act for").wait_for()
    page.get_by_role("link", name=customer.name).click()
    page.get_by_role("heading", name=customer.name).wait_for()
    assert page.get_by_role("link", name="first.example").is_visible()
    assert page.get_by_text("second.example").count() == 0

    page.locator("details.switcher summary").click()
    page.locator(".switcher-list").get_by_role("link", name=other_customer.name).click()
    page.get_by_role("heading", name=other_customer.name).wait_for()
    assert page.get_by_role("link", name="second.example").is_visible()
    assert page.get_by_text("first.example").count() == 0
