"""Grant services: making, keys, approving, revoking, handing back (D1–D4, D7, S4, S5,
S7, S8, S27)."""

import math
import re
from datetime import timedelta

import pytest
from django.core import mail as django_mail
from django.core.exceptions import ValidationError
from django.utils import timezone
from guardian.models import GroupObjectPermission

from accounts.models import AuditEvent, hash_secret
from delegation import services
from delegation.models import Grant, GrantEvent
from portal import policy
from portal.models import OutgoingMail
from tests.delegation.factories import approved_grant, clock, make_grant
from tests.factories import HostingAccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db
Kind = GrantEvent.Kind


def guardian_rows(agency):
    return GroupObjectPermission.objects.filter(group=policy.customer_group(agency))


# --- making ---------------------------------------------------------------------------


def test_d1_grant_names_individual_accounts_and_starts_pending(pending, account, agency, delegate):
    """D1, D3: a grant holds chosen hosting accounts and gives nothing until approved."""
    grant, _key = pending
    assert grant.state == Grant.State.PENDING
    assert list(grant.accounts.all()) == [account]
    assert grant.agency == agency
    assert policy.account_access(delegate, account) is None
    assert [e.kind for e in grant.events.all()] == [Kind.MADE]


def test_s7_key_is_long_random_and_stored_only_as_hash(pending):
    """S7: ≥128 random bits; only a prefix and a keyed hash are stored."""
    grant, key = pending
    normalised = services.key_normalise(key)
    assert re.fullmatch(r"[A-Z2-7]{32}", normalised)
    assert len(normalised) * math.log2(32) >= 128
    secret_bits = (len(normalised) - len(grant.key_prefix)) * 5
    assert secret_bits >= 128
    assert grant.key_hash == hash_secret(normalised)
    stored = Grant.objects.filter(pk=grant.pk).values().get()
    assert not any(normalised in str(v) or key in str(v) for v in stored.values())
    assert grant.key_expires_at - grant.created_at == timedelta(days=14)


def test_s7_keys_differ(customer, agency, account, owner):
    keys = {make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)[1]}
    keys.add(make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)[1])
    assert len(keys) == 2


def test_d4_s4_another_customers_account_cannot_be_granted(
    customer, agency, account, other_account, owner
):
    """S4, D4: only the grantor's own accounts; an agency cannot pass a grant on."""
    with pytest.raises(ValidationError):
        make_grant(grantor=customer, agency=agency, accounts=[account, other_account], by=owner)
    assert not Grant.objects.exists()


def test_d4_agency_cannot_pass_on_a_delegated_account(grant, agency, account, delegate):
    """D4: an account the agency holds by delegation is not its own to grant."""
    third = MembershipFactory(owner=True).customer
    assert account not in policy.grantable_accounts(delegate, agency)
    with pytest.raises(ValidationError):
        make_grant(grantor=agency, agency=third, accounts=[account], by=delegate)


def test_grant_to_self_is_refused(customer, account, owner):
    with pytest.raises(ValidationError):
        make_grant(grantor=customer, agency=customer, accounts=[account], by=owner)


def test_d2_end_must_be_in_the_future(customer, agency, account, owner):
    with pytest.raises(ValidationError):
        make_grant(
            grantor=customer,
            agency=agency,
            accounts=[account],
            by=owner,
            ends_at=timezone.now() - timedelta(minutes=1),
        )


def test_s27_making_is_audited_without_the_key(pending, customer):
    grant, key = pending
    event = AuditEvent.objects.get(action="grant.created")
    assert event.customer == customer
    assert services.key_normalise(key) not in str(event.data) + event.summary
    assert key not in str(event.data) + event.summary


# --- approving ------------------------------------------------------------------------


