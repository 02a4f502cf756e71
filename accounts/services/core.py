"""Writes for customers, users and sign-in."""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import audit
from accounts.models import (
    BackupCode,
    BackupCodeDevice,
    Customer,
    CustomerGroup,
    HostingAccount,
    Membership,
    NumberSequence,
    User,
    UserSession,
    hash_secret,
)
from portal import mail
from portal.policy import AUTH_AT, LOGIN_AT
from portal.sessions import MODEL_BACKEND

FIRST_CUSTOMER_NUMBER = 100000
BACKUP_CODE_COUNT = 10


# --- customers ---------------------------------------------------------------------


def next_customer_number() -> int:
    """Take the next number from a counter that only goes up (never reused)."""
    with transaction.atomic():
        seq, _created = NumberSequence.objects.select_for_update().get_or_create(
            name="customer", defaults={"last_value": FIRST_CUSTOMER_NUMBER}
        )
        NumberSequence.objects.filter(pk=seq.pk).update(last_value=F("last_value") + 1)
        seq.refresh_from_db()
        return seq.last_value


@transaction.atomic
def customer_create(
    *,
    name: str,
    email: str = "",
    parent: Customer | None = None,
    owner: User | None = None,
    **details,
) -> Customer:
    """A new customer with a number never used before; ``details`` are further Customer
    fields (address, phone, on_collective_invoice)."""
    customer = Customer(
        number=next_customer_number(), name=name, email=email, parent=parent, **details
    )
    customer.full_clean()
    customer.save()
    customer_group_create(customer)
    if owner is not None:
        membership_create(user=owner, customer=customer, is_owner=True)
    return customer


def customer_group_create(customer: Customer) -> CustomerGroup:
    """The django-guardian group through which the customer holds object permissions."""
    group, _created = Group.objects.get_or_create(name=f"customer-{customer.number}")
    link, _created = CustomerGroup.objects.get_or_create(
        customer=customer, defaults={"group": group}
    )
    return link


@transaction.atomic
def membership_create(*, user: User, customer: Customer, is_owner=False, **flags) -> Membership:
    membership = Membership(user=user, customer=customer, is_owner=is_owner, **flags)
    membership.full_clean()
    membership.save()
    return membership


@transaction.atomic
def hosting_account_create(*, customer: Customer, kind: str, name: str, **fields) -> HostingAccount:
    account = HostingAccount(customer=customer, kind=kind, name=name, **fields)
    account.full_clean()
    account.save()
    return account


# --- sign-in -----------------------------------------------------------------------


def complete_login(request, user: User, device=None) -> None:
    """Sign the user in: a new session key (S15), the OTP device if one was used, the
    session recorded so it can be listed and ended, the user's language, the audit."""
    request.session.pop("otp_pending_user", None)
    request.session.pop("otp_pending_at", None)
    # The backend whose sessions portal.sessions.get_user answers from the session's row.
    login(request, user, backend=MODEL_BACKEND)
    if device is not None:
        otp_login(request, device)
    request.session[LOGIN_AT] = time.time()  # also the first proof of who one is
    request.session.pop(AUTH_AT, None)
    request.session.save()
    UserSession.objects.create(
        user=user,
        session_key=request.session.session_key,
        ip=request.META.get("REMOTE_ADDR") or None,
        user_agent=(request.META.get("HTTP_USER_AGENT") or "")[:300],
    )
    User.objects.filter(pk=user.pk).update(last_activity=timezone.now())
    audit("login", request=request, actor=user, summary="two-factor" if device else "password")


def verify_second_factor(user: User, code: str):
    """The device that accepts ``code`` (TOTP first, then a backup code), or None.

    TOTP codes are single use and allow one step of drift; failures throttle the device
    (S13)."""
    code = (code or "").strip().replace(" ", "")
    for device in TOTPDevice.objects.devices_for_user(user, confirmed=True):
        if code.isdigit() and device.verify_token(code):
            return device
    for device in BackupCodeDevice.objects.devices_for_user(user, confirmed=True):
        if device.verify_token(code):
            return device
    return None


