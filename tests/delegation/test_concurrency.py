"""Races on PostgreSQL: two parallel redemptions of one key (S7) and two workers running
the expiry job at once (S26, D6). Real threads, real row locks, committed data."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from delegation import services
from delegation.models import Grant, GrantEvent
from portal.models import OutgoingMail
from tests.delegation.factories import approved_grant, clock, make_grant
from tests.factories import CustomerFactory, HostingAccountFactory, MembershipFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks need PostgreSQL (make test)"
    ),
]


def _parallel(count, target):
    """Run ``target(i)`` in ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results, errors = [None] * count, []

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


@pytest.fixture(autouse=True)
def _mail_stays_in_the_outbox(monkeypatch):
    """No eager Celery task from the threads: eager runs toggle a process-wide Celery flag
    ("join will block") that racing threads can leave set, breaking later result.get()
    calls. The mail rows are what these tests count."""
    monkeypatch.setattr("portal.mail._enqueue", lambda mail_id: None)


@pytest.fixture
def cast(db):
    grantor = CustomerFactory()
    owner = MembershipFactory(customer=grantor, owner=True).user
    agency = CustomerFactory()
    delegates = [
        MembershipFactory(customer=agency, can_manage_delegations=True).user for _i in range(2)
    ]
    account = HostingAccountFactory(customer=grantor)
    return grantor, owner, agency, delegates, account


@pytest.mark.parametrize("attempt", range(3))
def test_s7_two_parallel_redemptions_approve_once(cast, attempt):
    """S7: two requests with the right key at the same moment — one approval."""
    grantor, owner, agency, delegates, account = cast
    grant, key = make_grant(grantor=grantor, agency=agency, accounts=[account], by=owner)
    # Both requests have read the pending grant before either writes.
    loaded = [Grant.objects.get(pk=grant.pk) for _i in range(2)]
    results = _parallel(
        2, lambda i: services.grant_approve(grant=loaded[i], key=key, user=delegates[i])
    )
    assert sorted(results) == [False, True]
    grant.refresh_from_db()
    assert grant.state == Grant.State.ACTIVE
    assert grant.approved_by == delegates[results.index(True)]
    assert grant.events.filter(kind=GrantEvent.Kind.APPROVED).count() == 1


def test_s26_d6_two_workers_expire_a_grant_once(cast):
    """S26, D6: two workers run the expiry job at once; one expiry, one set of mails."""
    grantor, owner, agency, delegates, account = cast
    grants = [
        approved_grant(
            grantor=grantor,
            agency=agency,
            accounts=[account],
            by=owner,
            approver=delegates[0],
            ends_at=timezone.now() + timedelta(days=1),
        )
        for _i in range(5)
    ]
    later = timezone.now() + timedelta(days=2)
    with clock(later):
        done = _parallel(4, lambda i: services.grants_expire_due(at=later))
    assert sum(done) == 5
    for grant in grants:
        grant.refresh_from_db()
        assert grant.state == Grant.State.EXPIRED
        assert grant.events.filter(kind=GrantEvent.Kind.EXPIRED).count() == 1
    # Each grant: one mail to the grantor's owner, one to each of the agency's managers.
    assert OutgoingMail.objects.filter(kind="grant_expired").count() == 5 * 3


def test_s26_d6_two_workers_remind_once(cast):
    grantor, owner, agency, delegates, account = cast
    grant = approved_grant(
        grantor=grantor,
        agency=agency,
        accounts=[account],
        by=owner,
        approver=delegates[0],
        ends_at=timezone.now() + timedelta(days=30),
    )
    moment = grant.ends_at - timedelta(days=6)
    with clock(moment):
        done = _parallel(3, lambda i: services.grants_remind_due(at=moment))
    assert sum(done) == 1
    assert grant.events.filter(kind=GrantEvent.Kind.REMINDER).count() == 1
    assert OutgoingMail.objects.filter(kind="grant_reminder").count() == 3