def test_d3_d4_right_key_approves_and_assigns_guardian_rows(
    pending, delegate, agency, account, customer, django_capture_on_commit_callbacks
):
    """D3, D4: the key makes the grant active; the agency's users reach the account."""
    grant, key = pending
    with django_capture_on_commit_callbacks(execute=True):
        assert services.grant_approve(grant=grant, key=key.lower().replace("-", " "), user=delegate)
    grant.refresh_from_db()
    assert grant.state == Grant.State.ACTIVE
    assert grant.approved_by == delegate
    assert grant.key_hash == ""  # used: the key is dead
    assert guardian_rows(agency).filter(object_pk=str(account.pk)).exists()
    assert list(policy.delegated_accounts(delegate, agency)) == [account]
    assert policy.account_access(delegate, account).grant == grant
    kinds = [e.kind for e in grant.events.all()]
    assert kinds == [Kind.MADE, Kind.APPROVED]
    assert {e.customer_id for e in AuditEvent.objects.filter(action="grant.approved")} == {
        customer.pk,
        agency.pk,
    }
    # The grantor's owner is told.
    assert [m.to for m in django_mail.outbox] == [["alice@example.com"]]


def test_s7_key_is_single_use(pending, delegate):
    """S7: a used key does not work a second time."""
    grant, key = pending
    assert services.grant_approve(grant=grant, key=key, user=delegate)
    assert not services.grant_approve(grant=grant, key=key, user=delegate)
    assert grant.events.filter(kind=Kind.APPROVED).count() == 1


def test_s7_conditional_update_loses_to_an_earlier_approval(pending, delegate):
    """S7: the one whose UPDATE still sees the row pending wins; a second request that
    read the same pending row (a race) changes nothing."""
    grant, key = pending
    stale = Grant.objects.get(pk=grant.pk)
    assert services.grant_approve(grant=grant, key=key, user=delegate)
    # `stale` still says pending with the hash, as a racing request would have read it.
    assert stale.state == Grant.State.PENDING and stale.key_hash
    assert not services.grant_approve(grant=stale, key=key, user=delegate)


def test_d3_s8_wrong_key_is_recorded_for_both_sides(pending, delegate):
    """D3, D7, S8: a wrong key fails and is recorded in the history and the audit."""
    grant, _key = pending
    assert not services.grant_approve(grant=grant, key="AAAA-BBBB", user=delegate)
    grant.refresh_from_db()
    assert grant.state == Grant.State.PENDING
    assert grant.events.filter(kind=Kind.WRONG_KEY, actor=delegate).count() == 1
    assert AuditEvent.objects.filter(action="grant.key_failed").count() == 1


def test_d3_key_expires_after_14_days_unused(pending, delegate):
    """D3: a key not used within 14 days no longer works, even before the job runs."""
    grant, key = pending
    with clock(grant.key_expires_at):
        assert not services.grant_approve(grant=grant, key=key, user=delegate)
        assert grant.effective_state() == Grant.State.EXPIRED
    with clock(grant.key_expires_at - timedelta(seconds=1)):
        assert services.grant_approve(grant=grant, key=key, user=delegate)


def test_s8_wrong_keys_are_limited_per_user(settings, pending, delegate):
    """S8: after the limit even the right key is refused, the same way."""
    settings.WRONG_KEY_LIMIT = "3/h"
    grant, key = pending
    for _i in range(3):
        assert not services.grant_approve(grant=grant, key="nope", user=delegate)
    assert not services.grant_approve(grant=grant, key=key, user=delegate)
    grant.refresh_from_db()
    assert grant.state == Grant.State.PENDING
    # An hour later the user may try again.
    with clock(timezone.now() + timedelta(hours=1, minutes=1)):
        assert services.grant_approve(grant=grant, key=key, user=delegate)


