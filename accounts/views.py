"""Sign-in with two-factor, enrolment, backup codes, password reset, sessions."""

import time

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_ratelimit.core import get_usage

from accounts import services
from accounts.audit import audit
from accounts.forms import (
    ConfirmIdentityForm,
    EmailAuthenticationForm,
    PasswordCheckForm,
    PortalPasswordResetForm,
    TokenForm,
    TwoFactorSetupForm,
)
from accounts.models import User, UserSession
from portal import policy

PENDING_SECONDS = 300


def _safe_next(request, default="portal:home"):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(default)


def lockout(request, credentials, *args, **kwargs):
    """What django-axes answers once an account and address pair is locked (S12)."""
    return render(
        request,
        "accounts/login.html",
        {"form": EmailAuthenticationForm(request), "locked": True},
        status=429,
    )


@sensitive_post_parameters()
@csrf_protect
@never_cache
def login_view(request):
    """Step one: e-mail and password. With two-factor set up, step two asks for a code;
    the password is never kept in the session between steps (S14)."""
    if request.user.is_authenticated:
        return redirect(_safe_next(request))
    form = EmailAuthenticationForm(request, data=request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            user = form.get_user()
            if services.has_two_factor(user):
                request.session.cycle_key()
                request.session["otp_pending_user"] = user.pk
                request.session["otp_pending_at"] = time.time()
                url = reverse("accounts:otp_verify")
                nxt = request.POST.get("next")
                return redirect(f"{url}?next={nxt}" if nxt else url)
            services.complete_login(request, user)
            return redirect(_safe_next(request))
        audit("login.failed", request=request, summary=str(form.data.get("username", ""))[:100])
    return render(request, "accounts/login.html", {"form": form, "next": request.GET.get("next")})


def _pending_user(request):
    user_id = request.session.get("otp_pending_user")
    started = request.session.get("otp_pending_at") or 0
    if not user_id or time.time() - started > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=user_id, status=User.Status.ACTIVE).first()


@sensitive_post_parameters()
@never_cache
def otp_verify(request):
    """Step two of sign-in, or a later check where a customer requires two-factor."""
    signed_in = request.user.is_authenticated
    user = request.user if signed_in else _pending_user(request)
    if user is None:
        messages.info(request, _("Please sign in again."))
        return redirect("accounts:login")
    if signed_in and request.user.is_verified():
        return redirect(_safe_next(request))
    if signed_in and not services.has_two_factor(user):
        return redirect("accounts:two_factor_setup")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if signed_in:
            if services.verify_signed_in(request, user, form.cleaned_data["code"]):
                return redirect(_safe_next(request))
        else:
            device = services.verify_second_factor(user, form.cleaned_data["code"])
            if device is not None:
                services.complete_login(request, user, device)
                return redirect(_safe_next(request))
            audit("two_factor.failed", request=request, actor=user)
        form.add_error("code", _("That code is not valid. Codes work once; wait for a new one."))
    return render(request, "accounts/otp_verify.html", {"form": form})


def _wrong_confirmations(request, *, increment: bool = False):
    """The person's wrong answers on the step-up page, at the rate of wrong keys (S13)."""
    return get_usage(
        request,
        group="confirm-identity",
        key="user",
        rate=settings.WRONG_KEY_LIMIT,
        increment=increment,
    )


@login_required
@sensitive_post_parameters()
@never_cache
def confirm_identity(request):
    """Confirm it is you before a sensitive change (delegations, two-factor, users): a
    code from the authenticator app or a backup code; the password only for someone
    without two-factor. Tries are limited per person; then back to ``next``."""
    with_code = services.has_two_factor(request.user)
    form = ConfirmIdentityForm(request.POST or None, with_code=with_code)
    if request.method == "POST" and form.is_valid():
        usage = _wrong_confirmations(request)
        if usage is not None and usage["count"] >= usage["limit"]:
            form.add_error(None, _("Too many wrong tries. Wait a while, then try again."))
        elif services.confirm_identity(request, request.user, form.cleaned_data["answer"]):
            return redirect(_safe_next(request))
        else:
            _wrong_confirmations(request, increment=True)
            form.add_error(
                "answer",
                _("That code is not valid. Codes work once; wait for a new one.")
                if with_code
                else _("That is not your current password."),
            )
    return render(
        request,
        "accounts/confirm_identity.html",
        {"form": form, "with_code": with_code, "next": request.GET.get("next", "")},
    )


