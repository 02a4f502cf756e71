"""In a browser: an owner finds an agency's grant on "Who can act for us" and revokes it
from there; the agency's user loses access with the next request (issue 7; D2, D4, S5)."""

import re

import pytest

from tests.factories import PASSWORD, TOTPDeviceFactory
from tests.helpers import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, email, device=None):
    page.goto(base + "/login/")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        page.get_by_label("Code from your authenticator app, or a backup code").fill(
            totp_code(device)
        )
        page.get_by_role("button", name="Confirm").click()


def test_owner_revokes_a_grant_from_the_overview_and_the_agency_loses_access(
    live_server, browser, page, customer, account, agency, owner, delegate, grant
):
    """D2, D4, S5 end to end, through the overview."""
    base = live_server.url
    device = TOTPDeviceFactory(user=owner)
    account_url = base + account.get_absolute_url()

    # The agency's user works on the granted account.
    agency_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    agency_page = agency_context.new_page()
    agency_page.set_default_timeout(10_000)
    try:
        sign_in(agency_page, base, delegate.email)
        agency_page.get_by_role("heading", name=agency.name).wait_for()
        response = agency_page.goto(account_url)
        assert response.status == 200
        assert agency_page.get_by_role("heading", name=account.name).count() >= 1

        # The owner signs in with two-factor and opens "Who can act for us".
        sign_in(page, base, owner.email, device)
        page.get_by_role("heading", name=customer.name).wait_for()
        page.get_by_role("navigation", name="Customer").get_by_role(
            "link", name="Who can act for us"
        ).click()
        page.get_by_role("heading", name="Who can act for us").wait_for()

        # The agency's row says why (the grant), which account, and who can use it.
        section = page.locator(
            "section", has=page.get_by_role("heading", name="Technical administrators")
        )
        row = section.get_by_role("row", name=re.compile(agency.name))
        assert row.get_by_text(f"grant #{grant.pk}, no end date").is_visible()
        assert row.get_by_text(account.name).is_visible()
        assert row.get_by_text(delegate.email).is_visible()

        row.get_by_role("button", name=f"Revoke grant #{grant.pk} to {agency.name}").click()
        page.get_by_text("The grant is revoked. The administrator's access ended.").wait_for()

        # Back on the overview the grant is listed as revoked, and nobody acts through it.
        page.goto(base + f"/c/{customer.number}/access/")
        ended = page.locator("section", has=page.get_by_role("heading", name="Ended grants"))
        ended_row = ended.get_by_role("row", name=re.compile(agency.name))
        assert ended_row.get_by_text("revoked").is_visible()
        assert page.get_by_text(delegate.email).count() == 0

        # The agency's very next request: the granted account is gone (404).
        response = agency_page.reload()
        assert response.status == 404
    finally:
        agency_context.close()
