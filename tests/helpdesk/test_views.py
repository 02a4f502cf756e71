"""The helpdesk in the portal (H1, H3, D5, U4, S1, S2, S4, S24, S25)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from helpdesk import services
from helpdesk.models import Attachment, Message, Ticket
from portal.prepared import executed_sql
from tests.factories import HostingAccountFactory, MembershipFactory
from tests.helpdesk.factories import MessageFactory, ParticipantFactory, TicketFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def list_url(customer, **query):
    url = reverse("helpdesk:ticket_list", kwargs={"customer": customer.number})
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def create_url(customer):
    return reverse("helpdesk:ticket_create", kwargs={"customer": customer.number})


def ticket_url(ticket, name="ticket_detail", customer=None):
    number = (customer or ticket.customer).number
    return reverse(f"helpdesk:{name}", kwargs={"customer": number, "ticket": ticket.pk})


def file_url(ticket, attachment):
    return reverse(
        "helpdesk:attachment_download",
        kwargs={
            "customer": ticket.customer.number,
            "ticket": ticket.pk,
            "attachment": attachment.pk,
        },
    )


def signed_in(user):
    """A second, separate signed-in client (``client_for`` has one per test)."""
    return sign_in(Client(), user)


def upload(name="screenshot.png", data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, ctype="image/png"):
    return SimpleUploadedFile(name, data, content_type=ctype)


# --- anonymous, other tenant (S1, S2) ------------------------------------------------------


@pytest.mark.parametrize("name", ["ticket_detail", "attachment_download"])
def test_anonymous_is_redirected_to_login(ticket, name):
    """S2: anonymous requests are redirected to the sign-in page."""
    attachment = _attach(ticket)
    url = file_url(ticket, attachment) if name == "attachment_download" else ticket_url(ticket)
    for target in (url, list_url(ticket.customer), create_url(ticket.customer)):
        response = Client().get(target)
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]
    for action in ("ticket_reply", "ticket_close", "ticket_reopen"):
        response = Client().post(ticket_url(ticket, action), {"body": "x"})
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]


def test_other_tenant_gets_404_everywhere(client_for, outsider, ticket):
    """S1: every helpdesk URL of another tenant answers 404."""
    client = client_for(outsider)
    attachment = _attach(ticket)
    assert client.get(list_url(ticket.customer)).status_code == 404
    assert client.get(create_url(ticket.customer)).status_code == 404
    assert client.get(ticket_url(ticket)).status_code == 404
    assert client.get(file_url(ticket, attachment)).status_code == 404
    for action in ("ticket_reply", "ticket_close", "ticket_reopen"):
        assert client.post(ticket_url(ticket, action), {"body": "x"}).status_code == 404
    assert ticket.messages.count() == 1


def test_ticket_under_another_customers_path_is_404(client_for, owner, ticket, other_ticket):
    """S1: a ticket id is only found under its own customer's path."""
    client = client_for(owner)
    assert client.get(ticket_url(other_ticket, customer=ticket.customer)).status_code == 404


# --- open a ticket (H1, S4, S24) -----------------------------------------------------------


