"""The cost of the helpdesk admin's ticket list at provider scale (H4, issue 9): the
search's capped count answered from an index alone, the permissions of staff read in one
query, the sidebar's filters as Django shows them without its template."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from helpdesk.admin import _djangos_template, _permissions_of
from tests.factories import MembershipFactory, TOTPDeviceFactory, UserFactory
from tests.helpdesk.factories import TicketFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:helpdesk_ticket_changelist"


def _permissions(*codenames):
    return Permission.objects.filter(codename__in=codenames)


@pytest.fixture
def clerk():
    """Staff with some permissions of their own and some of a group's."""
    user = UserFactory(is_staff=True, email="clerk@provider.example")
    user.user_permissions.set(_permissions("view_ticket", "change_ticket"))
    group = Group.objects.create(name="front desk")
    group.permissions.set(_permissions("view_customer", "add_customer", "view_ticket"))
    user.groups.add(group)
    return user


def test_permissions_are_modelbackends_from_one_query(clerk):
    """H4 (issue 9): the list reads staff's permissions in one query, the same set Django's
    ModelBackend reads in two, and its checks answer from it."""
    expected = ModelBackend().get_all_permissions(User.objects.get(pk=clerk.pk))
    assert "helpdesk.change_ticket" in expected and "accounts.add_customer" in expected
    user = User.objects.get(pk=clerk.pk)
    with CaptureQueriesContext(connection) as queries:
        _permissions_of(user)
    assert len(queries) == 1
    assert user._perm_cache == expected
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm("accounts.add_customer")
        assert not user.has_perm("accounts.delete_customer")
        assert user.has_module_perms("helpdesk")
    assert len(queries) == 0


def test_permissions_of_superusers_and_inactive_staff_are_left_to_django(clerk):
    """H4: a superuser needs no permission rows, an inactive user has none."""
    for change in ({"is_superuser": True}, {"status": User.Status.INACTIVE}):
        User.objects.filter(pk=clerk.pk).update(**change)
        user = User.objects.get(pk=clerk.pk)
        with CaptureQueriesContext(connection) as queries:
            _permissions_of(user)
        assert len(queries) == 0
        assert not hasattr(user, "_perm_cache")
        User.objects.filter(pk=clerk.pk).update(is_superuser=False, status=User.Status.ACTIVE)


def test_list_of_staff_with_permissions_reads_a_fixed_number_of_queries(client_for, clerk):
    """H4 (issue 9): staff who are not superusers get the list with one permission query,
    and the same queries at two sizes."""
    client = client_for(clerk, device=TOTPDeviceFactory(user=clerk))

    def run():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse(CHANGELIST), {"q": "mailbox"}).status_code == 200
        return [q["sql"] for q in queries.captured_queries]

    TicketFactory(subject="mailbox")
    run()
    small = run()
    TicketFactory.create_batch(5, subject="Mailbox full", assignee=clerk)
    large = run()
    assert len(small) == len(large) <= 10
    permission_queries = [sql for sql in large if "auth_permission" in sql or "user_perm" in sql]
    assert len(permission_queries) == 1


def test_filters_are_djangos_from_their_own_choices(client_for, staff_user):
    """H4: the sidebar's filters come from their choices (Django's HTML: test_admin_table);
    a filter with a template of its own is left to Django's tag."""
    client = client_for(staff_user, device=TOTPDeviceFactory(user=staff_user))
    TicketFactory(subject="mailbox", assignee=staff_user)
    response = client.get(reverse(CHANGELIST), {"assignee": "me", "q": "mail"})
    cl = response.context["cl"]
    assert cl.filters_html is not None
    assert '<li class="selected">\n    <a href="?assignee=me&amp;q=mail">me</a></li>' in (
        response.content.decode()
    )
    assert cl.search_form_html is not None and cl.pagination_html is not None
    spec = cl.filter_specs[0]
    spec.template = "admin/other_filter.html"
    cl.__dict__.pop("filters_html")
    assert cl.filters_html is None


def test_templates_of_the_project_are_shown_instead_of_the_copies(
    client_for, staff_user, settings, tmp_path
):
    """H4: a project's own admin/pagination.html, search_form.html or filter.html (an
    override of Django's) is what the list shows, not the Jinja2 copies of Django's."""
    for name in ("pagination.html", "search_form.html", "filter.html"):
        (tmp_path / "admin").mkdir(exist_ok=True)
        (tmp_path / "admin" / name).write_text(f"<p>our {name}</p>")
    django_engine = next(t for t in settings.TEMPLATES if t["BACKEND"].endswith("DjangoTemplates"))
    settings.TEMPLATES = [
        {**t, "DIRS": [tmp_path, *t["DIRS"]]} if t is django_engine else t
        for t in settings.TEMPLATES
    ]
    _djangos_template.cache_clear()
    try:
        client = client_for(staff_user, device=TOTPDeviceFactory(user=staff_user))
        response = client.get(reverse(CHANGELIST))
        cl = response.context["cl"]
        assert cl.filters_html is None and cl.pagination_html is None
        assert cl.search_form_html is None
        for name in ("pagination.html", "search_form.html", "filter.html"):
            assert f"<p>our {name}</p>" in response.content.decode()
    finally:
        _djangos_template.cache_clear()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL index")
def test_search_count_can_read_the_index_alone(client_for, staff_user):
    """Issue 9, H4: the capped count of a subject search is an index-only scan of
    ticket_updated_subject, which holds UPPER(subject): PostgreSQL neither reads the
    tickets nor computes UPPER for each (6 → 1.6 ms per view at a million tickets)."""
    TicketFactory.create_batch(3, subject="mailbox")
    client = client_for(staff_user, device=TOTPDeviceFactory(user=staff_user))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse(CHANGELIST), {"q": "mailbox"})
    count = next(q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"])
    with connection.cursor() as cursor:
        # A few rows: the planner would read the table; at scale the index is cheaper.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + count)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using ticket_updated_subject" in plan, plan


def test_h4_admin_pages_skip_the_portals_switcher(client_for, staff_user, customer, other_customer):
    """H4: the admin's pages read no customers for the portal's header (they show Django's);
    a portal page of the same user still gets its switcher."""
    MembershipFactory(user=staff_user, customer=customer)
    MembershipFactory(user=staff_user, customer=other_customer)
    client = client_for(staff_user, device=TOTPDeviceFactory(user=staff_user))
    with CaptureQueriesContext(connection) as admin_page:
        response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "switchable_customers" not in response.context
    assert not any("accounts_membership" in q["sql"] for q in admin_page.captured_queries)
    dashboard = client.get(reverse("portal:dashboard", args=[customer.number]))
    assert dashboard.status_code == 200
    assert 'class="switcher' in dashboard.content.decode()
    assert other_customer.name in dashboard.content.decode()
