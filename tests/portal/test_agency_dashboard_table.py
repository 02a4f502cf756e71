"""The agency dashboard's table of delegated accounts (``delegation.DelegatedAccount``,
kept by the database's triggers, migration ``delegation.0004``) stays in step with every
write that decides it, in the same transaction: each path that changes a grant (made,
approved, revoked, handed back, expired by the job, its end or accounts changed,
deleted), the guardian rows, the accounts (moved, renamed, deleted) and the customers'
names. After each step the table must equal what filling it from scratch gives."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import HostingAccount
from delegation import services
from delegation.models import DelegatedAccount, Grant
from portal import policy
from tests.delegation.factories import approved_grant, clock, make_grant
from tests.factories import HostingAccountFactory

pytestmark = pytest.mark.django_db


def _rows(agency=None):
    rows = DelegatedAccount.objects.all()
    if agency is not None:
        rows = rows.filter(agency=agency)
    return sorted(
        rows.values_list(
            "agency_id", "account_id", "grant_id", "ends_at", "customer_name", "account_name"
        )
    )


def assert_in_step():
    """The table as the triggers left it is the table filled from scratch."""
    kept = _rows()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT delegation_delegated_fill()")
        fresh = _rows()
        transaction.set_rollback(True)
    assert kept == fresh


def _listed(agency):
    """(account id, grant id) of the agency's rows."""
    return [(row[1], row[2]) for row in _rows(agency)]


@pytest.fixture
def approve(customer, agency, account, owner, delegate):
    """Makes a grant of ``account`` to ``agency`` and approves it through the services."""

    def approve_grant(ends_at=None):
        return approved_grant(
            grantor=customer,
            agency=agency,
            accounts=[account],
            by=owner,
            approver=delegate,
            ends_at=ends_at,
        )

    return approve_grant


@pytest.fixture
def live(approve):
    """A grant made and approved through the services."""
    return approve()


def test_d4_pending_grant_is_not_listed_until_approved(customer, agency, account, owner, delegate):
    grant, key = make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
    assert _listed(agency) == []
    assert_in_step()
    assert services.grant_approve(grant=grant, key=key, user=delegate)
    assert _listed(agency) == [(account.pk, grant.pk)]
    row = DelegatedAccount.objects.get(agency=agency)
    assert (row.customer_name, row.account_name, row.ends_at) == (
        customer.name,
        account.name,
        None,
    )
    assert_in_step()


def test_d4_approved_grant_keeps_its_end(approve, agency):
    ends_at = timezone.now() + timedelta(days=3)
    grant = approve(ends_at)
    assert DelegatedAccount.objects.get(agency=agency, grant=grant).ends_at == ends_at
    assert_in_step()


@pytest.mark.parametrize("end", ["revoke", "hand_back"])
def test_d2_revoked_or_handed_back_grant_leaves_the_table(live, agency, owner, delegate, end):
    actor = owner if end == "revoke" else delegate
    assert getattr(services, f"grant_{end}")(grant=live, actor=actor)
    assert _listed(agency) == []
    assert_in_step()


def test_d6_expiry_job_removes_the_row(approve, agency, account):
    """The job marks the grant expired: its row goes in the same transaction. (Before the
    job, the row stays and the policy leaves it out by its end: test_agency_dashboard_list.)"""
    ends_at = timezone.now() + timedelta(hours=1)
    grant = approve(ends_at)
    assert _listed(agency) == [(account.pk, grant.pk)]
    later = ends_at + timedelta(minutes=1)
    with clock(later):
        assert services.grants_expire_due(later) == 1
    assert _listed(agency) == []
    assert_in_step()


def test_d3_pending_grant_whose_key_expires_changes_nothing(customer, agency, account, owner):
    grant, _key = make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
    later = grant.key_expires_at + timedelta(minutes=1)
    with clock(later):
        assert services.grant_key_expire(grant_id=grant.pk, at=later)
    assert _listed(agency) == []
    assert_in_step()


def test_d4_end_changed_on_the_grant_row(live, agency):
    ends_at = timezone.now() + timedelta(days=9)
    Grant.objects.filter(pk=live.pk).update(ends_at=ends_at)
    assert DelegatedAccount.objects.get(agency=agency).ends_at == ends_at
    assert_in_step()


def test_d4_two_grants_of_one_account_list_it_once_with_the_longest(
    approve, agency, account, owner
):
    """The row names the grant that runs longest (no end first); when that one ends the
    other one's end is listed (grant_accounts_release keeps the guardian row)."""
    short = approve(timezone.now() + timedelta(days=2))
    endless = approve()
    assert _listed(agency) == [(account.pk, endless.pk)]
    assert_in_step()
    assert services.grant_revoke(grant=endless, actor=owner)
    assert _listed(agency) == [(account.pk, short.pk)]
    assert_in_step()