def test_member_opens_ticket_about_an_account_with_attachment(
    client_for, member, customer, account, django_capture_on_commit_callbacks
):
    """H1: a specific subject, an account chosen from the user's, an attachment."""
    client = client_for(member)
    assert client.get(create_url(customer)).status_code == 200
    response = client.post(
        create_url(customer),
        {
            "subject": "Upgrade PHP to 8.3 on alice.example",
            "account": account.pk,
            "body": "Please upgrade.",
            "copied": "colleague@alice.example",
            "attachments": [upload(), upload("log.txt", b"error line\n", "text/plain")],
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == ticket_url(ticket)
    assert (ticket.customer, ticket.account, ticket.requester) == (customer, account, member)
    assert ticket.status == Ticket.Status.NEW and ticket.agency is None
    assert list(ticket.participants.values_list("email", flat=True)) == ["colleague@alice.example"]
    files = {a.filename: a for a in Attachment.objects.all()}
    assert set(files) == {"screenshot.png", "log.txt"}
    assert files["screenshot.png"].content_type == "image/png"
    # S24: stored under a random name, not the file's own
    assert "screenshot" not in files["screenshot.png"].file.name


def test_vague_subject_is_refused(client_for, member, customer):
    """H1: a subject that says what it is about, not just "Help"."""
    response = client_for(member).post(create_url(customer), {"subject": "Problem!", "body": "x"})
    assert response.status_code == 200
    assert b"say in the subject" in response.content
    assert not Ticket.objects.exists()


def test_account_of_another_tenant_is_refused(client_for, member, customer, other_account):
    """S4, H1: a posted account id outside those the user may act on is refused."""
    response = client_for(member).post(
        create_url(customer),
        {"subject": "Reboot de-01-srv-0042", "account": other_account.pk, "body": "x"},
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not Ticket.objects.exists()


def test_account_outside_a_restricted_membership_is_refused(client_for, customer, account):
    """S4: a member restricted to chosen accounts cannot name another one."""
    restricted = MembershipFactory(customer=customer, restricted_to_accounts=True).user
    response = client_for(restricted).post(
        create_url(customer), {"subject": "Reboot the server", "account": account.pk, "body": "x"}
    )
    assert b"Select a valid choice" in response.content


def test_attachment_limits(client_for, member, customer, settings):
    """H1, S20: more files than allowed, or a file too large, are refused."""
    settings.MAX_ATTACHMENTS = 1
    client = client_for(member)
    data = {"subject": "Two screenshots of the error", "body": "x"}
    response = client.post(create_url(customer), {**data, "attachments": [upload(), upload()]})
    assert b"Attach at most 1 file" in response.content
    settings.MAX_ATTACHMENTS = 5
    settings.MAX_ATTACHMENT_BYTES = 10
    response = client.post(create_url(customer), {**data, "attachments": [upload()]})
    assert b"is larger than" in response.content
    assert not Ticket.objects.exists()


def test_attachment_type_is_checked_by_content(client_for, member, customer):
    """S24: an executable named like an image is refused, whatever its name and type."""
    fake = upload("holiday.png", b"MZ\x90\x00" + b"\x00" * 100, "image/png")
    response = client_for(member).post(
        create_url(customer),
        {"subject": "Photos of the error", "body": "x", "attachments": [fake]},
    )
    assert b"not accepted" in response.content
    assert not Ticket.objects.exists()


def test_member_without_open_tickets_gets_403(client_for, readonly_member, customer):
    """H1, U3: opening tickets is a permission."""
    client = client_for(readonly_member)
    assert client.get(create_url(customer)).status_code == 403
    assert client.post(create_url(customer), {"subject": "x" * 10, "body": "x"}).status_code == 403


def test_delegate_opens_ticket_about_granted_account(
    client_for,
    delegate,
    agency,
    customer,
    account,
    grant,
    manager,
    django_capture_on_commit_callbacks,
):
    """D5: the technical administrator opens a ticket for a granted account; it belongs to
    the grantor, whose managers see it and are told by mail through the routing function
    (K5) and their own choice of support mails (U3)."""
    client = client_for(delegate)
    page = client.get(create_url(agency))
    assert account.name.encode() in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            create_url(agency),
            {"subject": "DNS of alice.example broken", "account": account.pk, "body": "x"},
        )
    ticket = Ticket.objects.get()
    assert (ticket.customer, ticket.agency, ticket.account) == (customer, agency, account)
    assert response["Location"] == ticket_url(ticket)  # under the grantor's path
    assert client.get(ticket_url(ticket)).status_code == 200
    assert ticket.display_number.encode() in client.get(list_url(agency)).content
    # the grantor's manager sees it among the organisation's tickets
    assert ticket.display_number.encode() in signed_in(manager).get(list_url(customer)).content
    from django.core import mail

    (notice,) = mail.outbox
    # No contacts: the account e-mail (K5); and the members who chose support mails and
    # see all tickets (U3): the owner and the manager, never the agency's people.
    assert notice.to == sorted([customer.email.lower(), "alice@example.com", "manager@example.com"])
    assert "alice.example" in notice.subject


def test_delegate_loses_the_ticket_with_the_grant(client_for, delegate, agency, account, grant):
    """D5, D6: the delegate's view of tickets about a granted account ends with the grant."""
    ticket = TicketFactory(
        customer=account.customer, account=account, agency=agency, requester=delegate
    )
    client = client_for(delegate)
    assert client.get(ticket_url(ticket)).status_code == 200
    grant.state = grant.State.REVOKED
    grant.save()
    assert client.get(ticket_url(ticket)).status_code == 404
    assert ticket.display_number.encode() not in client.get(list_url(agency)).content


def test_delegate_does_not_see_grantors_other_tickets(client_for, delegate, account, grant, ticket):
    """D4, D5: a delegate sees only their own tickets about the granted account."""
    TicketFactory(customer=account.customer, account=account)
    assert client_for(delegate).get(ticket_url(ticket)).status_code == 404


# --- list (H3) -----------------------------------------------------------------------------


def test_member_sees_own_and_copied_tickets_only(client_for, member, customer, ticket):
    """H3: a user sees the tickets they opened or are copied on."""
    copied = TicketFactory(customer=customer, subject="Copied ticket about the shop")
    ParticipantFactory(ticket=copied, email=member.email)
    hidden = TicketFactory(customer=customer, subject="Someone else's ticket")
    content = client_for(member).get(list_url(customer)).content
    assert ticket.display_number.encode() in content
    assert copied.display_number.encode() in content
    assert hidden.display_number.encode() not in content
    client = client_for(member)
    assert client.get(ticket_url(copied)).status_code == 200
    assert client.get(ticket_url(hidden)).status_code == 404


def test_manager_sees_all_tickets_of_the_organisation(
    client_for, manager, customer, ticket, other_ticket
):
    """H3: managers see all tickets of the organisation, and only those."""
    content = client_for(manager).get(list_url(customer)).content
    assert ticket.display_number.encode() in content
    assert other_ticket.display_number.encode() not in content


def test_authorised_contact_user_is_a_manager(client_for, member, customer, ticket):
    """H3, K10: a user who is an authorised contact sees all the organisation's tickets."""
    from tests.contacts.factories import ContactFactory

    other = TicketFactory(customer=customer, subject="Colleague's ticket about DNS")
    client = client_for(member)
    assert client.get(ticket_url(other)).status_code == 404
    ContactFactory(customer=customer, email=member.email, authorised=True)
    assert client.get(ticket_url(other)).status_code == 200


def test_tickets_of_someone_who_left_stay_with_the_organisation(
    client_for, manager, owner, staff_user, customer
):
    """U4: the owner removes the person's membership, staff set them inactive: they lose
    their tickets, which stay with the organisation and its managers."""
    from accounts.services import membership_remove, user_deactivate

    leaver = MembershipFactory(customer=customer, user__email="leaver@example.com")
    ticket = TicketFactory(customer=customer, requester=leaver.user)
    client = client_for(leaver.user)
    assert client.get(ticket_url(ticket)).status_code == 200
    membership_remove(membership=leaver, by=owner)
    assert signed_in(leaver.user).get(ticket_url(ticket)).status_code == 404
    user_deactivate(user=leaver.user, by=staff_user)
    ticket.refresh_from_db()
    assert (ticket.customer, ticket.requester) == (customer, leaver.user)
    manager_client = signed_in(manager)
    assert manager_client.get(ticket_url(ticket)).status_code == 200
    assert ticket.display_number.encode() in manager_client.get(list_url(customer)).content


def test_status_filter_and_search(client_for, manager, customer):
    """H3: the list filters by status and searches numbers, subjects and the conversation,
    never internal notes."""
    open_ticket = TicketFactory(customer=customer, subject="Mailbox quota exceeded")
    waiting = TicketFactory(customer=customer, subject="Certificate renewal", waiting=True)
    closed = TicketFactory(customer=customer, subject="Old backup restore", closed=True)
    MessageFactory(ticket=waiting, body="the letsencrypt thing")
    MessageFactory(ticket=closed, note=True, body="customer is difficult")
    client = client_for(manager)

    def shown(**query):
        content = client.get(list_url(customer, **query)).content
        return {t for t in (open_ticket, waiting, closed) if t.display_number.encode() in content}

    assert shown() == {open_ticket, waiting}
    assert shown(status="closed") == {closed}
    assert shown(status="waiting") == {waiting}
    assert shown(status="all") == {open_ticket, waiting, closed}
    assert shown(status="all", q="quota") == {open_ticket}
    assert shown(status="all", q="letsencrypt") == {waiting}
    assert shown(status="all", q=closed.display_number) == {closed}
    assert shown(status="all", q="difficult") == set()  # H4: notes are never searched


def test_list_paginates(client_for, manager, customer):
    TicketFactory.create_batch(30, customer=customer)
    client = client_for(manager)
    assert b"Page 1 of 2" in client.get(list_url(customer)).content
    assert client.get(list_url(customer, page=2)).status_code == 200


def test_list_query_count_is_fixed(client_for, manager, member, customer, account):
    """The ticket list costs the same number of queries at two sizes."""
    client = client_for(manager)

    def batch(n):
        for _i in range(n):
            TicketFactory(customer=customer, account=account, requester=member)

    batch(3)
    client.get(list_url(customer))
    with CaptureQueriesContext(connection) as small:
        client.get(list_url(customer))
    batch(20)
    with CaptureQueriesContext(connection) as large:
        client.get(list_url(customer))
    assert len(small) == len(large)


def test_detail_query_count_is_fixed(client_for, member, ticket):
    """The conversation costs the same number of queries at two lengths."""
    client = client_for(member)
    client.get(ticket_url(ticket))
    _attach(ticket)
    with CaptureQueriesContext(connection) as small:
        client.get(ticket_url(ticket))
    for _i in range(10):
        _attach(ticket, MessageFactory(ticket=ticket, staff=True))
    with CaptureQueriesContext(connection) as large:
        client.get(ticket_url(ticket))
    assert len(small) == len(large)


# --- conversation, reply, close (H3, H4, S25) ------------------------------------------------


def test_detail_never_shows_internal_notes(client_for, manager, ticket):
    """H4: internal notes are never shown to customers, managers included."""
    MessageFactory(ticket=ticket, staff=True, body="We rebooted the server.")
    MessageFactory(ticket=ticket, note=True, body="INTERNAL: customer owes us money")
    note_file = _attach(ticket, Message.objects.get(kind=Message.Kind.NOTE))
    client = client_for(manager)
    content = client.get(ticket_url(ticket)).content
    assert b"We rebooted the server." in content
    assert b"INTERNAL" not in content
    assert client.get(file_url(ticket, note_file)).status_code == 404


def test_user_text_is_escaped(client_for, member, ticket):
    """S25: user text is escaped everywhere."""
    MessageFactory(ticket=ticket, body="<script>alert('x')</script>")
    Ticket.objects.filter(pk=ticket.pk).update(subject="<img src=x onerror=alert(1)>")
    content = client_for(member).get(ticket_url(ticket)).content
    assert b"<script>alert" not in content and b"<img src=x" not in content
    assert b"&lt;script&gt;" in content


def test_requester_replies_with_attachment(client_for, member, ticket):
    """H3: the requester answers in the portal; a waiting ticket is open again."""
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.WAITING)
    response = client_for(member).post(
        ticket_url(ticket, "ticket_reply"), {"body": "Here is the log.", "attachments": [upload()]}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    reply = ticket.messages.last()
    assert (reply.body, reply.author, reply.attachments.count()) == ("Here is the log.", member, 1)


def test_empty_reply_is_refused(client_for, member, ticket):
    response = client_for(member).post(ticket_url(ticket, "ticket_reply"), {"body": ""})
    assert response.status_code == 400
    assert ticket.messages.count() == 1


def test_reply_needs_post(client_for, member, ticket):
    assert client_for(member).get(ticket_url(ticket, "ticket_reply")).status_code == 405


def test_requester_closes_and_reopens(client_for, member, ticket):
    """H3: close and reopen."""
    client = client_for(member)
    client.post(ticket_url(ticket, "ticket_close"))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED and ticket.closed_at
    client.post(ticket_url(ticket, "ticket_reopen"))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN and ticket.closed_at is None


def test_copied_user_may_reply_but_not_close(client_for, customer, ticket):
    """H3: someone copied follows and answers; closing is for the requester and managers."""
    copied = MembershipFactory(customer=customer, user__email="cc@alice.example").user
    ParticipantFactory(ticket=ticket, email=copied.email)
    client = client_for(copied)
    assert client.post(ticket_url(ticket, "ticket_reply"), {"body": "+1"}).status_code == 302
    assert client.post(ticket_url(ticket, "ticket_close")).status_code == 403
    assert client.post(ticket_url(ticket, "ticket_reopen")).status_code == 403
    ticket.refresh_from_db()
    assert ticket.status != Ticket.Status.CLOSED


def test_manager_closes_colleagues_ticket(client_for, manager, ticket):
    """H3: managers close any ticket of the organisation."""
    assert client_for(manager).post(ticket_url(ticket, "ticket_close")).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CLOSED


# --- downloads (S24) -------------------------------------------------------------------------


def _attach(ticket, message=None, name="page.html", data=b"<html><script>alert(1)</script></html>"):
    message = message or ticket.messages.first()
    return services._attachments_store(message, [services.NewFile.from_bytes(name, data)])[0]


def test_uploaded_html_is_only_ever_a_download(client_for, member, ticket):
    """S24: an .html attachment is served as a download, octet-stream, nosniff, sandboxed."""
    attachment = _attach(ticket)
    assert attachment.content_type == "text/html"
    response = client_for(member).get(file_url(ticket, attachment))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert 'filename="page.html"' in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert b"".join(response.streaming_content) == b"<html><script>alert(1)</script></html>"


def test_download_file_name_is_clean(client_for, member, ticket):
    """S23, S24: a file name with CR/LF and a path is cleaned before it is stored or sent."""
    attachment = _attach(ticket, name='../../etc/pass\r\nwd";x.pdf', data=b"%PDF-1.4 x")
    assert attachment.filename == "pass wd__x.pdf"
    response = client_for(member).get(file_url(ticket, attachment))
    assert "\n" not in response["Content-Disposition"]
    assert response["Content-Type"] == "application/pdf"


def test_download_of_other_tickets_attachment_is_404(client_for, member, ticket, customer):
    """S1, S24: an attachment is only found through its own ticket."""
    hidden = TicketFactory(customer=customer)
    attachment = _attach(hidden)
    url = reverse(
        "helpdesk:attachment_download",
        kwargs={"customer": customer.number, "ticket": ticket.pk, "attachment": attachment.pk},
    )
    assert client_for(member).get(url).status_code == 404


def test_ticket_list_in_navigation(client_for, member, customer):
    """The "Support" entry appears in the customer navigation."""
    content = (
        client_for(member)
        .get(reverse("portal:dashboard", kwargs={"customer": customer.number}))
        .content
    )
    assert list_url(customer).encode() in content


def test_server_account_choice_is_named(client_for, member, customer):
    """H1: servers are offered by their name (de-XX-srv-XXXX)."""
    HostingAccountFactory(customer=customer, server=True, name="de-01-srv-0042")
    assert b"de-01-srv-0042" in client_for(member).get(create_url(customer)).content


def test_isolation_makers_make_reachable_objects(client_for, owner, customer, outsider):
    """S1: the makers the isolation matrix uses give a ticket and a file its owner reaches
    and another tenant does not."""
    from types import SimpleNamespace

    from tests.helpdesk.factories import make_attachment, make_ticket

    target = SimpleNamespace(customer=customer, next_name=lambda prefix: f"{prefix}-marker")
    made = {"ticket": make_ticket(target, {}, None)}
    attachment = make_attachment(target, made, None)
    ticket = made["ticket"]
    client = client_for(owner)
    assert b"ticket-marker subject" in client.get(ticket_url(ticket)).content
    assert client.get(file_url(ticket, attachment)).status_code == 200
    assert signed_in(outsider).get(file_url(ticket, attachment)).status_code == 404


def test_h3_copied_person_is_read_once_with_the_ticket(client_for, member, customer):
    """H3: a person in copy sees the ticket; who is in copy is read once, with the ticket,
    for both the access check and the page's list of people in copy (make bench)."""
    copied = TicketFactory(customer=customer, subject="Copied ticket about the shop")
    ParticipantFactory(ticket=copied, email="zoe@example.com")
    ParticipantFactory(ticket=copied, email=member.email)
    client = client_for(member)
    client.get(ticket_url(copied))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(ticket_url(copied))
    assert response.status_code == 200
    reading = [
        q["sql"]
        for q in queries.captured_queries
        if '"helpdesk_participant"' in executed_sql(q["sql"])
    ]
    assert len(reading) == 1
    assert response.context["copied"] == sorted([member.email, "zoe@example.com"])


# --- compiled-once reads of the ticket page (make bench) -------------------------------------


def test_conversation_answers_as_the_queryset_does(ticket):
    """H3, H4: the compiled conversation is the messages the queryset of the ticket gives
    (no internal note, oldest first), each with its own files by id, as a prefetch gives."""
    from helpdesk import selectors

    staff = MessageFactory(ticket=ticket, staff=True)
    MessageFactory(ticket=ticket, note=True, body="internal")
    note = ticket.messages.filter(kind=Message.Kind.NOTE).get()
    first = _attach(ticket, staff, name="b.txt", data=b"b")
    second = _attach(ticket, staff, name="a.txt", data=b"a")
    _attach(ticket, note, name="secret.txt", data=b"s")
    expected = list(
        ticket.messages.exclude(kind=Message.Kind.NOTE)
        .select_related("author")
        .order_by("created_at", "id")
    )
    shown = selectors.conversation(ticket)
    assert [m.pk for m in shown] == [m.pk for m in expected]
    assert [str(m.author) if m.author else None for m in shown] == [
        str(m.author) if m.author else None for m in expected
    ]
    files = {m.pk: [f.pk for f in m.files] for m in shown}
    assert files[staff.pk] == [first.pk, second.pk]
    assert sum(len(v) for v in files.values()) == 2  # the note's file is not shown
    assert all(f.message is m for m in shown for f in m.files)


def test_conversation_without_messages_reads_no_files(ticket):
    """Like a prefetch: no message, no query for their files."""
    from helpdesk import selectors

    ticket.messages.all().delete()
    with CaptureQueriesContext(connection) as queries:
        assert selectors.conversation(ticket) == []
    assert len(queries) == 1


def test_ticket_only_under_its_own_customers_path(client_for, member, ticket, other_ticket):
    """S1: the compiled ticket read answers 404 for another customer's path, an unknown
    id and an id past the column's range, as the queryset did."""
    client = client_for(member)
    assert client.get(ticket_url(ticket)).status_code == 200
    assert client.get(ticket_url(other_ticket, customer=ticket.customer)).status_code == 404
    assert client.get(ticket_url(ticket, customer=other_ticket.customer)).status_code == 404
    for number in (0, ticket.pk + 10_000, 2**63, 10**30):
        url = f"/c/{ticket.customer.number}/tickets/{number}/"
        assert client.get(url).status_code == 404


def test_ticket_page_reads_participants_with_the_ticket(client_for, member, ticket):
    """H3: who is in copy is read once, for the access check and the page."""
    ParticipantFactory(ticket=ticket, email="b@example.com")
    ParticipantFactory(ticket=ticket, email="a@example.com")
    client = client_for(member)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(ticket_url(ticket))
    assert b"a@example.com, b@example.com" in response.content
    read = [
        q["sql"]
        for q in queries.captured_queries
        if "helpdesk_participant" in executed_sql(q["sql"])
    ]
    assert len(read) == 1


def test_h3_manager_list_compiled_once_lists_what_the_policy_gives(
    client_for, manager, member, customer, other_customer, outsider
):
    """H3: a manager's unsearched list is the customer's own tickets, read by queries
    compiled once per process (make bench); each status lists what ``visible_tickets``
    narrowed by ``tickets_filtered`` gives, and nothing of another customer."""
    from helpdesk import selectors
    from portal import policy

    TicketFactory(customer=customer, requester=member, status=Ticket.Status.WAITING)
    TicketFactory(customer=customer, requester=member, status=Ticket.Status.CLOSED)
    TicketFactory.create_batch(2, customer=customer, requester=member)
    TicketFactory(customer=other_customer, requester=outsider)
    assert policy.sees_all_own_tickets(manager, customer)
    assert not policy.sees_all_own_tickets(member, customer)  # a requester: own tickets only
    for status in ("", "open", Ticket.Status.WAITING, Ticket.Status.CLOSED, "all"):
        expected = selectors.tickets_filtered(
            policy.visible_tickets(manager, customer), status=status
        )
        listed = selectors.own_tickets_paged(customer, status, 25)
        assert [t.pk for t in listed[0 : listed.count()]] == [t.pk for t in expected]
    client = client_for(manager)
    client.get(list_url(customer, status="waiting"))
    with CaptureQueriesContext(connection) as queries:
        page = client.get(list_url(customer, status="waiting")).content.decode()
    assert page.count('href="/c/') > 0 and other_customer.name not in page
    assert not any(q["sql"].startswith("SELECT COUNT(*) FROM (SELECT") for q in queries)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "de", "hu"])
def test_h3_blank_reply_form_is_django_s_own_html_in_every_language(
    client_for, member, ticket, language, settings
):
    """H3: the reply form under the conversation, rendered once per language
    (portal_forms.blank_form), is the HTML Django renders for it; a help text from
    settings follows a changed setting; a refused reply shows its errors and its text."""
    from django.template.loader import render_to_string
    from django.utils import translation

    from helpdesk.forms import ReplyForm

    client = client_for(member)
    client.cookies["django_language"] = language
    member.language = language
    member.save(update_fields=["language"])
    for _round in range(2):  # the first view renders it, the second reuses it
        body = client.get(ticket_url(ticket)).content.decode()
        with translation.override(language):
            assert render_to_string("portal/_form.html", {"form": ReplyForm()}) in body
    settings.MAX_ATTACHMENTS = 3
    body = client.get(ticket_url(ticket)).content.decode()
    with translation.override(language):
        assert render_to_string("portal/_form.html", {"form": ReplyForm()}) in body
    refused = client.post(ticket_url(ticket, "ticket_reply"), {"body": ""})
    assert refused.status_code == 400
    assert "id_body_errors" in refused.content.decode()
