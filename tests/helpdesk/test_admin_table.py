"""The helpdesk admin's ticket list with its table and sidebar as Jinja2 templates (make
bench): the page is Django's own admin page, byte for byte, in every language, and reads
the same number of queries whatever the list holds."""

import re

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from helpdesk.admin import TicketAdmin, TicketChangeList
from helpdesk.models import Ticket
from tests.factories import CustomerFactory, TOTPDeviceFactory, UserFactory
from tests.helpdesk.factories import TicketFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:helpdesk_ticket_changelist"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


@pytest.fixture
def staff(client_for, staff_user):
    """A signed-in, two-factor verified superuser (S14: OTPAdminSite)."""
    return client_for(staff_user, device=TOTPDeviceFactory(user=staff_user))


@pytest.fixture
def clerk(client_for):
    """Staff who may see tickets and customers and add customers, nothing else: the
    sidebar lists fewer models, with and without "Add" links."""
    user = UserFactory(is_staff=True, email="clerk@provider.example", first_name="")
    codenames = ["view_ticket", "change_ticket", "view_customer", "add_customer"]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return client_for(user, device=TOTPDeviceFactory(user=user))


@pytest.fixture
def tickets(staff_user):
    """Tickets whose cells escape, are empty, or have no customer, assignee or label."""
    odd = CustomerFactory(name="Tom & \"Jerry\" <Hosting> 'GmbH'")
    plain = CustomerFactory(name="Alice Hosting GmbH")
    nameless = UserFactory(is_staff=True, first_name="", last_name="", email="n@x.example")
    made = [
        TicketFactory(customer=odd, subject='<b>Mailbox</b> & "quota" isn\'t <ok>'),
        TicketFactory(customer=plain, subject="   ", assignee=staff_user, waiting=True),
        TicketFactory(customer=None, requester=None, requester_email="a&b@x.example"),
        TicketFactory(customer=plain, subject="mailbox ünïcödé", assignee=nameless, closed=True),
    ]
    Ticket.objects.filter(pk=made[2].pk).update(status="legacy")  # not one of the choices
    return made


def page(client, language, **query) -> str:
    client.cookies["django_language"] = language
    User.objects.update(language=language)
    response = client.get(reverse(CHANGELIST), query)
    assert response.status_code == 200
    return CSRF.sub("CSRF", response.content.decode())


def djangos_page(client, language, monkeypatch, **query) -> str:
    """The same page as Django's own admin renders it: its ChangeList, its templates."""
    with monkeypatch.context() as patched:
        patched.setattr(TicketAdmin, "get_changelist", lambda self, request, **kw: ChangeList)
        patched.setattr(TicketAdmin, "change_list_template", "admin/change_list.html")
        patched.setattr(TicketAdmin, "changelist_view", admin.ModelAdmin.changelist_view)
        return page(client, language, **query)


QUERIES = [
    {},
    {"q": "mailbox"},
    {"q": 'a&b "c"'},  # nothing found: no table
    {"o": "1.-6.4", "status__exact": "waiting"},  # three sorted columns, a filter
    {"o": "-3", "q": "mailbox", "p": "1"},
    # chosen filters, a search to escape in their links (the filters' Jinja2 copy)
    {"assignee": "none", "source__exact": "mail", "q": '<a&b "c">'},
    {"customer": "100001", "assignee": "me", "status__exact": "closed"},
]


@pytest.mark.parametrize("language", ["en", "de", "hu"])
@pytest.mark.parametrize("query", QUERIES)
def test_ticket_list_is_djangos_html(staff, tickets, monkeypatch, language, query):
    """H4 (make bench, issue 9): the Jinja2 table, filters and sidebar give the HTML of
    Django's templates, escaping, empty cells, unknown labels, sorting, chosen filters and
    the search's links included."""
    ours = page(staff, language, **query)
    assert ours == djangos_page(staff, language, monkeypatch, **query)


@pytest.mark.parametrize("language", ["en", "de", "hu"])
@pytest.mark.parametrize(
    "query",
    [{}, {"p": "2"}, {"p": "4", "q": "x"}, {"q": "mailbox", "p": "2", "o": "-3"}],
)
def test_pages_and_search_form_are_djangos_html(staff, tickets, monkeypatch, language, query):
    """H4 (issue 9): the Jinja2 pagination and search form of a list of several pages, the
    current, the first and the last page, a search that finds nothing, in every language."""
    monkeypatch.setattr(TicketAdmin, "list_per_page", 1)
    for _ in range(8):
        TicketFactory(subject="mailbox")
    ours = page(staff, language, **query)
    assert 'class="end"' in ours or "q" in query
    assert ours == djangos_page(staff, language, monkeypatch, **query)


@pytest.mark.parametrize("language", ["en", "de"])
def test_sidebar_of_staff_with_some_permissions_is_djangos(clerk, tickets, monkeypatch, language):
    """The sidebar lists what Django lists for staff who may see only some models."""
    ours = page(clerk, language, q="mailbox")
    assert 'class="addlink"' in ours
    assert ours == djangos_page(clerk, language, monkeypatch, q="mailbox")


def test_a_list_the_table_does_not_know_is_djangos(staff, tickets, monkeypatch):
    """Other columns (a customisation of list_display): Django's own result_list."""
    monkeypatch.setattr(TicketAdmin, "list_display", [*TicketAdmin.list_display, "source"])
    response = staff.get(reverse(CHANGELIST))
    assert response.context["cl"].table is None
    assert b'class="field-source"' in response.content
    assert b"T-" in response.content


def test_table_is_used_for_the_tickets_list(staff, tickets):
    response = staff.get(reverse(CHANGELIST))
    cl = response.context["cl"]
    assert isinstance(cl, TicketChangeList)
    assert cl.table is not None and len(cl.table["rows"]) == len(tickets)


def test_list_reads_only_its_columns_and_no_more_queries_with_more_rows(staff, staff_user):
    """The page's query reads the shown columns (no password hash, no token seed), and
    every customer and assignee comes with it: the same queries at two sizes."""

    def run():
        with CaptureQueriesContext(connection) as queries:
            assert staff.get(reverse(CHANGELIST), {"q": "mailbox"}).status_code == 200
        return queries

    for _ in range(2):
        TicketFactory(subject="mailbox", assignee=UserFactory(is_staff=True))
    run()
    small = run()
    for _ in range(12):
        TicketFactory(subject="mailbox", assignee=UserFactory(is_staff=True))
    TicketFactory(subject="mailbox", customer=None)
    large = run()
    assert len(small) == len(large)
    page_query = next(
        q["sql"]
        for q in large.captured_queries
        if q["sql"].startswith("SELECT")
        and "ORDER BY" in q["sql"]
        and "helpdesk_ticket" in q["sql"]
    )
    assert '"helpdesk_ticket"."token_seed"' not in page_query
    assert '"accounts_user"."password"' not in page_query
    assert '"accounts_customer"."name"' in page_query
