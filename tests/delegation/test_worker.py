"""The grant jobs on a real Celery worker through Redis, mail to a real SMTP sink (D6,
S26)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from delegation import tasks
from delegation.models import Grant, GrantEvent
from portal.tasks import ping
from tests.delegation.factories import approved_grant

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_d6_s26_worker_expires_an_ended_grant_once_and_mails_both_sides(
    real_celery, smtp_settings, customer, agency, account, owner, delegate
):
    grant = approved_grant(
        grantor=customer,
        agency=agency,
        accounts=[account],
        by=owner,
        approver=delegate,
        ends_at=timezone.now() + timedelta(days=1),
    )
    smtp_settings.wait_for(1, timeout=20)  # the grantor's "approved" mail, sent by the worker
    now = timezone.now()
    Grant.objects.filter(pk=grant.pk).update(
        created_at=now - timedelta(days=3), ends_at=now - timedelta(minutes=1)
    )
    smtp_settings.clear()
    # Two runs of the job, as two beat ticks or two workers would send them; the ping
    # behind them (the worker takes tasks in order) answers once both are done.
    tasks.expire_grants.delay()
    tasks.expire_grants.delay()
    assert ping.delay().get(timeout=30) == "pong"
    grant.refresh_from_db()
    assert grant.state == Grant.State.EXPIRED
    assert grant.events.filter(kind=GrantEvent.Kind.EXPIRED).count() == 1
    ended = smtp_settings.wait_for(2, timeout=20)
    assert all("ended" in m["Subject"] for m in ended)
    assert sorted(m["To"] for m in ended) == ["alice@example.com", "charlie@example.com"]
