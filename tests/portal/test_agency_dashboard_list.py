"""The agency dashboard's delegated accounts (D4, D6, S5, S6; make bench: 5,000 live
grants): the list comes in its order (customer name, account name) from the table the
database keeps (``delegation.DelegatedAccount``), a page from its index and the total from
an index count; every listed account is still checked on each request (the grant live
at the request's time, the account still the grantor's, the agency's guardian row), so
an end that passed without the job, or a table row that disagrees, lists nothing."""

import re
from datetime import timedelta

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from delegation.models import DelegatedAccount
from portal import policy
from portal.prepared import executed_sql
from tests.factories import CustomerFactory, GrantFactory, HostingAccountFactory
from tests.helpers import activate_grant

pytestmark = pytest.mark.django_db


def _grant_accounts(agency, grantors: dict[str, list[str]], ends_at=None) -> dict:
    """A live grant from each named grantor of its named accounts: {account name: account}."""
    accounts = {}
    for name, names in grantors.items():
        grantor = CustomerFactory(name=name)
        own = [HostingAccountFactory(customer=grantor, name=n) for n in names]
        activate_grant(GrantFactory(grantor=grantor, agency=agency), own, ends_at=ends_at)
        accounts.update({a.name: a for a in own})
    return accounts


def _page(delegate, agency, number=1, at=None, size=25):
    listed = policy.delegated_account_list(delegate, agency, size, at=at)
    return Paginator(listed, size).get_page(number)


def _names(page) -> list[str]:
    return [a.name for a in page.object_list]


def test_d4_list_is_in_customer_then_account_name_order_with_its_total(delegate, agency):
    _grant_accounts(
        agency,
        {
            "Zeta GmbH": ["a.zeta.example"],
            "Beta Kft.": ["z.beta.example", "b.beta.example"],
            "Alpha AG": ["m.alpha.example"],
        },
    )
    policy.forget(delegate)
    page = _page(delegate, agency, size=2)
    assert page.paginator.count == 4
    assert _names(page) == ["m.alpha.example", "b.beta.example"]
    assert _names(_page(delegate, agency, 2, size=2)) == ["z.beta.example", "a.zeta.example"]
    first = page.object_list[0]
    assert first.customer.name == "Alpha AG"  # read with the page
    assert first.grant_ends_at is None and first.grant_id


def test_d4_list_matches_the_checked_query(delegate, agency):
    """The same accounts, grants and ends as ``delegated_accounts`` (the pairs checked in
    full from the grants), in the dashboard's order."""
    accounts = _grant_accounts(
        agency, {f"Kunde {n}": [f"site{n}.example"] for n in (3, 1, 2)}, ends_at=None
    )
    policy.forget(delegate)
    expected = list(policy.delegated_accounts(delegate, agency).order_by(*policy.DELEGATED_ORDER))
    listed = list(_page(delegate, agency).object_list)
    assert listed == expected == [accounts[f"site{n}.example"] for n in (1, 2, 3)]
    assert [(a.grant_id, a.grant_ends_at) for a in listed] == [
        (a.grant_id, a.grant_ends_at) for a in expected
    ]


def test_d6_end_passed_without_the_job_is_neither_listed_nor_counted(delegate, agency):
    """D6, S5: no job has run; the grant's end has passed at the request's time."""
    ends_at = timezone.now() + timedelta(hours=1)
    _grant_accounts(agency, {"Ending GmbH": ["ending.example"]}, ends_at=ends_at)
    _grant_accounts(agency, {"Lasting GmbH": ["lasting.example"]})
    policy.forget(delegate)
    assert _page(delegate, agency).paginator.count == 2
    later = ends_at + timedelta(seconds=1)
    page = _page(delegate, agency, at=later)
    assert _names(page) == ["lasting.example"]
    assert page.paginator.count == 1
    assert DelegatedAccount.objects.filter(account__name="ending.example").exists()  # no job ran


def _forge(agency, account, grant_id=None):
    """A row the triggers would not write: the table out of step with the grants."""
    DelegatedAccount.objects.create(
        agency=agency,
        account=account,
        grant_id=grant_id or 0,
        ends_at=None,
        customer_name="AAA first",
        account_name=account.name,
    )


def test_s5_table_row_without_a_live_grant_is_not_listed(delegate, agency, customer, account):
    """The table is an index, not the decision: a row without a grant lists nothing."""
    _grant_accounts(agency, {"Real GmbH": ["real.example"]})
    _forge(agency, account)
    policy.forget(delegate)
    assert _names(_page(delegate, agency)) == ["real.example"]


def test_s5_table_row_without_the_guardian_row_is_not_listed(delegate, agency):
    accounts = _grant_accounts(agency, {"Real GmbH": ["real.example", "gone.example"]})
    gone = accounts["gone.example"]
    from guardian.models import GroupObjectPermission

    with connection.cursor() as cursor:  # the guardian row goes behind the triggers' back
        cursor.execute("SET LOCAL session_replication_role = replica")
        GroupObjectPermission.objects.filter(object_pk=str(gone.pk)).delete()
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    assert DelegatedAccount.objects.filter(account=gone).exists()
    policy.forget(delegate)
    assert _names(_page(delegate, agency)) == ["real.example"]


def test_s6_table_row_of_an_account_no_longer_the_grantors_is_not_listed(
    delegate, agency, other_customer
):
    accounts = _grant_accounts(agency, {"Real GmbH": ["real.example", "moved.example"]})
    moved = accounts["moved.example"]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE accounts_hostingaccount SET customer_id = %s WHERE id = %s",
            [other_customer.pk, moved.pk],
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
    assert DelegatedAccount.objects.filter(account=moved).exists()
    policy.forget(delegate)
    assert _names(_page(delegate, agency)) == ["real.example"]


