"""The customer's users: members and their permissions, invitations, "has left", and the
customer's own audit trail (U2–U4, S5, S27).

Every view: signed in, one policy call for the customer, objects fetched through that
customer only (another tenant's id is a 404), changes by POST.
"""

from functools import partial
from operator import attrgetter

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import audit, selectors, services
from accounts.forms import (
    InvitationForm,
    MemberAccountAddForm,
    MemberAccountsForm,
    PermissionForm,
    UserLeftForm,
)
from accounts.models import HostingAccount, Invitation, Membership, PermissionSet
from portal import policy
from portal.pagination import CappedCountPaginator, PagedList
from portal.policy import Action

PAGE_SIZE = 25
AUDIT_PAGE_SIZE = 50


def _member_list_url(customer):
    return redirect("accounts:member_list", customer=customer.number)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


class _LabelTexts:
    """The permissions and notification mails of a row as the users page shows them (the
    labels joined, "—" for none), made once per combination of flags in a view: a page's
    50 rows share a few (make bench: 14 µs a row in the Jinja2 tables)."""

    _FLAGS = attrgetter(*PermissionSet.choice_fields())

    def __init__(self):
        self._texts: dict = {}

    def _text(self, row: PermissionSet, kind: str) -> str:
        key = (type(row), kind, self._FLAGS(row))
        text = self._texts.get(key)
        if text is None:
            labels = getattr(row, f"{kind}_labels")()
            text = self._texts[key] = ", ".join(labels) or "—"
        return text

    def permissions(self, row: PermissionSet) -> str:
        return self._text(row, "permission")

    def notifications(self, row: PermissionSet) -> str:
        return self._text(row, "notification")


