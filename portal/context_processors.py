from portal import policy
from portal.navigation import customer_nav

# Customers listed in the header's switcher; past that a link to the full list (the home
# page). A main account with a thousand sub-accounts put a thousand links on every page.
SWITCHER_LIMIT = 15


def portal(request):
    """The account switcher and the navigation of the customer being shown."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    match = getattr(request, "resolver_match", None)
    if match is not None and match.app_name == "admin":
        # The admin's pages have Django's header and sidebar, not the portal's: its
        # customers were read for nothing (a query and about 0.6 ms of the staff's
        # ticket search, make bench).
        return {}
    access = getattr(request, "access", None)
    customers = policy.actable_customers(user, limit=SWITCHER_LIMIT)
    context = {
        "switchable_customers": customers[:SWITCHER_LIMIT],
        "switcher_more": len(customers) > SWITCHER_LIMIT,
    }
    if access is not None and access.via != policy.Via.GRANT:
        context["current_customer"] = access.customer
        context["customer_nav"] = customer_nav(access, request.path)
    elif access is not None:
        context["current_customer"] = None
    return context