def test_s8_wrong_keys_are_limited_per_address(settings, rf, pending, delegate, agency):
    """S8: several users from one address share the limit."""
    settings.WRONG_KEY_LIMIT = "2/h"
    grant, key = pending
    colleague = MembershipFactory(customer=agency, can_manage_delegations=True).user
    request = rf.post("/", REMOTE_ADDR="203.0.113.9")
    for user in (delegate, colleague):
        request.user = user
        assert not services.grant_approve(grant=grant, key="nope", user=user, request=request)
    third = MembershipFactory(customer=agency, can_manage_delegations=True).user
    request.user = third
    assert not services.grant_approve(grant=grant, key=key, user=third, request=request)
    other = rf.post("/", REMOTE_ADDR="203.0.113.10")
    other.user = third
    assert services.grant_approve(grant=grant, key=key, user=third, request=other)


def test_rate_parser():
    assert services._rate("10/h") == (10, timedelta(hours=1))
    assert services._rate("5/15m") == (5, timedelta(minutes=15))
    with pytest.raises(ValueError):
        services._rate("ten per hour")


# --- ending ---------------------------------------------------------------------------


def test_d2_s5_revoke_ends_access_and_removes_guardian_rows(
    grant, owner, delegate, account, agency, django_capture_on_commit_callbacks
):
    """D2, S5: revoking takes effect at once; the agency is told."""
    with django_capture_on_commit_callbacks(execute=True):
        assert services.grant_revoke(grant=grant, actor=owner)
    grant.refresh_from_db()
    assert grant.state == Grant.State.REVOKED
    assert grant.ended_by == owner
    assert policy.account_access(delegate, account) is None
    assert not guardian_rows(agency).exists()
    assert grant.events.filter(kind=Kind.REVOKED).count() == 1
    assert [m.to for m in django_mail.outbox] == [["charlie@example.com"]]
    assert not services.grant_revoke(grant=grant, actor=owner)  # once


def test_d2_revoking_a_pending_grant_kills_its_key(pending, owner, delegate):
    grant, key = pending
    assert services.grant_revoke(grant=grant, actor=owner)
    assert not services.grant_approve(grant=grant, key=key, user=delegate)


def test_d2_hand_back_ends_access_and_tells_the_grantor(
    grant, delegate, account, django_capture_on_commit_callbacks
):
    """D2: the administrator can hand a grant back."""
    with django_capture_on_commit_callbacks(execute=True):
        assert services.grant_hand_back(grant=grant, actor=delegate)
    grant.refresh_from_db()
    assert grant.state == Grant.State.HANDED_BACK
    assert policy.account_access(delegate, account) is None
    assert [m.to for m in django_mail.outbox] == [["alice@example.com"]]
    assert "handed" in django_mail.outbox[0].subject


def test_d4_ending_one_grant_keeps_rows_another_live_grant_needs(
    customer, agency, account, owner, delegate
):
    """Two live grants of the same account: ending one leaves the other working."""
    first = approved_grant(
        grantor=customer, agency=agency, accounts=[account], by=owner, approver=delegate
    )
    second = approved_grant(
        grantor=customer, agency=agency, accounts=[account], by=owner, approver=delegate
    )
    assert services.grant_revoke(grant=first, actor=owner)
    assert policy.account_access(delegate, account).grant == second
    assert services.grant_revoke(grant=second, actor=owner)
    assert policy.account_access(delegate, account) is None


def test_d4_grant_covers_only_its_accounts(grant, customer, delegate):
    """D4: the grantor's other accounts stay out of reach."""
    other = HostingAccountFactory(customer=customer)
    assert policy.account_access(delegate, other) is None


# --- mailing the key ------------------------------------------------------------------


def test_d3_key_mail_goes_to_owners_and_delegation_managers(
    pending, owner, agency, django_capture_on_commit_callbacks
):
    """D3: the key is mailed to the administrator's owners and delegation managers."""
    grant, key = pending
    MembershipFactory(customer=agency, owner=True, user__email="boss@agency.example")
    MembershipFactory(customer=agency, user__email="plain@agency.example")
    MembershipFactory(
        customer=agency, user__email="gone@agency.example", user__inactive=True, owner=True
    )
    MembershipFactory(customer=agency, user__email="charlie2@agency.example").user  # noqa: B018
    with django_capture_on_commit_callbacks(execute=True):
        assert services.grant_key_mail(grant=grant, key=key, actor=owner) == 1
    assert sorted(m.to[0] for m in django_mail.outbox) == ["boss@agency.example"]
    assert key in django_mail.outbox[0].body
    assert grant.events.filter(kind=Kind.KEY_MAILED).count() == 1


