"""Request guards: session lifetime and revocation (S5, S15), no-store on signed-in pages
(S16), the redirect to two-factor where a customer requires it (U1), the audit of
denied requests (S27), and the signed-in person's own language."""

import time
import uuid
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import LazyObject, empty
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.models import Customer, User, UserSession
from portal import policy
from portal.policy import LOGIN_AT, RecentAuthRequired, TwoFactorRequired
from portal.sessions import guard_row

# A language chosen before signing in (on the sign-in page), kept in the session until
# the person is known.
LANGUAGE_CHOSEN = "portal_language_chosen"


class SessionGuardMiddleware:
    """Ends a session that was revoked server-side, is past its absolute lifetime, or whose
    user may no longer sign in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = uuid.uuid4().hex
        user = getattr(request, "user", None)
        if user is not None:
            # The user itself from here on: Django's and django-otp's middleware each
            # wrap it in a lazy object, and every attribute read through the two cost
            # about 3 µs (a list page reads some a hundred times, make bench). It is read
            # on every request anyway, just below.
            user = request.user = unwrapped(user)
            if user.is_authenticated and not self._still_valid(request, user):
                logout(request)
                return redirect(settings.LOGIN_URL)
        return self.get_response(request)

    def _still_valid(self, request, user) -> bool:
        if not user.is_active:
            return False
        started = request.session.get(LOGIN_AT)
        if started is None or time.time() - started > settings.SESSION_ABSOLUTE_SECONDS:
            return False
        now = timezone.now()
        row = _user_session(request)
        if row is None or row.user_id != user.pk:
            return False
        idle = (now - row.last_seen).total_seconds()
        if idle > settings.SESSION_IDLE_SECONDS:
            UserSession.objects.filter(pk=row.pk).delete()
            return False
        if idle > 60:
            UserSession.objects.filter(pk=row.pk).update(last_seen=now)
        return True

    def process_exception(self, request, exception):
        if isinstance(exception, TwoFactorRequired):
            user = request.user
            has_device = any(True for _ in _confirmed_devices(user))
            target = "accounts:otp_verify" if has_device else "accounts:two_factor_setup"
            return redirect(f"{reverse(target)}?next={request.path}")
        if isinstance(exception, RecentAuthRequired):
            return _confirm_identity_first(request)
        if isinstance(exception, PermissionDenied):
            record_denial(request)
        return None


def unwrapped(value):
    """What ``value`` stands for, through any lazy objects around it (evaluated here)."""
    while isinstance(value, LazyObject):
        if value._wrapped is empty:
            value._setup()
        value = value._wrapped
    return value


def _user_session(request):
    """The session's ``UserSession`` row: as read with the session where the store did
    (portal.sessions), else looked up."""
    known, row = guard_row(request.session)
    if known:
        return row
    return (
        UserSession.objects.filter(session_key=request.session.session_key)
        .only("user_id", "last_seen")
        .first()
    )


def _confirm_identity_first(request):
    """To the step-up page, then back: to this page for a GET; for a POST (its data is not
    kept) to the page the form was on, where the person sends it again."""
    target = request.get_full_path()
    if request.method != "GET":
        referer = request.META.get("HTTP_REFERER", "")
        if referer and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            parts = urlsplit(referer)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            target = reverse("portal:home")
        messages.info(request, _("Please confirm it is you, then do it again."))
    return redirect(f"{reverse('accounts:confirm_identity')}?{urlencode({'next': target})}")


def record_denial(request) -> None:
    """Every 403 a view answers goes into the audit trail (S27): who, what and where.

    The customer is the one the policy resolved for this request (the user can see it, or
    the answer would have been a 404), so its own trail shows the attempt."""
    match = getattr(request, "resolver_match", None)
    view = match.view_name if match is not None else ""
    customer = None
    access = getattr(request, "access", None)
    if access is not None:
        customer = access.customer
    elif match is not None and isinstance(match.kwargs.get("customer"), int):
        found = Customer.objects.filter(number=match.kwargs["customer"]).first()
        # Only into the trail of a customer the user can see: never tell a tenant about
        # requests it was not asked about.
        if found is not None and policy.customer_access(request.user, found) is not None:
            customer = found
    # The view's name, never the path: a path may carry a token (S11).
    audit(
        "access.denied",
        request=request,
        customer=customer,
        summary=f"{request.method} {view}",
        view=view,
        method=request.method,
    )


def _confirmed_devices(user):
    from django_otp import devices_for_user

    return devices_for_user(user, confirmed=True)


class NoStoreMiddleware:
    """Signed-in pages and token pages are never cached by browsers or proxies (S16, S11)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or getattr(request, "no_store", False):
            response["Cache-Control"] = "no-store"
        return response


class UserLanguageMiddleware:
    """Signed-in people get the portal in their own language (``User.language``) on every
    request and every device; LocaleMiddleware before it only knows the cookie and the
    browser. A language picked on the sign-in page becomes the person's choice once they
    are signed in. The language cookie follows, so that the sign-in page after signing out
    speaks the same language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in:
            chosen = request.session.pop(LANGUAGE_CHOSEN, None)
            if chosen and chosen != user.language and check_for_language(chosen):
                User.objects.filter(pk=user.pk).update(language=chosen)
                user.language = chosen
            if user.language and check_for_language(user.language):
                translation.activate(user.language)
                request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        if (
            signed_in
            and user.language
            and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != user.language
            and check_for_language(user.language)
        ):
            set_language_cookie(response, user.language)
        return response


def set_language_cookie(response, language: str) -> None:
    """The language cookie as django.views.i18n.set_language sets it."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
