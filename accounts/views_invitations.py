"""Opening and accepting an invitation (U2, S9, S11, S12).

The link in the mail carries the token in its fragment, which browsers never send: it
never reaches an access log or a Referer header (S11). A small script puts it into the
form (or the person pastes the code from the mail), and posting it keeps only the
token's hash in the session. Accepting is then a POST by the signed-in person whose
address was invited; where the customer requires two-factor, that comes first (S9).
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import get_usage

from accounts import services
from accounts.audit import audit
from accounts.forms import InvitationTokenForm, NewLoginForm
from portal import policy

SESSION_KEY = "invitation_token_hash"


def _token_page(response):
    """Token pages: no Referer beyond the portal, never cached (S11)."""
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response


def _user_or_ip(group, request):
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def _too_many_failures(request, *, increment: bool = False) -> bool:
    """Wrong invitation links are limited per IP address and per user, at the rate of
    wrong grant keys (S8): once the limit is reached, every link is refused for a while."""
    limited = False
    for group, key in (("invitation-token", "ip"), ("invitation-token-user", _user_or_ip)):
        usage = get_usage(
            request, group=group, key=key, rate=settings.WRONG_KEY_LIMIT, increment=increment
        )
        limited = limited or (usage is not None and usage["count"] >= usage["limit"])
    return limited


def _not_valid(request, status=404):
    """Every failure looks the same: unknown, used, cancelled, expired (S8)."""
    return _token_page(render(request, "accounts/invitation_invalid.html", status=status))


@login_not_required
@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def invitation_open(request):
    """The page the mailed link opens. GET shows the form (a mail scanner fetching the link
    changes nothing, S10); POST with the token looks the invitation up."""
    request.no_store = True
    if _too_many_failures(request):
        return _token_page(render(request, "429.html", status=429))
    form = InvitationTokenForm(request.POST or None)
    if request.method == "POST":
        invitation = services.invitation_by_token(
            form.cleaned_data["token"] if form.is_valid() else ""
        )
        if invitation is None:
            _too_many_failures(request, increment=True)
            audit("invitation.link_failed", request=request)
            return _not_valid(request)
        request.session[SESSION_KEY] = invitation.token_hash
        return _token_page(redirect("accounts:invitation_accept"))
    return _token_page(render(request, "accounts/invitation_open.html", {"form": form}))


def _mask(email: str) -> str:
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}…@{domain}"


@login_not_required
@never_cache
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def invitation_accept(request):
    """What the invitation offers and how to accept it.

    Signed out: sign in with an existing login, or choose one for the invited address
    (the page looks the same whether or not it has a login, S12). Signed in as the invited
    address: accept with a POST. Signed in as someone else: told to sign in as the invited
    address.
    """
    request.no_store = True
    invitation = services.invitation_by_hash(request.session.get(SESSION_KEY))
    if invitation is None:
        return _not_valid(request)
    customer = invitation.customer
    accept_url = reverse("accounts:invitation_accept")
    context = {
        "invitation": invitation,
        "invited_customer": customer,
        "needs_two_factor": policy.requires_two_factor(customer),
        "login_url": f"{reverse('accounts:login')}?next={accept_url}",
    }
    user = request.user
    if not user.is_authenticated:
        form = NewLoginForm(request.POST or None, email=invitation.email)
        if request.method == "POST" and form.is_valid():
            services.invitation_signup(
                invitation=invitation,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                password=form.cleaned_data["password1"],
                language=get_language() or settings.LANGUAGE_CODE,
            )
            messages.info(
                request,
                _(
                    "Now sign in with %(email)s and your password to accept the invitation. "
                    "If this address already had a login, its password stays as it was: we "
                    "have sent a mail about it."
                )
                % {"email": invitation.email},
            )
            return redirect(context["login_url"])
        context.update(form=form, mode="signed_out")
        return _token_page(render(request, "accounts/invitation_accept.html", context))
    if user.email.lower() != invitation.email.lower():
        context.update(mode="wrong_address", masked_email=_mask(invitation.email))
        return _token_page(render(request, "accounts/invitation_accept.html", context, status=403))
    if request.method == "POST":
        if not policy.two_factor_satisfied(request, customer):
            # The middleware sends the person to set up or confirm two-factor first and
            # back here afterwards (U1, S9).
            raise policy.TwoFactorRequired(customer)
        try:
            services.invitation_accept(invitation=invitation, user=user, request=request)
        except (services.InvitationNotUsable, services.InvitationWrongAddress):
            return _not_valid(request)
        request.session.pop(SESSION_KEY, None)
        policy.forget(user)
        messages.success(
            request,
            _("You now act for %(customer)s. Use the account switcher to change customer.")
            % {"customer": customer.name},
        )
        return redirect(customer.get_absolute_url())
    context.update(
        mode="accept",
        two_factor_first=not policy.two_factor_satisfied(request, customer),
    )
    return _token_page(render(request, "accounts/invitation_accept.html", context))
