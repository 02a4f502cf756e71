"""Main and sub-accounts (C1–C4): the overview, ordering a new sub-account, linking an
existing customer with its owner's consent, the collective invoice."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import SubAccountLinkForm, SubAccountOrderForm
from accounts.models import Customer, SubAccountLinkRequest
from portal import policy
from portal.policy import Action

PAGE_SIZE = 25


def _to_list(customer):
    return redirect("accounts:sub_account_list", customer=customer.number)


def _main_for(request, number) -> Customer:
    """The main account in the URL, if this user may order and link sub-accounts for it."""
    customer = policy.get_customer_for(request, number, Action.MANAGE_SUB_ACCOUNTS)
    if not policy.may_order_sub_accounts(request.access):
        raise PermissionDenied
    return customer


@login_required
def sub_account_list(request, customer):
    """For a main account: every sub-account, each one click away for its users (C3), and
    the requests waiting for other customers' owners. For any customer: requests to link it
    as a sub-account, which its owners confirm or decline (C2). For a sub-account: its main
    account."""
    customer = policy.get_customer_for(request, customer, Action.VIEW_CUSTOMER)
    access = request.access
    may_order = policy.may_order_sub_accounts(access)
    subs = None
    if customer.parent_id is None:
        subs = Paginator(selectors.sub_accounts_paged(customer, PAGE_SIZE), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    sent, received = selectors.pending_link_requests(
        customer, sent=may_order, received=policy.may_answer_link_requests(access)
    )
    return render(
        request,
        "accounts/sub_account_list.html",
        {
            "customer": customer,
            "page": subs,
            "may_order": may_order,
            "sent": sent,
            "received": received,
        },
    )


@login_required
def sub_account_order(request, customer):
    """Order a new sub-account: a new customer, linked at once (C2)."""
    customer = _main_for(request, customer)
    form = SubAccountOrderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sub = services.sub_account_order(
                main=customer,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                on_collective_invoice=form.cleaned_data["on_collective_invoice"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("The sub-account %(name)s (%(number)s) is ready.")
                % {"name": sub.name, "number": sub.display_number},
            )
            return _to_list(customer)
    return render(request, "accounts/sub_account_order.html", {"customer": customer, "form": form})


@login_required
def sub_account_link(request, customer):
    """Ask an existing customer's owners to become a sub-account (C2): nothing is linked
    until one of them confirms."""
    customer = _main_for(request, customer)
    policy.require_recent_auth(request)
    form = SubAccountLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            link = services.sub_account_link_request(
                main=customer,
                number=form.cleaned_data["number"],
                on_collective_invoice=form.cleaned_data["on_collective_invoice"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error("number", error)
        else:
            messages.success(
                request,
                _("The owners of %(number)s are asked to confirm the link.")
                % {"number": link.sub.display_number},
            )
            return _to_list(customer)
    return render(request, "accounts/sub_account_link.html", {"customer": customer, "form": form})


def _received_request(request, number, pk) -> tuple[Customer, SubAccountLinkRequest]:
    customer = policy.get_customer_for(request, number, Action.VIEW_CUSTOMER)
    link = get_object_or_404(
        SubAccountLinkRequest.objects.select_related("main"), pk=pk, sub=customer
    )
    if not policy.may_answer_link_requests(request.access):
        raise PermissionDenied
    return customer, link


def _answer(request, customer, link_request, confirm: bool):
    customer, link = _received_request(request, customer, link_request)
    if confirm:  # the main account's users will act here: who confirms must be sure
        policy.require_recent_auth(request)
    try:
        services.sub_account_link_answer(
            link_request=link, confirm=confirm, by=request.user, request=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if confirm:
            text = _("%(customer)s is now a sub-account of %(main)s.")
        else:
            text = _("You declined to become a sub-account of %(main)s.")
        messages.success(request, text % {"customer": customer.name, "main": link.main.name})
    return _to_list(customer)


@login_required
@require_POST
def link_request_confirm(request, customer, link_request):
    """An owner of this customer agrees to become a sub-account (C2)."""
    return _answer(request, customer, link_request, confirm=True)


@login_required
@require_POST
def link_request_decline(request, customer, link_request):
    return _answer(request, customer, link_request, confirm=False)


@login_required
@require_POST
def link_request_cancel(request, customer, link_request):
    """The main account withdraws a request that still waits."""
    customer = _main_for(request, customer)
    link = get_object_or_404(
        SubAccountLinkRequest.objects.select_related("sub"), pk=link_request, main=customer
    )
    try:
        services.sub_account_link_cancel(link_request=link, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _to_list(customer)


@login_required
@require_POST
def sub_account_collective_invoice(request, customer, sub):
    """Put a sub-account on the main account's collective invoice, or take it off (C4)."""
    customer = _main_for(request, customer)
    sub = get_object_or_404(Customer, pk=sub, parent=customer)
    on = request.POST.get("on") == "1"
    services.sub_account_set_collective_invoice(sub=sub, on=on, by=request.user, request=request)
    if on:
        text = _("%(name)s is now on the collective invoice.")
    else:
        text = _("%(name)s gets its own invoices again.")
    messages.success(request, text % {"name": sub.name})
    return _to_list(customer)
