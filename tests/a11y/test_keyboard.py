"""The main flows with the keyboard alone, the focus visible at every step (WCAG 2.1.1,
2.4.1, 2.4.7, 2.4.11)."""

import pytest

from delegation.models import Grant
from tests.a11y.keyboard import Keyboard
from tests.factories import PASSWORD, HostingAccountFactory, TOTPDeviceFactory
from tests.helpers import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_out_by_keyboard(kb):
    """Shift+Tab back up to the header's sign-out button, Enter."""
    kb.tab_to('header form[action="/logout/"] button[type=submit]', backwards=True)
    kb.press("Enter", navigates=True)


def sign_in_by_keyboard(kb, base_url, user, device):
    kb.page.goto(base_url + "/login/")
    kb.skip_to_content()
    kb.fill("#id_username", user.email)
    kb.fill("#id_password", PASSWORD)
    kb.press("Enter", navigates=True)
    kb.fill("#id_code", totp_code(device))
    kb.press("Enter", navigates=True)


def test_sign_in_with_two_factor_by_keyboard(live_server, page, customer, owner, totp_device):
    """U1: e-mail, password and TOTP code without a mouse; the skip link works on each page."""
    HostingAccountFactory(customer=customer, name="alice.example")
    kb = Keyboard(page)
    sign_in_by_keyboard(kb, live_server.url, owner, totp_device)
    page.get_by_role("heading", name=customer.name).wait_for()
    kb.skip_to_content()
    kb.activate('main a[href$="/accounts/' + str(customer.hosting_accounts.get().pk) + '/"]')
    page.get_by_role("heading", name="alice.example").wait_for()
    assert kb.steps >= 8


def test_sign_in_errors_take_the_focus_and_lead_to_the_field(live_server, page, owner):
    """3.3.1: sent empty, the sign-in form answers with the error summary focused; its first
    link moves the focus to the e-mail field."""
    kb = Keyboard(page)
    page.goto(live_server.url + "/login/")
    kb.activate("main form button[type=submit]")
    assert kb.active_matches("#error-summary"), "the error summary did not take the focus"
    kb.assert_focus_visible()
    kb.tab_to('#error-summary a[href="#id_username"]')
    kb.press("Enter")
    kb.wait_focus("#id_username")
    kb.assert_focus_visible()
    page.keyboard.type(owner.email)
    kb.fill("#id_password", PASSWORD)
    kb.press("Enter", navigates=True)
    assert "/login" not in page.url


def test_add_a_contact_by_keyboard(live_server, page, customer, owner, totp_device):
    """K1, K2: from the dashboard to the contacts, the add form (text, a select, checkboxes)
    and back to the list, by keyboard."""
    kb = Keyboard(page)
    sign_in_by_keyboard(kb, live_server.url, owner, totp_device)
    kb.activate(f'nav a[href="/c/{customer.number}/contacts/"]')
    page.get_by_role("heading", level=1, name="Contacts").wait_for()
    kb.activate(f'main a[href="/c/{customer.number}/contacts/add/"]')
    kb.fill("#id_name", "Greta Gerber")
    kb.fill("#id_email", "greta@example.com")
    kb.fill("#id_phone", "+49 30 1234567")
    kb.select("#id_language", "German")
    kb.check("#id_types_0")  # standard
    kb.check("#id_types_2")  # technical
    kb.activate("main form button[type=submit]")
    page.get_by_role("rowheader", name="Greta Gerber").wait_for()
    assert customer.contacts.filter(name="Greta Gerber", is_technical=True).exists()


def test_grant_and_approve_it_with_the_key_by_keyboard(
    live_server, page, customer, owner, totp_device, account, agency, delegate
):
    """D1, D3: the owner makes a grant and reads the key; the agency's user enters it and
    approves — by keyboard, focus visible at every step."""
    kb = Keyboard(page)
    sign_in_by_keyboard(kb, live_server.url, owner, totp_device)
    kb.activate(f'nav a[href="/c/{customer.number}/administrators/"]')
    kb.activate(f'main a[href="/c/{customer.number}/administrators/new/"]')
    kb.fill("#id_administrator", agency.display_number)
    kb.check("#id_accounts_0")
    kb.activate("main form button[type=submit]")
    key = page.locator("#grant-key").inner_text().strip()
    assert key
    kb.tab_to(f'main a[href$="/administrators/{Grant.objects.get().pk}/"]')
    sign_out_by_keyboard(kb)

    sign_in_by_keyboard(kb, live_server.url, delegate, TOTPDeviceFactory(user=delegate))
    kb.activate(f'nav a[href="/c/{agency.number}/delegated/"]')
    grant = Grant.objects.get()
    kb.activate(f'main a[href="/c/{agency.number}/delegated/{grant.pk}/"]')
    kb.fill("#id_key", key)
    kb.press("Enter", navigates=True)
    grant.refresh_from_db()
    assert grant.state == Grant.State.ACTIVE
    assert page.locator(".messages").inner_text().strip().startswith("Approved.")


def test_open_a_ticket_by_keyboard(live_server, page, customer, owner, totp_device):
    """H1: subject, the server it concerns (a select, by typing), the message, sent — by
    keyboard, passing the attachments field on the way."""
    server = HostingAccountFactory(customer=customer, server=True, name="de-01-srv-0042")
    kb = Keyboard(page)
    sign_in_by_keyboard(kb, live_server.url, owner, totp_device)
    kb.activate(f'nav a[href="/c/{customer.number}/tickets/"]')
    kb.activate(f'main a[href="/c/{customer.number}/tickets/new/"]')
    kb.fill("#id_subject", "Reboot de-01-srv-0042 tonight")
    kb.select("#id_account", server.name)
    kb.fill("#id_body", "Please reboot the server after 22:00.")
    kb.activate("main form button[type=submit]")
    ticket = customer.tickets.get()
    assert ticket.account == server
    page.get_by_role("heading", name="Reboot de-01-srv-0042 tonight").wait_for()
