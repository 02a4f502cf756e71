"""K4 end to end in a real browser, with the confirmation mail read from a real SMTP
server on loopback (aiosmtpd, tests/servers.py)."""

import re

import pytest

from contacts.models import Contact
from tests.contacts.factories import ContactFactory
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, base, user):
    page.goto(base + "/login/")
    page.get_by_label("E-mail address").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_k4_s10_add_contact_confirm_through_mailed_link(
    live_server, page, smtp_settings, settings, owner, customer
):
    """K4, S10, S11: add a contact with an address → a confirmation mail arrives at a real
    SMTP server → the link opens a page (the token rides in the fragment) → pressing
    confirm (a POST) confirms the address → the contacts page shows it confirmed."""
    settings.PORTAL_BASE_URL = live_server.url
    ContactFactory(customer=customer, name="Anna Standard", primary=True)
    base = live_server.url
    sign_in(page, base, owner)

    page.goto(f"{base}/c/{customer.number}/contacts/")
    page.get_by_role("link", name="Add a contact").click()
    page.get_by_label("Name").fill("Pat Technik")
    page.get_by_label("E-mail address").fill("pat@roundtrip.example")
    page.get_by_label("technical").check()
    page.get_by_role("button", name="Add contact").click()
    page.get_by_text("We mailed a confirmation link to pat@roundtrip.example").wait_for()
    row = page.get_by_role("row", name=re.compile("Pat Technik"))
    assert "pending" in row.inner_text()

    message = smtp_settings.wait_for(1)[0]
    assert message["To"] == "pat@roundtrip.example"
    assert message["Auto-Submitted"] == "auto-generated"
    body = message.get_body(("plain",)).get_content()
    link = re.search(r"http://\S+/contacts/confirm/#\S+", body).group(0)

    # The person opens the link in their own browser, not signed in.
    context = page.context.browser.new_context()
    visitor = context.new_page()
    requests = []
    visitor.on("request", lambda request: requests.append(request.url))
    visitor.goto(link)
    assert Contact.objects.get(name="Pat Technik").email == ""  # opening changed nothing
    token = link.split("#", 1)[1]
    assert visitor.get_by_label("Confirmation code from the mail").input_value() == token
    assert "#" not in visitor.url  # the script removed the fragment from the address bar
    visitor.get_by_role("button", name="Confirm my address").click()
    visitor.get_by_text("pat@roundtrip.example is now confirmed").wait_for()
    assert all(token not in url for url in requests)  # never sent to the server in a URL
    context.close()

    contact = Contact.objects.get(name="Pat Technik")
    assert contact.email == "pat@roundtrip.example" and contact.pending_email == ""
    page.goto(f"{base}/c/{customer.number}/contacts/")
    row = page.get_by_role("row", name=re.compile("Pat Technik"))
    assert "pat@roundtrip.example (confirmed)" in row.inner_text()
    assert "pending" not in row.inner_text()
