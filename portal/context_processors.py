from portal import policy
from portal.navigation import customer_nav


def portal(request):
    """The account switcher and the navigation of the customer being shown."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    access = getattr(request, "access", None)
    context = {"switchable_customers": policy.actable_customers(user)}
    if access is not None and access.via != policy.Via.GRANT:
        context["current_customer"] = access.customer
        context["customer_nav"] = customer_nav(access, request.path)
    elif access is not None:
        context["current_customer"] = None
    return context
