"""A1 in a browser: a person adds an MX record with a mistake, reads the message,
corrects it and sees the record applied on a real PowerDNS."""

import pytest

from tests.factories import PASSWORD
from tests.helpers import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a1_add_mx_with_mistake_correct_it_and_see_it_applied(
    live_server, page, pdns, owner, totp_device, account
):
    """A1: the refusal says what is wrong beside the field, nothing is saved; after the
    correction the record is pushed, shown as applied, and PowerDNS answers it."""
    page.goto(live_server.url + "/login/")
    page.get_by_label("E-mail address").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code from your authenticator app, or a backup code").fill(
        totp_code(totp_device)
    )
    page.get_by_role("button", name="Confirm").click()

    page.get_by_role("link", name="alice.example").click()
    page.get_by_role("link", name="Manage DNS records").click()
    page.get_by_role("heading", name="DNS zone alice.example").wait_for()
    page.get_by_role("link", name="Add a record").click()

    page.get_by_label("Type").select_option("MX")
    page.get_by_label("Name").fill("@")
    page.get_by_label("Value").fill("192.0.2.25")  # the mistake: an address, not a name
    page.get_by_label("Priority (MX, SRV)").fill("10")
    page.get_by_role("button", name="Add the record").click()

    summary = page.get_by_role("alert")
    summary.wait_for()
    assert "Please correct the following" in summary.inner_text()
    message = page.locator("#id_value_errors")
    assert "is an IP address; this record needs a host name" in message.inner_text()
    assert page.get_by_label("Value").input_value() == "192.0.2.25"  # kept to correct
    assert pdns.answers("alice.example.", "MX") == []

    page.get_by_label("Value").fill("mail.alice.example")
    page.get_by_role("button", name="Add the record").click()

    page.get_by_text("Saved. The change is on its way to the DNS server.").wait_for()
    row = page.locator("table.dns-records tbody tr", has_text="MX")
    assert "10 mail.alice.example." in row.inner_text()
    assert row.locator(".badge").inner_text() == "applied"
    assert pdns.answers("alice.example.", "MX") == ["10 mail.alice.example."]
