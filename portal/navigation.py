"""The customer navigation. Each entry names a URL and the policy action that shows it;
entries whose URL does not exist yet are left out, so apps add pages without editing the
base template."""

from django.urls import NoReverseMatch
from django.utils.translation import gettext_lazy as _

from portal.links import reverser  # on every page (make bench)
from portal.policy import Action

# (URL name taking the customer number, label, action)
CUSTOMER_NAV = [
    ("portal:dashboard", _("Overview"), Action.VIEW_CUSTOMER),
    ("contacts:contact_list", _("Contacts"), Action.MANAGE_CONTACTS),
    ("accounts:member_list", _("Users"), Action.MANAGE_USERS),
    ("accounts:sub_account_list", _("Sub-accounts"), Action.VIEW_CUSTOMER),
    ("accounts:invoice_list", _("Invoices"), Action.VIEW_INVOICES),
    ("delegation:grant_list", _("Technical administrators"), Action.MANAGE_DELEGATIONS),
    ("delegation:request_list", _("Delegated to us"), Action.MANAGE_DELEGATIONS),
    ("helpdesk:ticket_list", _("Support"), Action.OPEN_TICKETS),
    ("accounts:access_overview", _("Who can act for us"), Action.MANAGE_USERS),
    ("accounts:audit_log", _("Activity"), Action.MANAGE_USERS),
]


def customer_nav(access, current_path: str):
    # The URL configuration, prefix and language read once for the ten links, not for
    # each (portal.links.reverser).
    reverse = reverser()
    items = []
    for url_name, label, action in CUSTOMER_NAV:
        if not access.allows(action):
            continue
        try:
            url = reverse(url_name, customer=access.customer.number)
        except NoReverseMatch:
            continue
        active = current_path == url or (
            url_name != "portal:dashboard" and current_path.startswith(url)
        )
        items.append({"url": url, "label": label, "active": active})
    return items
