"""Sessions in the database (S5, S26), read together with their ``UserSession`` row, its
user and the user's confirmed two-factor devices.

Every signed-in request reads the session, then the user (``AuthenticationMiddleware``),
the two-factor device the session was verified with (``OTPMiddleware``) and the
``UserSession`` row that says the session was not ended elsewhere
(``SessionGuardMiddleware``, S5, S15). All are found from the session key, so the store
reads them in one query: three round trips less on every page of a signed-in person with
two-factor (make bench). Authentication, two-factor and the guard still decide on what the
database holds at this request; nothing is kept across requests.
"""

import datetime
import logging

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthMiddleware
from django.contrib.sessions.backends import db
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import middleware as django_otp_middleware

from portal.prepared import PreparedQuery

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _device_models():
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import BackupCodeDevice

    return {"otp_totp_id": TOTPDevice, "otp_backup_id": BackupCodeDevice}


def _confirmed_devices() -> dict:
    """A confirmed device of each kind of the session's user, as annotations."""
    return {
        name: Subquery(
            model.objects.filter(user_id=OuterRef("user_id"), confirmed=True)
            .order_by("pk")
            .values("pk")[:1]
        )
        for name, model in _device_models().items()
    }


def _session_rows(key, now):
    """The ``UserSession`` row of session ``key`` with its user, the session's data while
    it has not expired at ``now``, and the user's confirmed devices."""
    from django.contrib.sessions.models import Session

    from accounts.models import UserSession

    session = Session.objects.filter(session_key=OuterRef("session_key"), expire_date__gt=now)
    return (
        UserSession.objects.select_related("user")
        .annotate(
            session_data=Subquery(session.values("session_data")[:1]),
            **_confirmed_devices(),
        )
        .filter(session_key=key)[:1]  # unique
    )


# Compiled once per process: building and compiling the query cost five times what
# running it does, on every signed-in request (make bench).
_SESSION_ROW = PreparedQuery(_session_rows, key=str, now=datetime.datetime)


class _Row:
    """What ``load`` needs of a session row."""

    def __init__(self, session_data):
        self.session_data = session_data


class SessionStore(db.SessionStore):
    # For the session key it was read for: the UserSession row with its user, or None
    # when there is none. None before the session was read.
    _guard = None

    def _get_session_from_db(self):
        key = self.session_key
        self._guard = None
        try:
            rows = _SESSION_ROW(key=key, now=timezone.now())
            row = rows[0] if rows else None
            if row is None:
                # Not signed in (yet): the sign-in and two-factor steps, a chosen language.
                found = super()._get_session_from_db()
                if found is not None:
                    self._guard = (key, None)
                return found
            if row.session_data is None:  # the row outlived its session
                self._session_key = None
                return None
        except SuspiciousOperation as e:  # as Django's store does
            logging.getLogger(f"django.security.{e.__class__.__name__}").warning(str(e))
            self._session_key = None
            return None
        self._guard = (key, row)
        return _Row(row.session_data)

    def guard_row(self):
        """(known, row): whether the current session's ``UserSession`` row was read with
        the session, and the row with its user (None: there is none). Not known after the
        key changed (sign-in, the two-factor step) or before the session was read."""
        if self._guard is None or self._guard[0] != self.session_key:
            return False, None
        return True, self._guard[1]


def guard_row(session):
    """``SessionStore.guard_row`` of any session: not known for another store."""
    read = getattr(session, "guard_row", None)
    return read() if read is not None else (False, None)


def get_user(request):
    """``django.contrib.auth.get_user`` with the user the store read with the session.

    Only the plain case is answered here: the session belongs to that row's user, signed
    in with the model backend, who may still sign in (``user_can_authenticate``: active)
    and whose password hash matches the session's. Everything else — another backend, an
    inactive user, a hash that only a fallback secret verifies or none does — goes to
    Django's own ``get_user``, which reads the user again and rotates or ends the session
    as it always does."""
    session = request.session
    try:
        # Reading the session first: that reads the row too.
        session_user = session[SESSION_KEY]
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return auth.get_user(request)
    known, row = guard_row(session)
    if not known or row is None:
        return auth.get_user(request)
    user = row.user
    try:
        user_id = user._meta.pk.to_python(session_user)
    except ValidationError:
        return auth.get_user(request)
    if user_id != user.pk or backend_path != MODEL_BACKEND:
        return auth.get_user(request)
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return auth.get_user(request)
    if not auth.load_backend(backend_path).user_can_authenticate(user):
        return auth.get_user(request)
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash or not constant_time_compare(session_hash, user.get_session_auth_hash()):
        return auth.get_user(request)
    return user


def verified_device(request, user, persistent_id: str):
    """The two-factor device the session was verified with, if the store read it as a
    confirmed device of ``user`` at this request; None when it did not (then django-otp
    looks it up itself). The device is loaded only when something uses more of it than
    that it is there (``is_verified``)."""
    known, row = guard_row(request.session)
    if not known or row is None or row.user_id != user.pk:
        return None
    for name, model in _device_models().items():
        pk = getattr(row, name, None)
        if pk is not None and persistent_id == f"{model.model_label()}/{pk}":
            return SimpleLazyObject(lambda model=model, pk=pk: model.objects.get(pk=pk))
    return None


class OTPMiddleware(django_otp_middleware.OTPMiddleware):
    """django-otp's, taking the device the session store read where it could."""

    def _verify_user_sync(self, request, user):
        self._init_user_fields(user)
        if user.is_authenticated:
            persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
            if persistent_id:
                persistent_id = self._normalize_persistent_id(persistent_id)
                device = verified_device(request, user, persistent_id)
                if device is not None:
                    user.otp_device = device  # confirmed and the user's: checked above
                    return user
            device = self._device_from_persistent_id(persistent_id) if persistent_id else None
            user.otp_device = self._finalize_device(request, user, device)
        return user


class AuthenticationMiddleware(DjangoAuthMiddleware):
    """Django's, with ``request.user`` from :func:`get_user`."""

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _cached_user(request))


def _cached_user(request):
    if not hasattr(request, "_cached_user"):
        request._cached_user = get_user(request)
    return request._cached_user
