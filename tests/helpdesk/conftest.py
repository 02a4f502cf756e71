"""Fixtures of the helpdesk tests: mail as the intake sees it, a manager, tickets."""

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from django.utils import timezone

from tests.factories import MembershipFactory
from tests.helpdesk.factories import TicketFactory


@pytest.fixture(autouse=True)
def _helpdesk_settings(settings):
    settings.SUPPORT_EMAIL = "support@provider.example"
    settings.DEFAULT_FROM_EMAIL = "Provider portal <portal@provider.example>"
    settings.SERVER_EMAIL = settings.DEFAULT_FROM_EMAIL
    settings.PORTAL_BASE_URL = "https://portal.provider.example"


@pytest.fixture
def manager(customer):
    """A member allowed to see all of the organisation's tickets (H3)."""
    return MembershipFactory(
        customer=customer, user__email="manager@example.com", can_see_all_tickets=True
    ).user


@pytest.fixture
def ticket(customer, member):
    return TicketFactory(customer=customer, requester=member)


@pytest.fixture
def other_ticket(other_customer, outsider):
    return TicketFactory(customer=other_customer, requester=outsider, subject="Bob's secret server")


def make_mail(
    *,
    sender="someone@example.org",
    to="support@provider.example",
    subject="Cannot reach my mailbox",
    body="Hello support,\nmy mailbox is not reachable since this morning.\n",
    cc=None,
    headers=None,
    attachments=(),
    html=None,
) -> bytes:
    """A well-formed message as a mail client sends it to support."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = make_msgid(domain="client.example")
    for name, value in (headers or {}).items():
        del msg[name]
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, data, maintype, subtype in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


@pytest.fixture
def mail():
    return make_mail