@login_required
def member_list(request, customer):
    """Members with their permissions, and every invitation with its state (U2, U3)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    counts = selectors.member_list_counts(customer)  # both lists counted in one query
    pages = {}
    for key, param, fetch in (
        ("members", "page", selectors.members_page),
        ("invitations", "ipage", selectors.invitations_page),
    ):
        # Each page's rows are read with a query compiled once per page (make bench).
        listed = PagedList(partial(counts.get, key), partial(fetch, customer), PAGE_SIZE)
        pages[key] = Paginator(listed, PAGE_SIZE).get_page(request.GET.get(param))
    members, invitations = pages["members"], pages["invitations"]
    labels = _LabelTexts()
    rows = [
        {
            "membership": m,
            "can_change": policy.may_change_membership(request.user, request.access, m),
            "reported_left": m.reported_left,
            "is_self": m.user_id == request.user.pk,
            "permissions": labels.permissions(m),
            "notifications": labels.notifications(m),
        }
        for m in members.object_list
    ]
    return render(
        request,
        "accounts/membership_list.html",
        {
            "customer": customer,
            "page": members,
            "rows": rows,
            "invitations": invitations,
            "invitation_rows": [
                {
                    "invitation": i,
                    "can_resend": policy.may_grant(request.access, i.permission_values()),
                    "permissions": labels.permissions(i),
                }
                for i in invitations.object_list
            ],
        },
    )


def _membership_for(request, customer, membership_id) -> Membership:
    membership = get_object_or_404(
        Membership.objects.select_related("user"), pk=membership_id, customer=customer
    )
    if not policy.may_change_membership(request.user, request.access, membership):
        raise PermissionDenied
    return membership


@login_required
def member_edit(request, customer, membership):
    """Change one member's permissions (U3): effective on their next request; anything
    taken away also ends their sessions (S5). Removing and "has left" start here too."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    membership = _membership_for(request, customer, membership)
    policy.require_recent_auth(request)
    form = PermissionForm(
        request.POST or None,
        grantable=policy.grantable_fields(request.access),
        values=membership.permission_values(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.membership_update(
                membership=membership, changes=form.changes(), by=request.user, request=request
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                _("The permissions of %(person)s are changed.") % {"person": membership.user},
            )
            return _member_list_url(customer)
    return render(
        request,
        "accounts/membership_edit.html",
        {
            "customer": customer,
            "membership": membership,
            "form": form,
            "left_form": UserLeftForm(),
        },
    )


@login_required
def member_accounts(request, customer, membership):
    """Which hosting accounts a member acts on (U3): all of the customer's, or only the
    ones chosen here one by one. Applies from the person's next request; narrowing it
    signs them out everywhere (S5)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    membership = _membership_for(request, customer, membership)
    policy.require_recent_auth(request)
    scope_form = MemberAccountsForm(
        request.POST if request.POST.get("form") == "scope" else None,
        initial={"scope": "chosen" if membership.restricted_to_accounts else "all"},
    )
    add_form = MemberAccountAddForm(
        request.POST if request.POST.get("form") == "add" else None, customer=customer
    )
    if request.method == "POST":
        try:
            if scope_form.is_bound and scope_form.is_valid():
                services.membership_limit_accounts(
                    membership=membership,
                    limited=scope_form.cleaned_data["scope"] == "chosen",
                    by=request.user,
                    request=request,
                )
                messages.success(request, _("Saved."))
                return redirect(request.path)
            if add_form.is_bound and add_form.is_valid():
                for account in add_form.accounts:
                    services.membership_account_choose(
                        membership=membership,
                        account=account,
                        chosen=True,
                        by=request.user,
                        request=request,
                    )
                messages.success(
                    request,
                    _("%(person)s can now act on %(account)s.")
                    % {"person": membership.user, "account": add_form.cleaned_data["name"]},
                )
                return redirect(request.path)
        except ValidationError as error:
            (scope_form if scope_form.is_bound else add_form).add_error(None, error)
    page = Paginator(policy.chosen_accounts(membership).order_by("name", "kind"), 25).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "accounts/membership_accounts.html",
        {
            "customer": customer,
            "membership": membership,
            "scope_form": scope_form,
            "add_form": add_form,
            "page": page,
        },
    )


@login_required
@require_POST
def member_account_remove(request, customer, membership, account):
    """Take one chosen hosting account back from a limited member (S5: signed out)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    membership = _membership_for(request, customer, membership)
    account = get_object_or_404(HostingAccount, pk=account, customer=customer)
    policy.require_recent_auth(request)
    services.membership_account_choose(
        membership=membership, account=account, chosen=False, by=request.user, request=request
    )
    messages.success(
        request,
        _("%(person)s no longer acts on %(account)s.")
        % {"person": membership.user, "account": account.name},
    )
    return redirect("accounts:member_accounts", customer=customer.number, membership=membership.pk)


@login_required
@require_POST
def member_remove(request, customer, membership):
    """Remove a membership at once (U4); that person's sessions end (S5)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    membership = _membership_for(request, customer, membership)
    policy.require_recent_auth(request)
    try:
        services.membership_remove(membership=membership, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("accounts:member_edit", customer=customer.number, membership=membership.pk)
    messages.success(
        request,
        _("%(person)s no longer acts for this customer.") % {"person": membership.user},
    )
    return _member_list_url(customer)


@login_required
@require_POST
def member_left(request, customer, membership):
    """Tell support that this person has left the organisation (U4). Staff set the user
    inactive; the person's tickets stay with the organisation."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    membership = _membership_for(request, customer, membership)
    form = UserLeftForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    services.staff_request_user_left(
        customer=customer, user=membership.user, by=request.user, note=note, request=request
    )
    messages.success(
        request,
        _(
            "Support has been told that %(person)s has left. Remove their access here "
            "now if they should lose it at once."
        )
        % {"person": membership.user},
    )
    return redirect("accounts:member_edit", customer=customer.number, membership=membership.pk)


@login_required
def invitation_create(request, customer):
    """Invite a person by e-mail with a permission set (U2). The answer is the same whether
    or not the address has a login (S12)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    policy.require_recent_auth(request)
    form = InvitationForm(request.POST or None, grantable=policy.grantable_fields(request.access))
    if request.method == "POST" and form.is_valid():
        permissions = form.permissions()
        if not policy.may_grant(request.access, permissions):
            raise PermissionDenied
        try:
            invitation = services.invitation_create(
                customer=customer,
                email=form.cleaned_data["email"],
                permissions=permissions,
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            form.add_error("email" if error.code in ("member", "pending") else None, error)
        else:
            messages.success(
                request,
                _("An invitation was sent to %(email)s. It is valid for seven days.")
                % {"email": invitation.email},
            )
            return _member_list_url(customer)
    return render(request, "accounts/invitation_create.html", {"customer": customer, "form": form})


def _invitation_for(customer, invitation_id) -> Invitation:
    return get_object_or_404(Invitation, pk=invitation_id, customer=customer)


@login_required
@require_POST
def invitation_cancel(request, customer, invitation):
    """Cancel a pending invitation; it stays listed as cancelled (U2)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    invitation = _invitation_for(customer, invitation)
    policy.require_recent_auth(request)
    try:
        services.invitation_cancel(invitation=invitation, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(
            request, _("The invitation to %(email)s is cancelled.") % {"email": invitation.email}
        )
    return _member_list_url(customer)


@login_required
@require_POST
def invitation_resend(request, customer, invitation):
    """Send an invitation again with a new link; the old link stops working (U2)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    invitation = _invitation_for(customer, invitation)
    if not policy.may_grant(request.access, invitation.permission_values()):
        raise PermissionDenied
    policy.require_recent_auth(request)
    try:
        services.invitation_resend(invitation=invitation, by=request.user, request=request)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(
            request,
            _("A new invitation was sent to %(email)s.") % {"email": invitation.email},
        )
    return _member_list_url(customer)


@login_required
def audit_log(request, customer):
    """The customer's own audit trail: who did what, when, from where (S27)."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    # The trail only grows: count no more than a thousand events per view (make bench).
    events = selectors.audit_events_paged(customer, AUDIT_PAGE_SIZE)
    page = CappedCountPaginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"event": event, "label": audit.label(event.action)} for event in page.object_list]
    return render(
        request,
        "accounts/auditevent_list.html",
        {"customer": customer, "page": page, "rows": rows},
    )