def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def totp_start(user: User) -> TOTPDevice:
    """An unconfirmed TOTP device for enrolment; confirmed once the user enters a code."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@transaction.atomic
def totp_confirm(request, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm enrolment with a code from the app; returns fresh backup codes (shown once)."""
    if not device.verify_token(code):
        return None
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = backup_codes_regenerate(user)
    otp_login(request, device)
    rotate_session(request)
    audit("two_factor.enabled", request=request, actor=user)
    return codes


def rotate_session(request) -> None:
    """A new session key for the signed-in session, keeping its server-side record (S15)."""
    old = request.session.session_key
    request.session.cycle_key()
    request.session.save()
    UserSession.objects.filter(session_key=old).update(session_key=request.session.session_key)


def verify_signed_in(request, user: User, code: str) -> bool:
    """The OTP step for a session that is signed in but not yet verified."""
    device = verify_second_factor(user, code)
    if device is None:
        audit("two_factor.failed", request=request, actor=user)
        return False
    otp_login(request, device)
    request.session[AUTH_AT] = time.time()
    rotate_session(request)
    audit("two_factor.verified", request=request, actor=user)
    return True


def confirm_identity(request, user: User, answer: str) -> bool:
    """The step-up before a sensitive change (STYLE: a recent OTP): a code from the
    person's authenticator app or a backup code; the password only for someone without
    two-factor. Success counts as a fresh sign-in for ``settings.RECENT_AUTH_SECONDS``.
    TOTP failures throttle the device (S13); every failure is in the audit trail."""
    if has_two_factor(user):
        device = verify_second_factor(user, answer)
        ok = device is not None
        is_verified = getattr(request.user, "is_verified", None)
        if ok and not (is_verified and is_verified()):
            otp_login(request, device)
    else:
        ok = bool(answer) and user.check_password(answer)
    if not ok:
        audit("reauth.failed", request=request, actor=user)
        return False
    request.session[AUTH_AT] = time.time()
    audit("reauth", request=request, actor=user)
    return True


def backup_codes_regenerate(user: User) -> list[str]:
    """Ten new one-time codes; only their hashes are stored (S13)."""
    device, _created = BackupCodeDevice.objects.get_or_create(
        user=user, defaults={"name": "Backup codes", "confirmed": True}
    )
    device.codes.all().delete()
    codes = []
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    for _i in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(alphabet) for _j in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        BackupCode.objects.create(device=device, code_hash=hash_secret(raw))
    return codes


@transaction.atomic
def two_factor_disable(request, user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    BackupCodeDevice.objects.filter(user=user).delete()
    audit("two_factor.disabled", request=request, actor=user)


def sessions_end_others(request, user: User) -> int:
    """End every session of the user but the current one (S15)."""
    from django.contrib.sessions.models import Session

    keep = request.session.session_key
    keys = list(
        UserSession.objects.filter(user=user)
        .exclude(session_key=keep)
        .values_list("session_key", flat=True)
    )
    Session.objects.filter(session_key__in=keys).delete()
    ended = UserSession.objects.filter(session_key__in=keys).delete()[0]
    audit("sessions.ended", request=request, actor=user, summary=f"{ended} other sessions")
    return ended


def sessions_end_all(user: User) -> None:
    """End every session of a user, e.g. when staff deactivate them (S5)."""
    from django.contrib.sessions.models import Session

    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(user=user).delete()


def set_password_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("accounts:set_password", kwargs={"uidb64": uid, "token": token})


def send_set_password_mail(user: User) -> None:
    """Mail a person whose login staff created a link to choose a password (U5)."""
    mail.queue(
        kind="set_password",
        to=[user.email],
        template="accounts/mail/set_password",
        context={"user": user, "link": settings.PORTAL_BASE_URL + set_password_link(user)},
        language=user.language,
    )
