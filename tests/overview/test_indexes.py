"""The access overview reads its sections' pages from indexes in their order (make bench):
a page of a customer with 1,000 members, 270 live grants and 2,000 contacts reads its
rows, not all of them joined and sorted. Each test takes the SQL the page really runs and
asks PostgreSQL for its plan; the rows stay those the rules give."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from contacts.models import Contact
from contacts.selectors import authorised_contacts
from delegation.models import Grant
from portal import policy
from portal.policy import OverviewSection
from portal.prepared import executed_sql

pytestmark = pytest.mark.django_db


def _page_sqls(client, customer) -> list[str]:
    """The page's queries as SQL (not prepared, to EXPLAIN them with the settings below)."""
    url = reverse("accounts:access_overview", kwargs={"customer": customer.number})
    client.get(url)
    with override_settings(PREPARED_STATEMENTS=False), CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def _plan(sql: str) -> str:
    with connection.cursor() as cursor:
        # The test tables are tiny: without these the planner may rightly prefer a scan and
        # a sort. With them a Sort is left only where no index gives the order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def _section_pages(sqls: list[str], table: str, order: str) -> list[str]:
    """The page queries of ``table`` whose ORDER BY starts with ``order``."""
    return [
        sql
        for sql in sqls
        if executed_sql(sql).startswith(f'SELECT "{table}".')
        and executed_sql(sql).rpartition("ORDER BY")[2].strip().startswith(order)
    ]


def test_u3_c3_d4_k10_section_pages_read_their_order_from_indexes(client_for, world):
    """U3, C3: members and the main account's users in membership_list_order; D4: live
    grants in grant_live_order, each checked for a live pair; K8, K10, K11: contacts who
    instruct or order in contact_overview_order. No page sorts all of its section."""
    sqls = _page_sqls(client_for(world.owner), world.customer)
    members = _section_pages(sqls, "accounts_membership", '"accounts_membership"."is_owner" DESC')
    assert len(members) == 2  # our members (U3) and the main account's users (C3)
    grants = _section_pages(sqls, "delegation_grant", '"delegation_grant"."ends_at" ASC')
    contacts = _section_pages(sqls, "contacts_contact", '"contacts_contact"."is_primary" DESC')
    assert len(grants) == 1 and len(contacts) == 1
    for sqls_of, table, index in (
        (members, "accounts_membership", "membership_list_order"),
        (grants, "delegation_grant", "grant_live_order"),
        (contacts, "contacts_contact", "contact_overview_order"),
    ):
        for sql in sqls_of:
            plan = _plan(sql)
            # (A grant's last use is its latest event: a sort of that grant's events.)
            assert index in plan and f"Sort Key: {table}." not in plan, plan


def test_k10_authorised_contacts_and_d4_grant_accounts_read_only_their_rows(client_for, world):
    """K10, H3: who is an authorised contact is read from contact_authorised (not from all
    of a customer's contacts); D4: the accounts of the page's grants are read by their
    grants' ids, not by walking every pair."""
    sqls = _page_sqls(client_for(world.owner), world.customer)
    (counts,) = [sql for sql in sqls if sql.startswith("SELECT (SELECT COUNT(")]
    assert "contact_authorised" in _plan(counts)
    (pairs,) = [sql for sql in sqls if sql.startswith('SELECT "delegation_grant_accounts".')]
    # The pairs are narrowed to the page's grants by a condition of their own, which
    # PostgreSQL can answer from the (grant, account) index: without it, the rules alone
    # made it read every pair of every grant (16,000, make bench). Which plan it picks for
    # the test's few rows depends on their statistics (CI: a full index scan of 23 rows).
    where = pairs.partition(" WHERE ")[2]
    assert where.startswith('("delegation_grant_accounts"."grant_id" IN ('), pairs


def test_u3_d4_k10_sections_hold_the_rows_of_the_rules(world):
    """The index-friendly shapes list the same rows in the same order as the rules read
    plainly: members by the user's name (U3, C3), grants with a live pair (D4), contacts
    authorised now, primary or with a phone password (K8, K10, K11)."""
    customer = world.customer
    at = timezone.now()
    sections = policy.overview_sections(customer, at)
    for section, source in (
        (OverviewSection.MEMBERS, customer.pk),
        (OverviewSection.MAIN_ACCOUNT, customer.parent_id),
    ):
        plain = (
            Membership.objects.filter(policy.acting_users_q("user__"), customer_id=source)
            .order_by("-is_owner", "user__last_name", "user__first_name", "user__email", "pk")
            .values_list("pk", flat=True)
        )
        listed = [m.pk for m in sections[section]]
        assert listed == list(plain) and listed, section
    live = policy.live_delegations(at).filter(grant__grantor=customer)
    plain_grants = Grant.objects.filter(pk__in=live.values("grant_id")).order_by("ends_at", "-pk")
    assert [g.pk for g in sections[OverviewSection.GRANTS]] == [g.pk for g in plain_grants]
    assert sections[OverviewSection.GRANTS].count() == 3
    authorised = authorised_contacts(customer, at).values("pk")
    plain_contacts = (
        Contact.objects.active()
        .filter(customer=customer)
        .filter(pk__in=authorised)
        .union(
            Contact.objects.active().filter(customer=customer, is_primary=True),
            Contact.objects.active().filter(customer=customer).exclude(phone_password_hash=""),
        )
    )
    assert {c.pk for c in sections[OverviewSection.CONTACTS]} == {c.pk for c in plain_contacts}


def test_d4_grant_accounts_prepared_per_customer_by_the_grants_ids(client_for, world):
    """D4: the accounts of the page's grants are prepared once per customer: the customer
    written in, the grants' ids and the moment as parameters, the pairs narrowed by both
    at the top of the condition. As a semi-join with the live pairs ("id" IN (SELECT …)),
    planned on every view, PostgreSQL merge-joined along every hosting account's primary
    key (make bench). Its plan on the bench's data starts from the grants' ids; on the
    test's few rows it depends on their statistics, so the statement is checked here."""
    client = client_for(world.owner)
    url = reverse("accounts:access_overview", kwargs={"customer": world.customer.number})
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    (pairs,) = [
        q["sql"]
        for q in queries.captured_queries
        if executed_sql(q["sql"]).startswith('SELECT "delegation_grant_accounts".')
    ]
    name = pairs.split()[1].split("(")[0]
    assert name.startswith("portal_grant_account_pairs_"), pairs
    assert name.endswith(f"__{world.customer.pk}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, parameter_types::text FROM pg_prepared_statements WHERE name = %s",
            [name],
        )
        statement, types = cursor.fetchone()
    where = statement.partition(" WHERE ")[2]
    assert where.startswith('("delegation_grant_accounts"."grant_id" IN ($1, $2'), statement
    assert f'"accounts_hostingaccount"."customer_id" = {world.customer.pk}' in where
    assert '"delegation_grant_accounts"."id" IN (SELECT' not in statement
    assert types.count("bigint") + types.count("integer") == 40  # live and own grants' ids
    assert "timestamp with time zone" in types  # the moment