def test_d4_accounts_taken_from_and_added_to_a_grant(live, agency, account, customer):
    second = HostingAccountFactory(customer=customer, name="second.example")
    live.accounts.remove(account)
    assert _listed(agency) == []
    live.accounts.add(account, second)
    assign_perm(policy.MANAGE_ACCOUNT_PERM, policy.customer_group(agency), second)
    assert _listed(agency) == sorted([(account.pk, live.pk), (second.pk, live.pk)])
    assert_in_step()


def test_s5_guardian_row_taken_and_given_again(live, agency, account):
    group = policy.customer_group(agency)
    remove_perm(policy.MANAGE_ACCOUNT_PERM, group, account)
    assert _listed(agency) == []
    assert_in_step()
    assign_perm(policy.MANAGE_ACCOUNT_PERM, group, account)
    assert _listed(agency) == [(account.pk, live.pk)]
    assert_in_step()


def test_s6_account_moved_away_from_the_grantor_and_back(live, agency, account, other_customer):
    customer_id = account.customer_id
    HostingAccount.objects.filter(pk=account.pk).update(customer=other_customer)
    assert _listed(agency) == []
    assert_in_step()
    HostingAccount.objects.filter(pk=account.pk).update(customer_id=customer_id)
    assert _listed(agency) == [(account.pk, live.pk)]
    assert_in_step()


def test_d4_renamed_account_and_customer_carry_their_names(live, agency, account, customer):
    account.name = "renamed.example"
    account.save()
    customer.name = "Aaron Renamed GmbH"
    customer.save()
    row = DelegatedAccount.objects.get(agency=agency)
    assert (row.customer_name, row.account_name) == ("Aaron Renamed GmbH", "renamed.example")
    assert_in_step()


def test_d4_deleted_grant_leaves_the_table(live, agency):
    live.events.all().delete()
    Grant.objects.filter(pk=live.pk).delete()
    assert _listed(agency) == []
    assert_in_step()


def test_d4_deleted_account_leaves_the_table(live, agency, account):
    HostingAccount.objects.filter(pk=account.pk).delete()
    assert _listed(agency) == []
    assert_in_step()


def test_d4_another_agencys_rows_are_its_own(live, agency, account, customer, owner):
    """Two agencies holding the same account: a row each, and ending one grant leaves
    the other agency's row."""
    from tests.factories import CustomerFactory, MembershipFactory

    second = CustomerFactory(name="Delta Agentur")
    admin = MembershipFactory(customer=second, can_manage_delegations=True).user
    other = approved_grant(
        grantor=customer, agency=second, accounts=[account], by=owner, approver=admin
    )
    assert _listed(second) == [(account.pk, other.pk)]
    assert services.grant_revoke(grant=live, actor=owner)
    assert _listed(agency) == []
    assert _listed(second) == [(account.pk, other.pk)]
    assert_in_step()


def test_d4_bulk_statements_refresh_every_account_they_touch(customer, agency, owner):
    """One statement writing many rows (bulk_create, a queryset delete): every account it
    touched is refreshed, once per statement."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission

    from tests.factories import GrantFactory

    accounts = [HostingAccountFactory(customer=customer, name=f"b{n}.example") for n in range(5)]
    grant = GrantFactory(grantor=customer, agency=agency, state=Grant.State.ACTIVE)
    Grant.accounts.through.objects.bulk_create(
        [Grant.accounts.through(grant=grant, hostingaccount=a) for a in accounts]
    )
    assert _listed(agency) == []  # no guardian rows yet
    ct = ContentType.objects.get_for_model(HostingAccount)
    perm = Permission.objects.get(content_type=ct, codename="manage_hostingaccount")
    group = policy.customer_group(agency)
    GroupObjectPermission.objects.bulk_create(
        [
            GroupObjectPermission(
                group=group, permission=perm, content_type=ct, object_pk=str(a.pk)
            )
            for a in accounts
        ]
    )
    assert _listed(agency) == sorted((a.pk, grant.pk) for a in accounts)
    assert_in_step()
    GroupObjectPermission.objects.filter(object_pk__in=[str(a.pk) for a in accounts[:3]]).delete()
    assert _listed(agency) == sorted((a.pk, grant.pk) for a in accounts[3:])
    assert_in_step()


def test_s5_agency_group_unlinked_and_linked_again(live, agency, account):
    """The guardian rows count only through the agency's own group (accounts.CustomerGroup)."""
    from accounts.models import CustomerGroup

    link = CustomerGroup.objects.get(customer=agency)
    group_id = link.group_id
    link.delete()
    assert _listed(agency) == []
    assert_in_step()
    CustomerGroup.objects.create(customer=agency, group_id=group_id)
    assert _listed(agency) == [(account.pk, live.pk)]
    assert_in_step()


