"""Across two customers in two browsers (D1–D4, D2, S5): the grantor makes a grant and
reads the key; the administrator signs in, enters it, opens the granted account and adds a
DNS record to it; the grantor revokes; the administrator's next request is refused."""

import re

import pytest

from hosting.models import DnsRecord
from tests.factories import PASSWORD, TOTPDeviceFactory
from tests.helpers import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, user, device=None):
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        page.fill("input[name=code]", totp_code(device))
        page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))


def test_grant_key_approve_open_revoke_refused(
    live_server, browser, page, customer, account, owner, agency, delegate
):
    base = live_server.url
    device = TOTPDeviceFactory(user=owner)

    # The grantor makes a grant under contract data and reads the key.
    sign_in(page, base, owner, device)
    page.get_by_role("link", name="Technical administrators").click()
    page.get_by_role("link", name="New grant").click()
    page.get_by_label("Customer number of the technical administrator").fill(agency.display_number)
    page.get_by_label("alice.example").check()
    page.get_by_role("button", name="Make grant and show key").click()
    key = page.locator("#grant-key").inner_text().strip()
    assert re.fullmatch(r"([A-Z2-7]{4}-){7}[A-Z2-7]{4}", key)
    assert "Charlie Agentur" in page.content()

    # The administrator, in a browser of its own, enters the key.
    context = browser.new_context(locale="en-US")
    admin = context.new_page()
    admin.set_default_timeout(10_000)
    try:
        sign_in(admin, base, delegate)
        admin.get_by_role("link", name="Delegated to us").click()
        admin.get_by_role("link", name=re.compile("Alice Hosting GmbH")).click()
        admin.get_by_role("textbox", name="Grant key").fill(key.lower())
        admin.get_by_role("button", name="Approve").click()
        admin.get_by_text("Approved.").wait_for()
        # The granted account is on the overview, marked with the grantor, and opens.
        admin.get_by_role("link", name="Overview").click()
        delegated = admin.locator("section[aria-labelledby=delegated-accounts]")
        assert "Alice Hosting GmbH" in delegated.inner_text()
        delegated.get_by_role("link", name="alice.example").click()
        admin.get_by_role("heading", name=re.compile("alice.example")).wait_for()
        assert "grant #" in admin.content()
        # ...and changes it: a DNS record (A1, D4).
        admin.get_by_role("link", name="Manage DNS records").click()
        admin.get_by_role("link", name="Add a record").click()
        admin.get_by_label("Type").select_option("A")
        admin.get_by_label("Name").fill("www")
        admin.get_by_label("Value").fill("192.0.2.80")
        admin.get_by_role("button", name="Add the record").click()
        admin.get_by_text(re.compile(r"^Saved")).wait_for()
        assert DnsRecord.objects.filter(account=account, rtype="A", value="192.0.2.80").exists()
        records_url = admin.url

        # The grantor revokes.
        page.get_by_role("link", name="I have passed the key on").click()
        assert "active" in page.locator("dl").inner_text()
        page.get_by_role("button", name="Revoke now").click()
        page.get_by_text("The grant is revoked.").wait_for()

        # The administrator's next request is refused.
        response = admin.goto(records_url)
        assert response.status == 404
    finally:
        context.close()
