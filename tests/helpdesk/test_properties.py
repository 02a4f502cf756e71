"""Property-based tests of the mail intake (S19): whatever bytes arrive — random, or
messages with hostile headers and broken MIME structure — become a ticket, a reply, a
quarantined message or a logged drop, never an exception; decoded header text never
carries CR/LF (S23); mail never grants access (S22)."""

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import Membership, User
from helpdesk import intake
from helpdesk.inbound import parse
from helpdesk.models import InboundMail, Message, Ticket

LIMITS = {"max_bytes": 200_000, "max_attachments": 3, "max_attachment_bytes": 2_000}
OUTCOMES = set(InboundMail.Outcome.values)
DB_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HEADER_NAMES = [
    "From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Reply-To",
    "Return-Path", "Auto-Submitted", "Precedence", "X-Loop", "List-Id", "Content-Type",
    "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version", "Date",
    "X-Portal-Ticket", "X-Auto-Response-Suppress",
]  # fmt: skip
CHARSETS = ["utf-8", "iso-8859-1", "utf-16", "bogus-charset", "us-ascii", "gb2312", ""]
CTYPES = [
    "text/plain", "text/html", "text/plain; charset=utf-16", "text/html; charset=bogus",
    "application/octet-stream", "image/png", "message/rfc822", "message/delivery-status",
    "application/pdf", "text/calendar", "", "garbage",
]  # fmt: skip
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "bogus", ""]

anything = st.text(max_size=60)
ascii_word = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=20)


@st.composite
def encoded_word(draw):
    """An RFC 2047 encoded word, valid or not — the way CR/LF gets smuggled in (S23)."""
    charset = draw(st.sampled_from(CHARSETS))
    text = draw(st.one_of(anything, st.just("Hello\r\nBcc: victim@evil.example")))
    if draw(st.booleans()):
        import base64

        payload = base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()
        kind = "B"
    else:
        payload = "".join(
            c if c.isalnum() else f"={b:02X}"
            for c, b in ((chr(b), b) for b in text.encode("utf-8", "surrogatepass"))
        )
        kind = draw(st.sampled_from(["Q", "q", "X"]))
    if draw(st.booleans()):
        payload = draw(ascii_word)
    return f"=?{charset}?{kind}?{payload}?="


@st.composite
def address(draw):
    local = draw(st.one_of(ascii_word, st.sampled_from(["no-reply", "mailer-daemon", "a.b"])))
    domain = draw(st.sampled_from(["example.org", "provider.example", "x", "", "[::1]"]))
    name = draw(st.one_of(st.just(""), anything, encoded_word()))
    return draw(st.sampled_from([f"{local}@{domain}", f'"{name}" <{local}@{domain}>', name]))


header_value = st.one_of(
    anything,
    encoded_word(),
    address(),
    st.lists(address(), max_size=4).map(", ".join),
    st.sampled_from(
        [
            "[#T-100001] re",
            "<t100001.00000000000000000000000000000000.0000000000000000@x>",
            "<>",
            "no",
            "auto-replied",
            "bulk",
            "multipart/report; report-type=delivery-status",
        ]
    ),  # fmt: skip
)


@st.composite
def header_block(draw):
    headers = draw(
        st.lists(
            st.tuples(
                st.one_of(st.sampled_from(HEADER_NAMES), ascii_word),
                header_value,
                st.sampled_from(["\r\n", "\n", "\r\n\t", "\r", ""]),
            ),
            max_size=12,
        )
    )
    out = b""
    for name, value, sep in headers:
        out += name.encode("utf-8", "surrogatepass") + b": "
        out += value.encode("utf-8", "surrogatepass") + sep.encode()
    return out