def _grant_lookups() -> tuple[int, int, int]:
    """Index scans of the grants' accounts, their rows read, and grant rows read, by this
    transaction so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, seq_tup_read + coalesce(idx_tup_fetch, 0), idx_scan "
            "FROM pg_stat_xact_user_tables "
            "WHERE relname IN ('delegation_grant_accounts', 'delegation_grant')"
        )
        rows = {name: (read, scans) for name, read, scans in cursor.fetchall()}
    accounts, grants = rows["delegation_grant_accounts"], rows["delegation_grant"]
    return accounts[1], accounts[0], grants[0]


@pytest.fixture
def bulk(customer):
    """30 agencies and 300 more hosting accounts of ``customer``, for bulk-made grants."""
    from tests.factories import CustomerFactory

    agencies = [CustomerFactory(name=f"Bulk agency {n}") for n in range(30)]
    accounts = HostingAccount.objects.bulk_create(
        [
            HostingAccount(customer=customer, kind="domain", name=f"bulk{n}.example")
            for n in range(300)
        ]
    )
    return agencies, accounts


def _bulk_grants(customer, bulk, count: int) -> list[Grant]:
    """``count`` pending grants of ``customer``, each of one of ``bulk``'s accounts to
    one of its agencies, made by two bulk statements."""
    agencies, accounts = bulk
    grants = Grant.objects.bulk_create(
        [
            Grant(grantor=customer, agency=agencies[n % len(agencies)], created_at=timezone.now())
            for n in range(count)
        ]
    )
    Grant.accounts.through.objects.bulk_create(
        [
            Grant.accounts.through(grant=grant, hostingaccount=accounts[n % len(accounts)])
            for n, grant in enumerate(grants)
        ]
    )
    return grants


def test_d4_refresh_reads_only_its_accounts_grants_whatever_the_plan_or_statistics(
    live, customer, account, bulk
):
    """A connection lives long (CONN_MAX_AGE, a test run) and keeps PL/pgSQL's plans;
    statistics lag behind bulk loads. Neither may make the refresh start from the grants
    (migration ``delegation.0006``): with a generic plan made on a few rows, or with
    statistics from before 3,000 grants were approved, it walked every active grant and
    looked each up among the refreshed account's grants (CI: 5,000 grants, a bulk load's
    refreshes past 300 s). Refreshing one account reads that account's grants."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    HostingAccount.objects.filter(pk=account.pk).update(name="primed.example")  # a few rows
    grants = _bulk_grants(customer, bulk, 3000)
    agencies, accounts = bulk
    ct = ContentType.objects.get_for_model(HostingAccount)
    perm = Permission.objects.get(content_type=ct, codename="manage_hostingaccount")
    GroupObjectPermission.objects.bulk_create(
        [
            GroupObjectPermission(
                group=policy.customer_group(agency),
                permission=perm,
                content_type=ct,
                object_pk=str(a.pk),
            )
            for agency in agencies[:3]
            for a in accounts
        ]
    )
    with connection.cursor() as cursor:
        # Statistics from before the approvals: hardly any grant is active.
        cursor.execute("ANALYZE delegation_grant, delegation_grant_accounts")
    Grant.objects.filter(pk__in=[g.pk for g in grants]).update(
        state=Grant.State.ACTIVE, approved_at=timezone.now()
    )
    scans, _accounts_read, read = _grant_lookups()
    HostingAccount.objects.filter(pk=account.pk).update(name="renamed.example")
    # The refresh's DELETE and INSERT: one lookup of the account's grants and its one grant
    # each (2 and 2). Started from the active grants: 6,010 and 6,011.
    scans_now, _accounts_read_now, read_now = _grant_lookups()
    assert scans_now - scans <= 10
    assert read_now - read <= 10
    assert _listed(live.agency) == [(account.pk, live.pk)]
    assert_in_step()


def test_d4_new_agency_group_reads_only_its_grants_after_a_bulk_load(customer, account, bulk):
    """An agency's guardian group, linked (accounts.CustomerGroup), refreshes the accounts
    of the grants it received: found by the agency's grants, not by joining every grant
    with every grant account. CI's statistics, taken when the tables held the dead rows of
    rolled-back tests, put a few rows where there were thousands; joined freely, the
    trigger compared each grant with each grant account (1–2 s an agency)."""
    from tests.factories import CustomerFactory

    dead = _bulk_grants(customer, bulk, 3000)
    Grant.objects.filter(pk__in=[g.pk for g in dead]).delete()
    with connection.cursor() as cursor:
        # Dead rows and hardly any live one: the estimates of a test run's tables.
        cursor.execute("ANALYZE delegation_grant, delegation_grant_accounts")
    _bulk_grants(customer, bulk, 3000)
    newcomer = CustomerFactory(name="New agency")
    grant = Grant.objects.create(
        grantor=customer, agency=newcomer, state=Grant.State.ACTIVE, created_at=timezone.now()
    )
    grant.accounts.add(account)
    _scans, accounts_read, read = _grant_lookups()
    policy.customer_group(newcomer)
    _scans, accounts_read_now, read_now = _grant_lookups()
    # Its one grant and that grant's one account, then the account's grants (refresh).
    assert accounts_read_now - accounts_read <= 20
    assert read_now - read <= 20
    assert_in_step()
