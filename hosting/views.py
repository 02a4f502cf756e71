"""Hosting-account pages: a domain's DNS zone (A1), a server's reverse DNS and reboot
(A3), package requests (A2) and the account history (A4).

Every view: login required, one policy call (``get_account_for``: 404 for what the user
cannot see, 403 for what they may see but not change), then objects only through that
account. Reading needs VIEW_ACCOUNT, changing CHANGE_ACCOUNT ("change domain and DNS
settings", or a live grant of the account).
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import HostingAccount
from hosting import dns, pdns, selectors, services
from hosting.forms import (
    REQUEST_FORMS,
    DnsRecordForm,
    ReverseDnsForm,
    add_service_errors,
)
from hosting.models import ChangeRequest, DnsRecord, Zone
from portal import policy
from portal.policy import Action

RECORDS_PER_PAGE = 50
EVENTS_PER_PAGE = 25

# URL slug → ChangeRequest.Kind, and the kind of account each applies to.
REQUEST_SLUGS = {
    "php-version": (ChangeRequest.Kind.PHP_VERSION, HostingAccount.Kind.PACKAGE),
    "storage": (ChangeRequest.Kind.STORAGE, HostingAccount.Kind.PACKAGE),
    "reboot": (ChangeRequest.Kind.REBOOT, HostingAccount.Kind.SERVER),
}


def _account(request, customer, account, action, kind=None) -> HostingAccount:
    """The one policy call; an account of another kind than the page is for is a 404."""
    found = policy.get_account_for(request, customer, account, action)
    if kind is not None and found.kind != kind:
        raise Http404
    return found


def _base_context(request, account) -> dict:
    return {
        "account": account,
        "customer": account.customer,
        "access": request.access,
        "can_change": request.access.allows(Action.CHANGE_ACCOUNT),
        "pdns_configured": pdns.is_configured(),
    }


def _zone_url(account) -> str:
    return reverse(
        "hosting:record_list", kwargs={"customer": account.customer.number, "account": account.pk}
    )


def _pushed_message(request) -> None:
    if pdns.is_configured():
        messages.success(request, _("Saved. The change is on its way to the DNS server."))
    else:
        messages.warning(
            request,
            _(
                "Saved in the portal, but not pushed: no DNS server is connected to this "
                "portal, so the change is not live."
            ),
        )


# --- DNS zone (A1) ----------------------------------------------------------------------


@login_required
def record_list(request, customer, account):
    """The domain's zone: its records with the state of each one's latest change."""
    account = _account(request, customer, account, Action.VIEW_ACCOUNT, HostingAccount.Kind.DOMAIN)
    zone = selectors.zone_of(account)
    page = Paginator(selectors.zone_records(zone), RECORDS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = _base_context(request, account)
    context.update(
        {
            "zone_name": (zone.name if zone else account.name + ".").rstrip("."),
            "page": page,
            "summary": selectors.push_summary(account),
            "changes": selectors.recent_changes(account),
        }
    )
    return render(request, "hosting/record_list.html", context)


def _record_form_view(request, account, record=None):
    zone_name = (record.zone.name if record else None) or _zone_name(account)
    if request.method == "POST":
        form = DnsRecordForm(request.POST, zone_name=zone_name)
        if form.is_valid():
            try:
                if record is None:
                    services.dns_record_create(
                        account=account,
                        actor=request.user,
                        access=request.access,
                        request=request,
                        **form.record_fields(),
                    )
                else:
                    services.dns_record_update(
                        record=record,
                        actor=request.user,
                        access=request.access,
                        request=request,
                        **form.record_fields(),
                    )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                _pushed_message(request)
                return redirect(_zone_url(account))
    else:
        initial = DnsRecordForm.initial_for(record) if record else None
        form = DnsRecordForm(initial=initial, zone_name=zone_name)
    context = _base_context(request, account)
    context.update({"form": form, "record": record, "zone_name": zone_name.rstrip(".")})
    return render(request, "hosting/record_form.html", context, status=400 if form.errors else 200)


def _zone_name(account) -> str:
    return dns.zone_name(account.name)


@login_required
def record_create(request, customer, account):
    account = _account(
        request, customer, account, Action.CHANGE_ACCOUNT, HostingAccount.Kind.DOMAIN
    )
    return _record_form_view(request, account)


@login_required
def record_update(request, customer, account, record):
    account = _account(
        request, customer, account, Action.CHANGE_ACCOUNT, HostingAccount.Kind.DOMAIN
    )
    record = get_object_or_404(
        DnsRecord.objects.select_related("zone", "account"),
        pk=record,
        account=account,
        zone__kind=Zone.Kind.FORWARD,
    )
    return _record_form_view(request, account, record)


@login_required
def record_delete(request, customer, account, record):
    """GET asks to confirm; POST removes the record."""
    account = _account(
        request, customer, account, Action.CHANGE_ACCOUNT, HostingAccount.Kind.DOMAIN
    )
    record = get_object_or_404(
        DnsRecord.objects.select_related("zone", "account"),
        pk=record,
        account=account,
        zone__kind=Zone.Kind.FORWARD,
    )
    if request.method == "POST":
        try:
            services.dns_record_delete(
                record=record, actor=request.user, access=request.access, request=request
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            _pushed_message(request)
        return redirect(_zone_url(account))
    context = _base_context(request, account)
    context["record"] = record
    return render(request, "hosting/record_confirm_delete.html", context)


# --- servers (A3) -------------------------------------------------------------------------


@login_required
def reversedns_update(request, customer, account):
    """PTR records for the server's own addresses, in the provider's reverse zones."""
    account = _account(
        request, customer, account, Action.CHANGE_ACCOUNT, HostingAccount.Kind.SERVER
    )
    addresses = services.server_addresses(account)
    current = selectors.reverse_dns(account)
    if request.method == "POST":
        form = ReverseDnsForm(request.POST, addresses=addresses)
        if form.is_valid():
            try:
                for address, hostname in form.pairs():
                    services.reverse_dns_set(
                        account=account,
                        address=address,
                        hostname=hostname,
                        actor=request.user,
                        access=request.access,
                        request=request,
                    )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                _pushed_message(request)
                return redirect(account.get_absolute_url())
    else:
        form = ReverseDnsForm(
            addresses=addresses,
            initial={
                f"host_{i}": (current[a].value if current.get(a) else "")
                for i, a in enumerate(addresses)
            },
        )
    context = _base_context(request, account)
    context.update({"form": form, "reverse": current})
    return render(
        request, "hosting/reversedns_form.html", context, status=400 if form.errors else 200
    )


# --- change requests for staff (A2, A3) ---------------------------------------------------


@login_required
def changerequest_create(request, customer, account, kind):
    if kind not in REQUEST_SLUGS:
        raise Http404
    request_kind, account_kind = REQUEST_SLUGS[kind]
    account = _account(request, customer, account, Action.CHANGE_ACCOUNT, account_kind)
    form_class = REQUEST_FORMS[request_kind]
    if request.method == "POST":
        form = form_class(request.POST, account=account)
        if form.is_valid():
            try:
                change_request = services.change_request_create(
                    account=account,
                    kind=request_kind,
                    value=form.cleaned_data.get("value", ""),
                    note=form.cleaned_data.get("note", ""),
                    actor=request.user,
                    access=request.access,
                    request=request,
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _(
                        "Request #%(id)s recorded: our staff carry it out and the account "
                        "shows the change once it is done."
                    )
                    % {"id": change_request.pk},
                )
                return redirect(account.get_absolute_url())
    else:
        form = form_class(account=account)
    context = _base_context(request, account)
    context.update(
        {
            "form": form,
            "kind": kind,
            "kind_label": ChangeRequest.Kind(request_kind).label,
            "open_requests": selectors.open_requests(account),
        }
    )
    return render(
        request, "hosting/changerequest_form.html", context, status=400 if form.errors else 200
    )


@login_required
@require_POST
def changerequest_cancel(request, customer, account, change_request):
    account = _account(request, customer, account, Action.CHANGE_ACCOUNT)
    change_request = get_object_or_404(ChangeRequest, pk=change_request, account=account)
    if services.change_request_cancel(
        change_request=change_request, actor=request.user, access=request.access, request=request
    ):
        messages.success(request, _("Request #%(id)s cancelled.") % {"id": change_request.pk})
    else:
        messages.error(
            request,
            _("Request #%(id)s is no longer open; our staff handled it already.")
            % {"id": change_request.pk},
        )
    return redirect(account.get_absolute_url())


# --- history (A4) -------------------------------------------------------------------------


@login_required
def event_list(request, customer, account):
    """Everything changed on the account: who, through which access, and each DNS
    change's state."""
    account = _account(request, customer, account, Action.VIEW_ACCOUNT)
    page = Paginator(selectors.account_history(account), EVENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context = _base_context(request, account)
    context.update({"page": page, "rows": selectors.history_rows(page.object_list, request.access)})
    return render(request, "hosting/event_list.html", context)