def test_d3_key_mail_needs_the_right_key_and_a_pending_grant(pending, owner, delegate):
    grant, key = pending
    with pytest.raises(services.GrantError):
        services.grant_key_mail(grant=grant, key="WRONG", actor=owner)
    services.grant_approve(grant=grant, key=key, user=delegate)
    grant.refresh_from_db()
    with pytest.raises(services.GrantError):
        services.grant_key_mail(grant=grant, key=key, actor=owner)


def test_s7_key_is_blanked_in_the_outbox_once_sent(
    pending, owner, delegate, django_capture_on_commit_callbacks
):
    """S7: the outbox keeps no copy of the key after sending (the periodic job), and no
    copy at all once the key is used (approval)."""
    grant, key = pending
    with django_capture_on_commit_callbacks(execute=True):
        services.grant_key_mail(grant=grant, key=key, actor=owner)
    stored = OutgoingMail.objects.get(kind=f"grant_key:{grant.pk}")
    assert stored.state == OutgoingMail.State.SENT
    assert key in stored.body  # sent moments ago; the job has not run yet
    assert services.key_mails_redact() == 1
    stored.refresh_from_db()
    assert key not in stored.body and services.key_normalise(key) not in stored.body
    assert services.key_mails_redact() == 0  # idempotent
    # A queued copy is blanked as soon as the key dies.
    OutgoingMail.objects.filter(pk=stored.pk).update(
        state=OutgoingMail.State.QUEUED, body=f"key {key}"
    )
    services.grant_approve(grant=grant, key=key, user=delegate)
    stored.refresh_from_db()
    assert key not in stored.body


def test_key_mail_falls_back_to_the_account_address(
    pending, owner, agency, django_capture_on_commit_callbacks
):
    grant, key = pending
    agency.memberships.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.grant_key_mail(grant=grant, key=key, actor=owner) == 1
    assert django_mail.outbox[0].to == [agency.email]


def test_s27_d4_each_audit_trail_names_only_its_own_people(grant, owner, customer, agency):
    """S27: both customers' trails record the revocation; the agency's names the grantor
    customer, never the grantor's user or address (D4)."""
    services.grant_revoke(grant=grant, actor=owner)
    grantor_side = AuditEvent.objects.get(action="grant.revoked", customer=customer)
    agency_side = AuditEvent.objects.get(action="grant.revoked", customer=agency)
    assert grantor_side.actor == owner
    assert agency_side.actor is None and agency_side.ip is None
    assert customer.display_number in agency_side.summary
    assert owner.email not in agency_side.summary + str(agency_side.data)


def test_d3_key_goes_only_to_people_who_manage_delegations_in_that_customer(agency, customer):
    """A user who owns some other customer but is a plain member of the agency gets no
    key mail (the owner test is for the membership in the agency itself)."""
    plain_here = MembershipFactory(customer=agency, user__email="plain@agency.example").user
    MembershipFactory(customer=customer, user=plain_here, owner=True)
    assert plain_here not in policy.delegation_managers(agency)
    assert plain_here in policy.delegation_managers(customer)


def test_d3_key_mail_is_capped_per_grant(pending, owner):
    grant, key = pending
    for _i in range(services.KEY_MAILS_PER_GRANT):
        services.grant_key_mail(grant=grant, key=key, actor=owner)
    with pytest.raises(services.GrantError):
        services.grant_key_mail(grant=grant, key=key, actor=owner)
    assert grant.events.filter(kind=Kind.KEY_MAILED).count() == services.KEY_MAILS_PER_GRANT
