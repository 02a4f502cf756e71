"""The customer's dashboard, hosting-account pages, the account switcher and language."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import check_for_language
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from accounts.models import User
from accounts.selectors import access_review_of
from hosting import selectors as hosting_selectors
from portal import policy
from portal.middleware import LANGUAGE_CHOSEN
from portal.pagination import CappedCountPaginator
from portal.policy import Action


@login_required
def home(request):
    """Where sign-in lands: straight to the only customer, or the account switcher (U2)."""
    customers = policy.actable_customers(request.user)
    if len(customers) == 1:
        return redirect(customers[0].get_absolute_url())
    return render(request, "portal/switcher.html", {"customers": customers})


@login_required
def dashboard(request, customer):
    """The current customer's hosting accounts; for agencies also the accounts delegated
    to them (D4); for main accounts a line about sub-accounts (C3)."""
    customer = policy.get_customer_for(request, customer, Action.VIEW_CUSTOMER)
    accounts = policy.visible_account_list(request.user, customer, 25)
    page = Paginator(accounts, 25).get_page(request.GET.get("page"))
    # An agency may hold thousands of delegated accounts (make bench: 5,000 grants): the
    # list comes in its order from an index, with an index count of at most 1,001
    # (policy; "Page 1 of more than 40").
    delegated = policy.delegated_account_list(request.user, customer, 25)
    delegated_page = CappedCountPaginator(delegated, 25).get_page(request.GET.get("dpage"))
    # An overdue access review, for those who can open the access overview (issue 7).
    review = access_review_of(customer) if request.access.allows(Action.MANAGE_USERS) else None
    return render(
        request,
        "portal/dashboard.html",
        {
            "customer": customer,
            "page": page,
            "delegated_page": delegated_page,
            "can_view_products": request.access.allows(Action.VIEW_ACCOUNT),
            "sub_account_count": policy.sub_account_count(request.user, customer),
            "access_review_due": review if review is not None and review.is_overdue() else None,
        },
    )


@login_required
def account_detail(request, customer, account):
    """One hosting account, for members allowed to view products and for delegates."""
    account = policy.get_account_for(request, customer, account, Action.VIEW_ACCOUNT)
    return render(
        request,
        "portal/account_detail.html",
        {
            "account": account,
            "customer": account.customer,
            "access": request.access,
            "can_change": request.access.allows(Action.CHANGE_ACCOUNT),
            # The DNS zone, package and server requests, and the history (A1–A4).
            "hosting": hosting_selectors.account_overview(account, request.access),
        },
    )


@require_POST
def set_language(request):
    """Switch the language and remember it: for a signed-in person in their login
    (``User.language``, applied on every device by UserLanguageMiddleware); before
    signing in in the session, to become the person's choice at sign-in."""
    language = request.POST.get("language", "")
    if check_for_language(language):
        user = request.user
        if user.is_authenticated:
            User.objects.filter(pk=user.pk).update(language=language)
            user.language = language
        else:
            request.session[LANGUAGE_CHOSEN] = language
    return django_set_language(request)
