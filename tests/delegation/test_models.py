"""Grant rules that live on the row (D2, D3, D6)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from delegation.models import Grant, GrantRequest
from tests.delegation.factories import clock

pytestmark = pytest.mark.django_db


def test_d6_live_until_the_end_exactly(grant):
    """D6: live while now < ends_at; not at ends_at."""
    end = timezone.now() + timedelta(hours=1)
    grant.ends_at = end
    grant.save()
    assert grant.is_live(at=end - timedelta(microseconds=1))
    assert not grant.is_live(at=end)
    assert grant.effective_state(at=end) == Grant.State.EXPIRED
    assert list(Grant.objects.live(at=end)) == []
    assert list(Grant.objects.due_to_expire(at=end)) == [grant]


def test_d3_open_only_with_a_usable_key(pending):
    grant, _key = pending
    assert grant.is_open()
    assert list(Grant.objects.open()) == [grant]
    with clock(grant.key_expires_at):
        assert not grant.is_open()
        assert grant.get_effective_state_display() == "expired"
        assert list(Grant.objects.keys_due_to_expire()) == [grant]
    grant.key_hash = ""
    assert not grant.is_open()


def test_d6_reminder_due_in_the_last_week_of_a_long_grant(grant):
    now = timezone.now()
    Grant.objects.filter(pk=grant.pk).update(
        approved_at=now - timedelta(days=30), ends_at=now + timedelta(days=6)
    )
    assert list(Grant.objects.due_for_reminder(at=now)) == [grant]
    assert list(Grant.objects.due_for_reminder(at=now - timedelta(days=2))) == []
    Grant.objects.filter(pk=grant.pk).update(reminded_at=now)
    assert list(Grant.objects.due_for_reminder(at=now)) == []


def test_grant_ends_after_it_was_made(customer, agency):
    with pytest.raises(IntegrityError):
        Grant.objects.create(
            grantor=customer, agency=agency, ends_at=timezone.now() - timedelta(days=1)
        )


def test_grant_request_done_needs_the_new_customer(customer, owner):
    with pytest.raises(IntegrityError):
        GrantRequest.objects.create(
            grantor=customer,
            requested_by=owner,
            company="X",
            first_name="A",
            last_name="B",
            street="C",
            postal_code="1",
            city="D",
            country="E",
            phone="1",
            email="x@example.com",
            state=GrantRequest.State.DONE,
        )