@login_required
@sensitive_post_parameters()
@never_cache
def two_factor_setup(request):
    """Enrol an authenticator app: QR code, a code to confirm, then backup codes shown once.

    Sent here because a customer requires two-factor (U1), e.g. before accepting an
    invitation, the person continues there afterwards (``next``)."""
    if services.has_two_factor(request.user):
        policy.require_recent_auth(request)  # replacing the app that signs this person in
    next_url = request.GET.get("next")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        request.session["after_two_factor"] = next_url
    device = None
    device_id = request.session.get("totp_setup_device")
    if device_id:
        device = TOTPDevice.objects.filter(pk=device_id, user=request.user, confirmed=False).first()
    if device is None:
        device = services.totp_start(request.user)
        request.session["totp_setup_device"] = device.pk
    form = TwoFactorSetupForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        codes = services.totp_confirm(request, request.user, device, form.cleaned_data["code"])
        if codes is not None:
            request.session.pop("totp_setup_device", None)
            request.no_store = True
            return render(
                request,
                "accounts/backup_codes.html",
                {
                    "codes": codes,
                    "fresh": True,
                    "next": request.session.pop("after_two_factor", None),
                },
            )
        form.add_error(
            "code", _("That code is not valid. Check the time on your phone and try again.")
        )
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "qr_svg": qr.svg_inline(scale=5, title=_("QR code for your authenticator app")),
            "secret": _base32(device),
            "has_two_factor": services.has_two_factor(request.user),
        },
    )


def _base32(device) -> str:
    import base64

    return base64.b32encode(device.bin_key).decode()


@login_required
@sensitive_post_parameters()
@never_cache
def backup_codes(request):
    """New backup codes replace the old ones; asks for the password again (S15)."""
    policy.require_recent_auth(request)
    form = PasswordCheckForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        codes = services.backup_codes_regenerate(request.user)
        audit("two_factor.backup_codes", request=request)
        return render(request, "accounts/backup_codes.html", {"codes": codes, "fresh": True})
    return render(request, "accounts/backup_codes.html", {"form": form})


@login_required
@sensitive_post_parameters()
def two_factor_disable(request):
    policy.require_recent_auth(request)
    form = PasswordCheckForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.two_factor_disable(request, request.user)
        messages.success(request, _("Two-factor sign-in is switched off."))
        return redirect("accounts:security")
    return render(request, "accounts/two_factor_disable.html", {"form": form})


@login_required
def security(request):
    """The user's sign-in settings: two-factor, backup codes, sessions."""
    sessions = UserSession.objects.filter(user=request.user).order_by("-last_seen")[:50]
    return render(
        request,
        "accounts/security.html",
        {
            "has_two_factor": services.has_two_factor(request.user),
            "sessions": sessions,
            "current_key": request.session.session_key,
        },
    )


@login_required
@require_POST
def sessions_end_others(request):
    ended = services.sessions_end_others(request, request.user)
    messages.success(request, _("%(n)s other sessions were ended.") % {"n": ended})
    return redirect("accounts:security")


@require_POST
def logout_view(request):
    """Sign out: the session is deleted server-side (S15)."""
    if request.user.is_authenticated:
        UserSession.objects.filter(session_key=request.session.session_key).delete()
        audit("logout", request=request)
    logout(request)
    return redirect(settings.LOGOUT_REDIRECT_URL)


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PortalPasswordResetForm
    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_done")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choosing a new password never signs in: two-factor still comes first (S14)."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")
    post_reset_login = False

    def dispatch(self, *args, **kwargs):
        response = super().dispatch(*args, **kwargs)
        response["Referrer-Policy"] = "same-origin"
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        from accounts.services import sessions_end_all

        sessions_end_all(form.user)
        audit("password.reset", actor=form.user, request=self.request)
        return response


class SetPasswordView(PasswordResetConfirmView):
    """The link staff-created logins get to choose their first password (U5)."""

    template_name = "accounts/set_password.html"
    reset_url_token = "choose-password"  # noqa: S105 - a URL segment, not a secret


def health(request):
    return HttpResponse("ok", content_type="text/plain")
