"""The whole helpdesk round trip in a browser, with real mail (H1, H2, H3, H4, S24):
a customer opens a ticket with an attachment; staff answer in the admin (two-factor); the
answer arrives by SMTP on loopback; the customer answers that mail through
`manage.py ingest_email`; the answer shows, threaded, in the portal."""

import io
from email.message import EmailMessage

import pytest
from django.core.management import call_command

from helpdesk.models import Message, Ticket
from tests.factories import PASSWORD, HostingAccountFactory, MembershipFactory, TOTPDeviceFactory
from tests.helpers import totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200


def test_ticket_round_trip_web_admin_mail(
    live_server, browser, page, customer, staff_user, smtp_settings
):
    """H1, H3, H4, H2, S24: web → admin reply → SMTP → reply by mail → threaded in the portal."""
    member = MembershipFactory(customer=customer, user__email="mia@alice.example").user
    HostingAccountFactory(customer=customer, server=True, name="de-01-srv-0042")
    device = TOTPDeviceFactory(user=staff_user)

    # The customer opens a ticket about the server, with a screenshot (H1).
    page.goto(live_server.url + "/login/")
    page.get_by_label("E-mail address").fill(member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/c/{customer.number}/tickets/")
    page.get_by_role("link", name="Open a ticket").click()
    page.get_by_label("Subject").fill("Reboot de-01-srv-0042 after kernel update")
    page.get_by_label("Hosting account or server").select_option(
        label="de-01-srv-0042 (server, " + customer.display_number + ")"
    )
    page.get_by_label("Your message").fill("Please reboot it tonight.")
    page.get_by_label("Attachments").set_input_files(
        [{"name": "uptime.png", "mimeType": "image/png", "buffer": PNG}]
    )
    page.get_by_role("button", name="Open the ticket").click()
    ticket = Ticket.objects.get()
    page.get_by_role("heading", name=ticket.subject).wait_for()
    with page.expect_download() as download:  # S24: a download, never shown inline
        page.get_by_role("link", name="uptime.png").click()
    assert download.value.suggested_filename == "uptime.png"

    # Staff answer in the admin, signed in with two-factor (H4, S14).
    staff_page = browser.new_context().new_page()
    staff_page.set_default_timeout(10_000)
    # Staff sign in where everyone does (the admin's own login form records no portal
    # session, so the session guard would end it), then work in the admin.
    admin_url = f"/admin/helpdesk/ticket/{ticket.pk}/change/"
    staff_page.goto(f"{live_server.url}/login/?next={admin_url}")
    staff_page.get_by_label("E-mail address").fill(staff_user.email)
    staff_page.get_by_label("Password").fill(PASSWORD)
    staff_page.get_by_role("button", name="Sign in").click()
    staff_page.get_by_label("Code from your authenticator app, or a backup code").fill(
        totp_code(device)
    )
    staff_page.get_by_role("button", name="Confirm").click()
    staff_page.wait_for_url(f"**{admin_url}")
    staff_page.locator("textarea[name=reply]").fill("Rebooted at 22:00, all services are up.")
    staff_page.locator("input[name=_continue]").click()
    staff_page.get_by_text("was changed successfully").wait_for()
    staff_page.context.close()

    # The answer arrives by mail (H3) ...
    (sent,) = smtp_settings.wait_for(1)
    assert smtp_settings.recipients[0] == [member.email]
    assert sent["Subject"] == f"[#{ticket.display_number}] {ticket.subject}"
    assert "Rebooted at 22:00" in sent.get_body(("plain",)).get_content()

    # ... and the customer answers it from their mail client, through the pipe (H2).
    reply = EmailMessage()
    reply["From"] = f"Mia <{member.email}>"
    reply["To"] = sent["Reply-To"]
    reply["Subject"] = "Re: " + sent["Subject"]
    reply["Message-ID"] = "<answer-1@alice.example>"
    reply["In-Reply-To"] = sent["Message-ID"]
    reply["References"] = sent["Message-ID"]
    reply.set_content("Thank you, everything works.\n\n> Rebooted at 22:00")
    out = io.StringIO()
    call_command("ingest_email", stdin=io.BytesIO(reply.as_bytes()), stdout=out)
    assert out.getvalue().startswith(f"reply {ticket.display_number}")

    # The answer shows in the portal, in the same conversation.
    page.reload()
    page.get_by_text("Thank you, everything works.").wait_for()
    assert page.get_by_text("Rebooted at 22:00, all services are up.").is_visible()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert list(ticket.messages.values_list("kind", flat=True)) == [
        Message.Kind.CUSTOMER,
        Message.Kind.STAFF,
        Message.Kind.CUSTOMER,
    ]
