"""Technical administrators (D1–D7).

The grantor's side lives under "contract data" (``grant_*``); the administrator's side
(``request_*``) lists what other customers granted to it. Every view asks the policy for
the customer in the URL and then fetches grants only through it: a grant of another
tenant, or one the customer is not party to on that side, is a 404.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from delegation import selectors, services
from delegation.forms import GrantForm, GrantRequestForm, KeyForm
from delegation.models import Grant, GrantEvent
from portal import policy
from portal.policy import Action

PAGE_SIZE = 25
# S8: every failed key — wrong, expired, used, revoked meanwhile, too many tries — gets
# exactly this answer and the same status.
KEY_REFUSED = gettext_lazy(
    "This key was not accepted. Keys work once, for 14 days, and only for the request they "
    "were made for; after several wrong tries, entering keys is paused for a while."
)


def _grant_of_grantor(customer, grant_id):
    return get_object_or_404(
        Grant.objects.select_related("grantor", "agency"), pk=grant_id, grantor=customer
    )


def _grant_to_agency(customer, grant_id):
    return get_object_or_404(
        Grant.objects.select_related("grantor", "agency"), pk=grant_id, agency=customer
    )


# --- the grantor's side -----------------------------------------------------------


@login_required
def grant_list(request, customer):
    """Grants the customer made: administrator, accounts, state, end (D1, D2)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    grants = selectors.GrantList(customer, received=False, page_size=PAGE_SIZE)
    page = Paginator(grants, PAGE_SIZE).get_page(request.GET.get("page"))
    grant_requests = selectors.latest_grant_requests(customer, 10)
    return render(
        request,
        "delegation/grant_list.html",
        {
            "customer": customer,
            "page": page,
            "grant_requests": grant_requests,
            "state_labels": Grant.state_labels(),
        },
    )


@login_required
@never_cache
def grant_create(request, customer):
    """Name the administrator by customer number, choose own hosting accounts and an
    optional end; the answer shows the key once (D1–D3)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    policy.require_recent_auth(request)
    accounts = policy.grantable_accounts(request.user, customer)
    form = GrantForm(request.POST or None, grantor=customer, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        try:
            grant, key = services.grant_create(
                grantor=customer,
                agency=form.cleaned_data["administrator"],
                accounts=form.cleaned_data["accounts"],
                ends_at=form.cleaned_data["ends_at"],
                created_by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # The key exists only in this response: no redirect, nothing stored (S7).
            request.no_store = True
            return render(
                request,
                "delegation/grant_created.html",
                {"customer": customer, "grant": grant, "key": key},
            )
    return render(
        request,
        "delegation/grant_create.html",
        {"customer": customer, "form": form, "has_accounts": accounts.exists()},
    )


@login_required
@require_POST
@sensitive_post_parameters("key")
def grant_key_mail(request, customer, grant):
    """Mail the key shown a moment ago to the administrator (D3). The page posts the key
    back; the portal checks it against the hash and keeps no copy of it."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    grant = _grant_of_grantor(customer, grant)
    policy.require_recent_auth(request)
    try:
        sent = services.grant_key_mail(
            grant=grant, key=request.POST.get("key", ""), actor=request.user, request=request
        )
    except services.GrantError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            ngettext(
                "The key was e-mailed to %(n)s person at %(agency)s.",
                "The key was e-mailed to %(n)s people at %(agency)s.",
                sent,
            )
            % {"n": sent, "agency": grant.agency.name},
        )
    return redirect("delegation:grant_detail", customer=customer.number, grant=grant.pk)


@login_required
def grant_detail(request, customer, grant):
    """One grant with its history, for the grantor (D7)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    grant = _grant_of_grantor(customer, grant)
    return render(
        request,
        "delegation/grant_detail.html",
        {
            "customer": customer,
            "grant": grant,
            "accounts": grant.accounts.order_by("kind", "name"),
            "history": selectors.history(grant, GrantEvent.Side.GRANTOR),
            "can_end": grant.is_live() or grant.is_open(),
        },
    )


@login_required
@require_POST
def grant_revoke(request, customer, grant):
    """Revoke at any moment; access ends with the next request (D2, S5)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    grant = _grant_of_grantor(customer, grant)
    policy.require_recent_auth(request)
    if services.grant_revoke(grant=grant, actor=request.user, request=request):
        messages.success(request, _("The grant is revoked. The administrator's access ended."))
    else:
        messages.info(request, _("This grant had already ended."))
    return redirect("delegation:grant_detail", customer=customer.number, grant=grant.pk)


@login_required
def grant_request_create(request, customer):
    """Ask support to create a customer number for an administrator who is not a
    customer yet; the grantor is told the number by mail (seed 000, U5)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    form = GrantRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.grant_request_create(
            grantor=customer, requested_by=request.user, request=request, **form.cleaned_data
        )
        messages.success(
            request,
            _(
                "Support will create a customer number for your administrator and tell you "
                "by e-mail. Then make the grant with that number."
            ),
        )
        return redirect("delegation:grant_list", customer=customer.number)
    return render(
        request, "delegation/grant_request_create.html", {"customer": customer, "form": form}
    )


# --- the administrator's side -------------------------------------------------------


@login_required
def request_list(request, customer):
    """Grants addressed to this customer as technical administrator: pending requests
    first, where the key is entered, then current and past grants (D3, D4)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    grants = selectors.GrantList(customer, received=True, page_size=PAGE_SIZE)
    page = Paginator(grants, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "delegation/request_list.html",
        {"customer": customer, "page": page, "state_labels": Grant.state_labels()},
    )


def _request_detail(request, customer, grant, form, status=200):
    return render(
        request,
        "delegation/request_detail.html",
        {
            "customer": customer,
            "grant": grant,
            "accounts": grant.accounts.order_by("kind", "name"),
            "history": selectors.history(grant, GrantEvent.Side.AGENCY),
            "form": form,
            "is_open": grant.is_open(),
            "is_live": grant.is_live(),
        },
        status=status,
    )


@login_required
def request_detail(request, customer, grant):
    """One grant addressed to us: the key form while pending, hand back, history (D7)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    grant = _grant_to_agency(customer, grant)
    return _request_detail(request, customer, grant, KeyForm())


@login_required
@require_POST
@never_cache
@sensitive_post_parameters("key")
def request_approve(request, customer, grant):
    """Enter the grant key (D3, S7, S8)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    grant = _grant_to_agency(customer, grant)
    policy.require_recent_auth(request)
    form = KeyForm(request.POST)
    key = form.data.get("key", "") if form.is_valid() else ""
    if services.grant_approve(grant=grant, key=key, user=request.user, request=request):
        messages.success(
            request,
            _("Approved. The granted hosting accounts now appear on your overview."),
        )
        return redirect("delegation:request_detail", customer=customer.number, grant=grant.pk)
    # A bound, empty form: the typed key is not echoed back, and the one message replaces
    # whatever else the form would say.
    form = KeyForm(data={})
    form.errors["key"] = form.error_class([KEY_REFUSED])
    grant.refresh_from_db()
    return _request_detail(request, customer, grant, form, status=400)


@login_required
@require_POST
def request_hand_back(request, customer, grant):
    """Give a grant back, or decline a pending request (D2)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_DELEGATIONS)
    grant = _grant_to_agency(customer, grant)
    policy.require_recent_auth(request)
    if services.grant_hand_back(grant=grant, actor=request.user, request=request):
        messages.success(request, _("The grant is handed back. Your access to it ended."))
    else:
        messages.info(request, _("This grant had already ended."))
    return redirect("delegation:request_detail", customer=customer.number, grant=grant.pk)