@st.composite
def mime_part(draw, depth=0):
    """One MIME entity: a leaf with any type and encoding, or a multipart (maybe with a
    missing or wrong boundary), nested a few levels."""
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.one_of(st.just("b" + str(depth)), ascii_word))
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "digest"]))
        children = draw(st.lists(mime_part(depth + 1), max_size=4))
        quoted = draw(st.booleans())
        head = f"Content-Type: multipart/{subtype}; boundary={chr(34) if quoted else ''}{boundary}{chr(34) if quoted else ''}\r\n\r\n"
        body = draw(st.sampled_from(["", "preamble\r\n"]))
        for child in children:
            body += f"--{boundary}\r\n" + child.decode("utf-8", "surrogateescape") + "\r\n"
        if draw(st.booleans()):
            body += f"--{boundary}--\r\n"
        return (head + body).encode("utf-8", "surrogateescape")
    ctype = draw(st.sampled_from(CTYPES))
    encoding = draw(st.sampled_from(ENCODINGS))
    disposition = draw(
        st.one_of(
            st.just(""),
            st.builds(
                lambda n, e: f'Content-Disposition: attachment; filename="{e or n}"\r\n',
                anything,
                st.one_of(st.just(""), encoded_word()),
            ),
        )
    )
    payload = draw(st.binary(max_size=300))
    head = f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: {encoding}\r\n{disposition}\r\n"
    return head.encode("utf-8", "surrogatepass") + payload


SENDERS = [
    "From: requester@example.org\r\n",
    'From: "Anna =?utf-8?Q?B=C3=A9rger?=" <anna@customer.example>\r\n',
    "From: no-reply@shop.example\r\n",
    "",
]
SUBJECTS = ["Subject: [#T-100001] Re: PHP\r\n", "Subject: Server down\r\n", ""]


@st.composite
def message(draw):
    """Mostly a sender and subject that lead somewhere (a new ticket, a reply to the
    existing ticket T-100001), then anything."""
    head = draw(st.sampled_from(SENDERS)) + draw(st.sampled_from(SUBJECTS))
    return head.encode() + draw(header_block()) + b"MIME-Version: 1.0\r\n" + draw(mime_part())


def assert_clean(parsed):
    for value in (parsed.subject, parsed.from_address, parsed.from_name, parsed.message_id):
        assert "\r" not in value and "\n" not in value
    for attachment in parsed.attachments:
        assert "\r" not in attachment.filename and "\n" not in attachment.filename
        assert "/" not in attachment.filename
    assert "\x00" not in parsed.text
    assert len(parsed.attachments) <= LIMITS["max_attachments"]
    assert all(len(a.data) <= LIMITS["max_attachment_bytes"] for a in parsed.attachments)


# --- the parser alone: many examples, no database ------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_parser_never_raises_on_any_bytes(raw):
    """S19: any bytes: a result, never an exception."""
    parsed = parse(raw, **LIMITS)
    assert parsed.size == len(raw)
    assert_clean(parsed)


@settings(max_examples=200, deadline=None)
@given(message())
def test_parser_never_raises_on_hostile_headers_and_mime(raw):
    """S19, S20, S23: hostile headers, broken MIME trees: a clean result, within limits."""
    assert_clean(parse(raw, **LIMITS))


# --- the whole intake, with the database -----------------------------------------------------


@pytest.fixture
def existing(db):
    """Ticket T-100001 of requester@example.org, for replies to thread into."""
    from tests.helpdesk.factories import TicketFactory

    return TicketFactory(requester=None, requester_email="requester@example.org", customer=None)


@pytest.mark.django_db
@DB_SETTINGS
@given(raw=st.one_of(st.binary(max_size=1500), message()))
def test_intake_turns_any_bytes_into_an_outcome(raw, existing, django_capture_on_commit_callbacks):
    """S19, S22, S23: a ticket, a reply, a quarantined message or a logged drop; never an
    exception; no membership ever comes from mail; stored text has no CR/LF in headers."""
    memberships = Membership.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        result = intake.mail_ingest(raw, source="hypothesis")
    assert result.outcome in OUTCOMES
    event(f"{result.outcome} {result.reason}")
    if result.outcome in (InboundMail.Outcome.TICKET, InboundMail.Outcome.REPLY):
        ticket = Ticket.objects.get(pk=result.ticket.pk)
        assert "\n" not in ticket.subject and "\r" not in ticket.subject
        assert Message.objects.filter(ticket=ticket).exists()
    elif result.reason != "duplicate":
        assert InboundMail.objects.filter(pk=result.inbound.pk).exists()
    assert Membership.objects.count() == memberships
    # S22, U6: every user mail created is unverified (this test has no other users)
    assert not User.objects.exclude(status=User.Status.UNVERIFIED).exists()
    assert existing.number == 100001
