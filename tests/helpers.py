"""Shared test helpers: signing a test client in the way the portal does, codes, grants."""

import time

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from guardian.shortcuts import assign_perm

from accounts.models import UserSession
from accounts.services import LOGIN_AT
from delegation.models import Grant
from portal.policy import MANAGE_ACCOUNT_PERM, customer_group


def sign_in(client, user, device=None):
    """Sign ``client`` in as ``user`` (optionally verified with an OTP ``device``), with the
    server-side session record the session guard expects."""
    session = client.session
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session[LOGIN_AT] = time.time()
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    UserSession.objects.get_or_create(user=user, session_key=session.session_key)
    return client


def totp_code(device, offset=0) -> str:
    """The device's TOTP code now (``offset`` steps later for a second code)."""
    code = totp(device.bin_key, device.step, device.t0, device.digits, drift=offset)
    return str(code).zfill(device.digits)


def activate_grant(grant: Grant, accounts, ends_at=None) -> Grant:
    """Make a grant live as approving it does: state, accounts and guardian rows."""
    grant.accounts.set(accounts)
    grant.state = Grant.State.ACTIVE
    grant.approved_at = timezone.now()
    grant.ends_at = ends_at
    grant.save()
    group = customer_group(grant.agency)
    for account in accounts:
        assign_perm(MANAGE_ACCOUNT_PERM, group, account)
    return grant
