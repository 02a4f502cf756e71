"""Mail about an account's change requests (A2, A3), through ``portal.mail.queue``.

When staff carry a request out or decline it, the customer hears of it: the person who
asked, while they can still reach the account, and whoever gets "orders and access data"
mails — the contacts K5 chooses and the members who chose those mails (U3). Each gets
their own message, in their own language: a delegate who asked is an agency's person and
does not see the grantor's contacts (D4).
"""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from contacts.models import Category
from contacts.selectors import notification_recipients
from portal import mail, policy


def _recipients(change_request) -> list[tuple[str, str]]:
    """(address, language) for everyone told about ``change_request``; no address twice."""
    account = change_request.account
    people: list[tuple[str, str]] = []
    requester = change_request.created_by
    if requester is not None and policy.account_access(requester, account) is not None:
        people.append((requester.email.lower(), requester.language))
    addresses = notification_recipients(account.customer, Category.ORDERS)
    languages = dict(User.objects.filter(email__in=addresses).values_list("email", "language"))
    seen = {address for address, _language in people}
    for address in addresses:
        if address not in seen:
            seen.add(address)
            people.append((address, languages.get(address) or settings.LANGUAGE_CODE))
    return people


def change_request_handled(change_request) -> None:
    """Staff carried out or declined ``change_request`` (its state says which)."""
    account = change_request.account
    context = {
        "change_request": change_request,
        "account": account,
        "customer": account.customer,
        "done": change_request.state == change_request.State.DONE,
        "link": settings.PORTAL_BASE_URL.rstrip("/") + account.get_absolute_url(),
    }
    for address, language in _recipients(change_request):
        mail.queue(
            kind="change_request_handled",
            to=[address],
            template="hosting/mail/change_request_handled",
            context=context,
            language=language or settings.LANGUAGE_CODE,
        )
