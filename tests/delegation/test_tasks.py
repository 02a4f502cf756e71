"""Jobs: expiry at the end time, reminders a week before, unused keys after 14 days,
key mails blanked (D3, D6, S5, S7, S26)."""

from datetime import timedelta

import pytest
from django.core import mail as django_mail
from django.utils import timezone
from guardian.models import GroupObjectPermission

from delegation import services, tasks
from delegation.models import Grant, GrantEvent
from portal import policy
from tests.delegation.factories import approved_grant, clock, make_grant

pytestmark = pytest.mark.django_db
Kind = GrantEvent.Kind


@pytest.fixture
def ending(customer, agency, account, owner, delegate):
    """A grant approved now that ends in 30 days."""
    return approved_grant(
        grantor=customer,
        agency=agency,
        accounts=[account],
        by=owner,
        approver=delegate,
        ends_at=timezone.now() + timedelta(days=30),
    )


def test_d6_s5_access_ends_at_the_end_time_exactly_with_no_job(ending, delegate, account):
    """D6, S5: the policy checks the end on every request; no worker has run."""
    with clock(ending.ends_at - timedelta(microseconds=1)):
        assert policy.account_access(delegate, account) is not None
    with clock(ending.ends_at):
        assert policy.account_access(delegate, account) is None
        assert ending.effective_state() == Grant.State.EXPIRED
    ending.refresh_from_db()
    assert ending.state == Grant.State.ACTIVE  # nothing marked it; access ended anyway


def test_d6_job_marks_expired_removes_rows_and_mails_both_sides(
    ending, agency, django_capture_on_commit_callbacks
):
    """D6: the beat job records the expiry, removes guardian rows and tells both sides."""
    with clock(ending.ends_at - timedelta(seconds=1)):
        assert tasks.expire_grants() == 0
    django_mail.outbox.clear()
    with clock(ending.ends_at), django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_grants() == 1
    ending.refresh_from_db()
    assert ending.state == Grant.State.EXPIRED
    assert ending.ended_at == ending.ends_at
    assert not GroupObjectPermission.objects.filter(group=policy.customer_group(agency)).exists()
    assert sorted(m.to[0] for m in django_mail.outbox) == [
        "alice@example.com",
        "charlie@example.com",
    ]
    assert ending.events.filter(kind=Kind.EXPIRED).count() == 1


def test_s26_expiry_job_is_idempotent(ending, django_capture_on_commit_callbacks):
    """S26: a second run (or a second worker) changes and mails nothing."""
    with clock(ending.ends_at + timedelta(minutes=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.expire_grants() == 1
        sent = len(django_mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            assert tasks.expire_grants() == 0
            assert not services.grant_expire(grant_id=ending.pk)
    assert len(django_mail.outbox) == sent
    assert ending.events.filter(kind=Kind.EXPIRED).count() == 1


def test_d6_reminder_a_week_before_the_end_once(ending, django_capture_on_commit_callbacks):
    """D6: both sides are reminded a week before the end — once, recorded."""
    week_before = ending.ends_at - timedelta(days=7)
    with clock(week_before - timedelta(minutes=1)):
        assert tasks.remind_grants() == 0
    django_mail.outbox.clear()
    with clock(week_before), django_capture_on_commit_callbacks(execute=True):
        assert tasks.remind_grants() == 1
    assert sorted(m.to[0] for m in django_mail.outbox) == [
        "alice@example.com",
        "charlie@example.com",
    ]
    assert all("week" in m.subject for m in django_mail.outbox)
    ending.refresh_from_db()
    assert ending.reminded_at == week_before
    with clock(week_before + timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        assert tasks.remind_grants() == 0
    assert len(django_mail.outbox) == 2
    assert ending.events.filter(kind=Kind.REMINDER).count() == 1


def test_d6_no_reminder_for_a_grant_shorter_than_a_week(customer, agency, account, owner, delegate):
    grant = approved_grant(
        grantor=customer,
        agency=agency,
        accounts=[account],
        by=owner,
        approver=delegate,
        ends_at=timezone.now() + timedelta(days=3),
    )
    with clock(grant.ends_at - timedelta(days=1)):
        assert tasks.remind_grants() == 0


def test_d6_no_reminder_for_a_grant_without_end(grant):
    with clock(timezone.now() + timedelta(days=400)):
        assert tasks.remind_grants() == 0


def test_d3_unused_key_expires_after_14_days_and_grantor_is_told(
    pending, django_capture_on_commit_callbacks
):
    """D3: a pending key not used within 14 days expires (job), the grantor is told."""
    grant, _key = pending
    with clock(grant.key_expires_at - timedelta(seconds=1)):
        assert tasks.expire_grants() == 0
    with clock(grant.key_expires_at), django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_grants() == 1
        assert tasks.expire_grants() == 0
    grant.refresh_from_db()
    assert grant.state == Grant.State.EXPIRED
    assert grant.key_hash == ""
    assert [m.to for m in django_mail.outbox] == [["alice@example.com"]]
    assert grant.events.filter(kind=Kind.KEY_EXPIRED).count() == 1


def test_d3_pending_grant_whose_end_passed_expires(customer, agency, account, owner):
    grant, _key = make_grant(
        grantor=customer,
        agency=agency,
        accounts=[account],
        by=owner,
        ends_at=timezone.now() + timedelta(days=2),
    )
    with clock(grant.ends_at):
        assert tasks.expire_grants() == 1
    grant.refresh_from_db()
    assert grant.state == Grant.State.EXPIRED


def test_s7_redact_job_blanks_sent_key_mails(pending, owner, django_capture_on_commit_callbacks):
    grant, key = pending
    with django_capture_on_commit_callbacks(execute=True):
        services.grant_key_mail(grant=grant, key=key, actor=owner)
    assert tasks.redact_key_mails() == 1
    assert tasks.redact_key_mails() == 0


def test_beat_schedule_runs_the_jobs(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "delegation.tasks.expire_grants",
        "delegation.tasks.remind_grants",
        "delegation.tasks.redact_key_mails",
    } <= scheduled