def test_s5_another_agencys_rows_are_not_listed(delegate, agency):
    other = CustomerFactory(name="Other Agentur")
    _grant_accounts(other, {"Theirs GmbH": ["theirs.example"]})
    _grant_accounts(agency, {"Ours GmbH": ["ours.example"]})
    policy.forget(delegate)
    page = _page(delegate, agency)
    assert _names(page) == ["ours.example"]
    assert page.paginator.count == 1


def test_d4_member_without_the_delegation_permission_lists_nothing(
    agency, django_assert_num_queries
):
    from tests.factories import MembershipFactory

    plain = MembershipFactory(customer=agency).user
    _grant_accounts(agency, {"Real GmbH": ["real.example"]})
    policy.customer_access(plain, agency)
    with django_assert_num_queries(0):
        page = _page(plain, agency)
    assert list(page.object_list) == []


def test_d4_customer_without_grants_costs_no_query(delegate, agency, django_assert_num_queries):
    policy.customer_access(delegate, agency)  # memberships loaded, as on a page
    with django_assert_num_queries(0):
        page = _page(delegate, agency)
    assert list(page.object_list) == []


def _dashboard_queries(client, url, logged=False) -> list[str]:
    """The SQL of the dashboard's queries (``logged``: as Django's log has them, an
    ``EXECUTE`` with this request's values for a statement prepared on the server)."""
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    if logged:
        return [q["sql"] for q in queries.captured_queries]
    return [executed_sql(q["sql"]) for q in queries.captured_queries]


@pytest.mark.parametrize("page", ["", "?dpage=2"])
def test_d4_dashboard_costs_the_same_queries_at_two_sizes(client_for, delegate, agency, page):
    """Count and page are one query each whether the agency holds 30 or 60 accounts."""
    url = reverse("portal:dashboard", kwargs={"customer": agency.number}) + page
    client = client_for(delegate)
    _grant_accounts(agency, {f"Kunde {n:03d}": [f"s{n}.example"] for n in range(30)})
    small = _dashboard_queries(client, url)
    _grant_accounts(agency, {f"Kunde {n:03d}": [f"s{n}.example"] for n in range(30, 60)})
    big = _dashboard_queries(client, url)
    assert len(small) == len(big)
    listed = [sql for sql in big if '"delegation_delegatedaccount"' in sql]
    assert len(listed) == 2  # the count and the page


def test_d4_count_reads_the_table_alone_and_the_page_its_index(client_for, delegate, agency):
    """make bench: the count is an index count of the agency's entries; the page picks 25
    entries in the index's order before any account, grant or customer is read (before:
    all 5,000 pairs joined, checked and sorted for every view, 25–40 ms)."""
    _grant_accounts(agency, {f"Kunde {n:03d}": [f"s{n}.example"] for n in range(30)})
    url = reverse("portal:dashboard", kwargs={"customer": agency.number})
    logged = _dashboard_queries(client_for(delegate), url, logged=True)
    listed = [(sql, executed_sql(sql)) for sql in logged]
    (_, count), (run, page) = [q for q in listed if '"delegation_delegatedaccount"' in q[1]]
    assert "COUNT" in count
    for table in ("delegation_grant", "accounts_hostingaccount", "guardian_"):
        assert f'"{table}' not in count
    # The page's entries are picked in the index's order inside the subquery of the table.
    assert re.search(
        r'"delegation_delegatedaccount"\."id" IN \(SELECT U0\."id" AS "pk" '
        r'FROM "delegation_delegatedaccount" U0 WHERE [^;]*? '
        r'ORDER BY U0\."customer_name" ASC, U0\."account_name" ASC, U0\."account_id" ASC '
        r"LIMIT 25\)",
        page,
    )
    # The page is prepared on the server, its count planned per call (make bench).
    assert run.startswith("EXECUTE portal_") and logged.count(run) == 1
    with connection.cursor() as cursor:
        # Other agencies' rows, as in production, and statistics that know them: with
        # thirty rows of one agency every plan costs the same, and a generic plan may
        # walk any index. The table has no foreign keys (the database keeps it).
        cursor.execute(
            "INSERT INTO delegation_delegatedaccount "
            "(agency_id, account_id, grant_id, customer_name, account_name) "
            "SELECT 10000000 + n / 10, 10000000 + n, 10000000 + n, 'K ' || n, 'a' || n "
            "FROM generate_series(1, 3000) AS n"
        )
        cursor.execute("ANALYZE delegation_delegatedaccount")

        def plan_of(mode):
            cursor.execute(f"SET LOCAL plan_cache_mode = {mode}")
            cursor.execute("EXPLAIN " + run)
            return "\n".join(row[0] for row in cursor.fetchall())

        # The generic plan PostgreSQL may keep for every agency after five runs, with the
        # planner's own choices: the agency's first entries in the index's order, as the
        # bench's agency with 5,000 needs, not its entries found and sorted.
        generic = plan_of("force_generic_plan")
        # This agency's own plan; the table is small: without these the planner may
        # rightly scan and sort it.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        custom = plan_of("force_custom_plan")
    assert "(agency_id = $" in generic and f"(agency_id = '{agency.pk}'::bigint)" in custom
    for plan in (generic, custom):
        assert re.search(r"Index (Only )?Scan using delegated_account_order", plan)
        # The one sort left is the page's 25 rows (above the picked entries), no other.
        assert len(re.findall(r"Sort  \(", plan)) == 1
