"""S27: the audit trail is append-only in the database itself, complete for the listed
events, never holds a token, and is readable by the customer (its own) and staff (all)."""

import re

import pytest
from django.core import mail
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit
from accounts.models import AuditEvent
from tests.factories import PASSWORD, MembershipFactory, TOTPDeviceFactory, UserFactory
from tests.helpers import sign_in, totp_code

pytestmark = [pytest.mark.security, pytest.mark.django_db]


def needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the append-only trigger exists on PostgreSQL (make test, make security)")


def refused(sql, params=()):
    """Runs ``sql`` in a savepoint; True when the database refused it."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as exc:
        return "append-only" in str(exc)
    return False


def test_s27_direct_update_and_delete_are_refused_by_the_database(db):
    """S27: append-only in the database itself: a direct UPDATE or DELETE through a raw
    cursor is refused by a trigger, whoever sends it; INSERT still works."""
    needs_postgresql()
    event = audit("test.event", summary="original")
    table = AuditEvent._meta.db_table
    assert refused(f"UPDATE {table} SET summary = 'forged' WHERE id = %s", [event.pk])  # noqa: S608
    assert refused(f"DELETE FROM {table} WHERE id = %s", [event.pk])  # noqa: S608
    assert refused(f"UPDATE {table} SET summary = 'forged'")  # noqa: S608
    event.refresh_from_db()
    assert event.summary == "original"
    audit("test.second")
    assert AuditEvent.objects.count() == 2


def test_s27_orm_update_delete_and_save_are_refused(db):
    """S27: the ORM cannot rewrite history either (queryset update/delete, save of a row)."""
    needs_postgresql()
    event = audit("test.event", summary="original")
    for attempt in (
        lambda: AuditEvent.objects.filter(pk=event.pk).update(summary="forged"),
        lambda: AuditEvent.objects.filter(pk=event.pk).delete(),
        lambda: AuditEvent(pk=event.pk, action="x", at=event.at).save(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert AuditEvent.objects.get(pk=event.pk).summary == "original"


def test_s27_admin_shows_the_trail_read_only(db):
    """S27: staff read every customer's events in the admin, and cannot add, change or
    delete one there."""
    staff = UserFactory(staff=True)
    client = sign_in(Client(), staff, TOTPDeviceFactory(user=staff))
    a = MembershipFactory(owner=True).customer
    b = MembershipFactory(owner=True).customer
    first = audit("test.alpha", customer=a, summary="alpha-event")
    audit("test.beta", customer=b, summary="beta-event")
    listing = client.get(reverse("admin:accounts_auditevent_changelist"))
    assert listing.status_code == 200
    assert b"alpha-event" in listing.content and b"beta-event" in listing.content
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    delete = reverse("admin:accounts_auditevent_delete", args=[first.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=first.pk).exists()


# --- completeness: each listed event, produced by the real flow ------------------------


def login(client, email, password=PASSWORD):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def test_s27_sign_in_and_failure_are_recorded_with_who_where_when(db):
    """S27: a sign-in and a failed sign-in are recorded: who, when (UTC), from which IP and
    which request."""
    user = MembershipFactory(owner=True).user
    client = Client(REMOTE_ADDR="203.0.113.7")
    login(client, user.email, "not-the-password")
    login(client, user.email)
    failed = AuditEvent.objects.filter(action="login.failed").first()
    assert failed is not None and failed.ip == "203.0.113.7"
    assert user.email in failed.summary
    ok = AuditEvent.objects.get(action="login", actor=user)
    assert ok.ip == "203.0.113.7"
    assert ok.request_id and re.fullmatch(r"[0-9a-f]{32}", ok.request_id)
    assert ok.at.utcoffset() == timezone.timedelta(0)
    assert timezone.now() - ok.at < timezone.timedelta(minutes=1)


def test_s27_two_factor_changes_are_recorded(db):
    """S27: enrolling two-factor, new backup codes, switching it off, a wrong code."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = MembershipFactory(owner=True).user
    client = sign_in(Client(), user)
    client.get(reverse("accounts:two_factor_setup"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    client.post(
        reverse("accounts:two_factor_setup"), {"password": PASSWORD, "code": totp_code(device)}
    )
    client.post(reverse("accounts:backup_codes"), {"password": PASSWORD})
    client.post(reverse("accounts:two_factor_disable"), {"password": PASSWORD})
    other = Client()
    device = TOTPDeviceFactory(user=user)
    login(other, user.email)
    other.post(reverse("accounts:otp_verify"), {"code": "000000"})
    actions = set(AuditEvent.objects.filter(actor=user).values_list("action", flat=True))
    assert {
        "two_factor.enabled",
        "two_factor.backup_codes",
        "two_factor.disabled",
        "two_factor.failed",
    } <= actions


def test_s27_a_denied_request_is_recorded_for_the_customer(db):
    """S27: denials: a 403 is recorded centrally (portal middleware) with the actor, the
    view and, where the user can see it, the customer, so that its own trail shows it."""
    from tests.factories import HostingAccountFactory

    membership = MembershipFactory(can_view_products=False)
    account = HostingAccountFactory(customer=membership.customer)
    client = sign_in(Client(), membership.user)
    url = reverse("portal:account_detail", args=[membership.customer.number, account.pk])
    assert client.get(url).status_code == 403
    event = AuditEvent.objects.get(action="access.denied")
    assert event.actor == membership.user
    assert event.customer == membership.customer
    assert event.data["view"] == "portal:account_detail"
    assert str(account.pk) not in event.summary or "account_detail" in event.summary


def test_s27_a_404_for_another_tenant_writes_nothing_into_its_trail(db):
    """S27, S1: probing another tenant's number leaves no event in that tenant's trail
    (nothing tells a tenant about requests that never reached it)."""
    membership = MembershipFactory(owner=True)
    other = MembershipFactory(owner=True).customer
    client = sign_in(Client(), membership.user)
    assert client.get(reverse("portal:dashboard", args=[other.number])).status_code == 404
    assert not AuditEvent.objects.filter(customer=other).exists()


# --- never a token ----------------------------------------------------------------------


def all_audit_text() -> str:
    rows = AuditEvent.objects.values_list("summary", "data", "action")
    return "\n".join(f"{s} {d} {a}" for s, d, a in rows)


def test_s27_no_token_password_or_code_reaches_the_trail(db, django_capture_on_commit_callbacks):
    """S27, S11: after sign-in with password and TOTP, backup codes, a password reset and a
    set-password link, no password, code, or token is found in any audit event."""
    from accounts.services import backup_codes_regenerate, send_set_password_mail

    user = MembershipFactory(owner=True).user
    device = TOTPDeviceFactory(user=user)
    secrets = [PASSWORD]
    client = Client()
    login(client, user.email)
    code = totp_code(device)
    secrets.append(code)
    client.post(reverse("accounts:otp_verify"), {"code": code})
    codes = backup_codes_regenerate(user)
    secrets += codes + [c.replace("-", "") for c in codes]
    other = Client()
    login(other, user.email)
    other.post(reverse("accounts:otp_verify"), {"code": codes[0]})
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(reverse("accounts:password_reset"), {"email": user.email})
        send_set_password_mail(user)
    for message in mail.outbox:
        for match in re.finditer(r"/password/(?:reset|set)/([^/\s]+)/([^/\s]+)/", message.body):
            secrets += [match.group(2)]
    reset = next(m for m in mail.outbox if "/password/reset/" in m.body)
    path = re.search(r"https?://[^/]+(/password/reset/\S+)", reset.body).group(1)
    resetting = Client()
    follow = resetting.get(path, follow=True)
    new_password = "An0ther-secret-passw0rd"
    secrets.append(new_password)
    resetting.post(
        follow.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )
    assert AuditEvent.objects.filter(action="password.reset").exists()
    text = all_audit_text()
    found = [s for s in secrets if s and s in text]
    assert len(secrets) > 15
    assert not found, f"secrets in the audit trail: {found}"


def test_s27_invitations_memberships_authorisations_and_grants_are_recorded(
    django_capture_on_commit_callbacks,
):
    """S27: each listed event, produced by its service, is in the trail of the customer it
    concerns, with the person who did it: invitations (sent, accepted, cancelled),
    memberships (changed, removed), contacts' authorisations (given, taken), grants (made,
    key mailed, wrong key, approved, revoked). No invitation token or grant key in it."""
    from accounts.services import invitations, members
    from contacts import services as contacts
    from delegation import services as delegation
    from tests.contacts.factories import ContactFactory
    from tests.factories import CustomerFactory, HostingAccountFactory

    owner_membership = MembershipFactory(owner=True)
    owner, customer = owner_membership.user, owner_membership.customer
    invitee = UserFactory(email="invitee@audit.example")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitations.invitation_create(
            customer=customer, email=invitee.email, permissions={"can_view_products": True},
            by=owner,
        )  # fmt: skip
        membership = invitations.invitation_accept(invitation=invitation, user=invitee)
        members.membership_update(membership=membership, changes={"can_manage_contacts": True},
                                  by=owner)  # fmt: skip
        members.membership_remove(membership=membership, by=owner)
        second = invitations.invitation_create(
            customer=customer, email="second@audit.example", permissions={}, by=owner
        )
        invitations.invitation_cancel(invitation=second, by=owner)
        contact = ContactFactory(customer=customer)
        contacts.contact_update(contact=contact, actor=owner, is_authorised=True, by_staff=True)
        contact.refresh_from_db()
        contacts.contact_update(contact=contact, actor=owner, is_authorised=False, by_staff=True)
        agency = CustomerFactory()
        delegate = MembershipFactory(customer=agency, can_manage_delegations=True).user
        account = HostingAccountFactory(customer=customer)
        grant, key = delegation.grant_create(grantor=customer, agency=agency, accounts=[account],
                                             ends_at=None, created_by=owner)  # fmt: skip
        delegation.grant_key_mail(grant=grant, key=key, actor=owner)
        delegation.grant_approve(grant=grant, key="WRONG-KEY-1234", user=delegate)
        assert delegation.grant_approve(grant=grant, key=key, user=delegate)
        delegation.grant_revoke(grant=grant, actor=owner)
    events = AuditEvent.objects.filter(customer=customer)
    wanted = {
        "invitation.created": owner, "invitation.accepted": invitee,
        "invitation.cancelled": owner, "membership.changed": owner,
        "membership.removed": owner, "contact.authorised": owner,
        "contact.unauthorised": owner, "grant.created": owner, "grant.key_mailed": owner,
        "grant.revoked": owner,
    }  # fmt: skip
    missing = [a for a, who in wanted.items() if not events.filter(action=a, actor=who).exists()]
    assert not missing, f"not recorded for the customer: {missing}"
    agency_events = set(AuditEvent.objects.filter(customer=agency).values_list("action", flat=True))
    assert {"grant.approved", "grant.key_failed"} <= agency_events | set(
        events.values_list("action", flat=True)
    )
    tokens = [key, key.replace("-", "")]
    for message in mail.outbox:
        tokens += re.findall(r"#([A-Za-z0-9_\-]{20,})", message.body)
    assert len(tokens) >= 4
    text = all_audit_text()
    assert not [t for t in tokens if t in text], "a token or key in the audit trail"


def test_s27_customer_reads_its_own_trail_only(db):
    """S27: the customer's Activity page shows its own events and never another's."""
    mine = MembershipFactory(owner=True)
    theirs = MembershipFactory(owner=True)
    audit("test.mine", customer=mine.customer, summary="mine-event-text")
    audit("test.theirs", customer=theirs.customer, summary="theirs-event-text")
    audit("test.nobody", summary="global-event-text")
    client = sign_in(Client(), mine.user)
    page = client.get(reverse("accounts:audit_log", args=[mine.customer.number]))
    assert page.status_code == 200
    assert b"mine-event-text" in page.content
    assert b"theirs-event-text" not in page.content and b"global-event-text" not in page.content
    other = client.get(reverse("accounts:audit_log", args=[theirs.customer.number]))
    assert other.status_code == 404
