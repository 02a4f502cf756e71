"""Reads about contacts that other parts of the portal use.

- ``recipients_for(customer, category)``: the ONE routing function (K5). Every outgoing
  notification of the portal chooses its recipients through it.
- ``notification_recipients(customer, category)``: what a notification to the customer is
  sent to: ``recipients_for`` plus the members who chose that kind of mail (U3).
- ``customers_for_sender(email)``: whom an address may act for by mail (K9).
- ``invoice_address_block(customer)`` (K6), ``invoice_by_mail_allowed(contact)`` (K7),
  ``invoice_mail_recipients(customer)`` (K7).
- ``is_authorised_user(user, customer)`` (K10, H3), ``lookup_registered_contacts`` (K8).
"""

from __future__ import annotations

import datetime

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Customer
from contacts.models import (
    CATEGORY_SWITCHES,
    TYPE_FIELDS,
    Category,
    Contact,
    ContactSettings,
    ContactType,
    digits_of,
)
from portal.prepared import PER_CUSTOMER, PreparedPages, PreparedQuery

# K5: which contact types a category goes to, most specific first. The first step that
# yields a recipient wins; the customer's account e-mail is the last resort.
ROUTES: dict[str, tuple[str, ...]] = {
    Category.SECURITY: (ContactType.TECHNICAL,),
    Category.MAINTENANCE: (ContactType.TECHNICAL,),
    Category.OUTAGES: (ContactType.TECHNICAL,),
    Category.INVOICES: (ContactType.ACCOUNTING, ContactType.STANDARD),
    Category.ORDERS: (ContactType.STANDARD,),
    Category.SUPPORT: (ContactType.STANDARD,),
}

# K6: the width of the "Attn." line on the letterhead, in characters.
INVOICE_ATTENTION_LINE_WIDTH = 60
# K8: phone numbers match on their last digits, so that national and international forms
# of one number are the same caller.
PHONE_MATCH_DIGITS = 9


def _normalise(email: str) -> str:
    return (email or "").strip().lower()


# --- routing (K5) -------------------------------------------------------------------


def recipients_for(customer: Customer, category: str) -> list[str]:
    """The addresses a notification of ``category`` for ``customer`` goes to (K5).

    - security notices, maintenance announcements, outage reports: technical contacts;
    - invoices and payment reminders: accounting contacts, else standard contacts;
    - anything else (orders and access data, support): standard contacts;
    - domain contacts never get anything; archived contacts neither;
    - only confirmed addresses (a pending one is not used until confirmed, K4);
    - each contact's switch for the category narrows what it gets: a contact that switched
      the category off is skipped, and if that leaves a step empty the next one is used;
    - where no contact is left, the customer's account e-mail (``customer.email``), so a
      notification never goes nowhere.

    The primary contact, if it is among them, comes first (K11); no address twice.
    One query.
    """
    category = Category(category)
    switch = CATEGORY_SWITCHES[category]
    contacts = list(
        Contact.objects.active()
        .confirmed()
        .not_domain()
        .filter(customer=customer, **{switch: True})
        .order_by("-is_primary", "name", "pk")
    )
    chosen = _route(contacts, category)
    if chosen:
        return _unique(c.email for c in chosen)
    return _unique([customer.email])


# U3: the notification mails a member can choose, by category, with the permission that
# lets the member read such a mail. Support notices name tickets other people opened, so
# they go only to members who see all of the organisation's tickets (H3).
MEMBER_NOTIFICATIONS: dict[str, tuple[str, str]] = {
    Category.INVOICES: ("notify_invoices", "can_view_invoices"),
    Category.ORDERS: ("notify_orders", "can_view_products"),
    Category.SUPPORT: ("notify_support", "can_see_all_tickets"),
}


def member_recipients(customer: Customer, category: str) -> list[str]:
    """The login addresses of the customer's members who chose mails of ``category``
    (U3) and may read them; only people who may act (U6). One query."""
    from accounts.models import Membership
    from portal.policy import acting_users_q, holds_q  # the policy imports us lazily

    wanted = MEMBER_NOTIFICATIONS.get(Category(category))
    if wanted is None:
        return []
    switch, permission = wanted
    emails = (
        Membership.objects.filter(customer=customer, **{switch: True})
        .filter(holds_q(permission), acting_users_q("user__"))
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )
    return _unique(emails)


def notification_recipients(customer: Customer, category: str) -> list[str]:
    """Everyone a notification of ``category`` about ``customer`` goes to: the contacts K5
    chooses (or the account e-mail where none is left), then the members who chose that
    kind of mail (U3). No address twice. Two queries."""
    return _unique([*recipients_for(customer, category), *member_recipients(customer, category)])


def _route(contacts: list[Contact], category: str) -> list[Contact]:
    """The contacts (already filtered to usable ones) a category goes to; [] = fallback."""
    usable = [
        c
        for c in contacts
        if c.email and not c.is_domain and not c.is_archived and c.wants(category)
    ]
    for contact_type in ROUTES[category]:
        chosen = [c for c in usable if contact_type in c.types]
        if chosen:
            return chosen
    return []


def routing_overview(
    customer: Customer, contacts: list[Contact] | None = None
) -> tuple[dict[int, list[str]], list[str]]:
    """K5 for the contacts page: which categories each contact gets right now, and which
    fall back to the account e-mail. The same rules as ``recipients_for``.

    With ``contacts`` (the page shown), only those are placed, and the rules run on one
    aggregate query: which route step of each category has a usable contact. The cost
    then does not grow with the customer's contacts (make bench: a customer with 2,000
    contacts loaded all of them on every page view). Without it, one query loading the
    customer's usable contacts."""
    if contacts is None:
        contacts = list(Contact.objects.active().confirmed().not_domain().filter(customer=customer))
        per_contact: dict[int, list[str]] = {}
        fallback: list[str] = []
        for category in Category:
            chosen = _route(contacts, category)
            if not chosen:
                fallback.append(category)
            for contact in chosen:
                per_contact.setdefault(contact.pk, []).append(category)
        return per_contact, fallback

    per_contact, fallback, _has_authorised = contacts_page_summary(customer, contacts)
    return per_contact, fallback


# Dates, hashes and notes the contacts table never shows: half of the time spent reading
# a page's rows went on its six date columns (make bench).
_UNLISTED = (
    "email_confirmed_at",
    "pending_nonce_hash",
    "phone_digits",
    "restrictions",
    "created_at",
    "updated_at",
)


def _contacts_listed(customer_id):
    """The contacts page's list (K2): active contacts, the primary one first, by name;
    without the columns the table does not show (``_UNLISTED``)."""
    return (
        Contact.objects.active()
        .filter(customer_id=customer_id)
        .order_by("-is_primary", "name")
        .defer(*_UNLISTED)
    )


# Compiled once per process; the count is the page summary's (contacts_page_counts).
_CONTACT_PAGES = PreparedPages(_contacts_listed, server_side=PER_CUSTOMER)


def _settings_row(customer_id):
    return ContactSettings.objects.filter(customer_id=customer_id)


# One row per customer (a unique key): prepared once per connection.
_SETTINGS = PreparedQuery(_settings_row, customer_id=int)


def contact_settings_of(customer: Customer) -> ContactSettings | None:
    """The customer's ContactSettings, or None when it never changed them (K6)."""
    rows = _SETTINGS(customer_id=customer.pk)
    return rows[0] if rows else None


def contacts_listed_page(customer: Customer, offset: int, size: int) -> list[Contact]:
    """The contacts page's ``size`` contacts from ``offset`` on, compiled once per page."""
    return _CONTACT_PAGES(customer.pk, offset, size)


def _page_summary_counts(customer_id, at):
    """The aggregate behind ``contacts_page_summary``: how many contacts the page lists
    (``listed``, as ``_contacts_listed``), for each category and route step the
    customer's usable contacts, and its contacts authorised at ``at``."""
    counts = {"listed": Count("pk")}
    usable = Q(is_domain=False) & ~Q(email="")
    for category in Category:
        switch = CATEGORY_SWITCHES[category]
        for contact_type in ROUTES[category]:
            counts[f"{category}_{contact_type}"] = Count(
                "pk",
                filter=usable & Q(**{switch: True, TYPE_FIELDS[contact_type]: True}),
            )
    authorised = Q(is_domain=False, is_authorised=True) & (
        Q(authorised_until__isnull=True) | Q(authorised_until__gt=at)
    )
    counts["authorised_now"] = Count("pk", filter=authorised)
    return (
        Contact.objects.active()
        .filter(customer_id=customer_id)
        .values("customer_id")
        .annotate(**counts)
        .order_by()
    )


# Compiled once per process (make bench: building the 14 counts took 2 ms a view).
# Prepared on the server per customer (plans differ with its size), the moment its
# parameter.
_PAGE_SUMMARY = PreparedQuery(
    _page_summary_counts, server_side=PER_CUSTOMER, customer_id=int, at=datetime.datetime
)


def contacts_page_counts(customer: Customer, at=None) -> dict[str, int]:
    """The contacts page's one aggregate query (``_page_summary_counts``) at ``at`` (now):
    ``listed``, the page's count, and what ``contacts_page_summary`` needs. The page's
    count is a column of it rather than a query of its own (make bench: one query less
    a view)."""
    rows = _PAGE_SUMMARY(customer_id=customer.pk, at=at or timezone.now())
    return rows[0] if rows else {"listed": 0}


def contacts_page_summary(
    customer: Customer, contacts: list[Contact], at=None, counts: dict | None = None
) -> tuple[dict[int, list[str]], list[str], bool]:
    """What the contacts page shows beside its contacts, from its aggregate query
    (``counts``, else ``contacts_page_counts`` at ``at``): what each of ``contacts`` gets
    now and what falls back to the account e-mail (K5, as ``routing_overview``: which
    route step of each category has a usable contact), and whether the customer has an
    authorised contact now (K10, as ``has_authorised_contact``)."""
    found = counts if counts is not None else contacts_page_counts(customer, at)
    winners = {
        category: next((t for t in ROUTES[category] if found.get(f"{category}_{t}")), None)
        for category in Category
    }
    fallback = [category for category in Category if winners[category] is None]
    per_contact: dict[int, list[str]] = {}
    for contact in contacts:
        if not contact.email or contact.is_domain or contact.is_archived:
            continue  # not usable (as in _route)
        types = contact.types
        for category in Category:
            winner = winners[category]
            if winner is not None and winner in types and contact.wants(category):
                per_contact.setdefault(contact.pk, []).append(category)
    return per_contact, fallback, bool(found.get("authorised_now"))


def _unique(addresses) -> list[str]:
    seen: list[str] = []
    for address in addresses:
        address = _normalise(address)
        if address and address not in seen:
            seen.append(address)
    return seen


# --- acting by mail (K9) ------------------------------------------------------------


def customers_for_sender(email: str) -> list[Customer]:
    """The customers ``email`` may act for as a contact (K9): every customer with an active
    contact whose *confirmed* address it is. Domain contacts cannot send requests and are
    left out; a merely pending address does not count (K4). The same address may be a
    contact of several customers (K1)."""
    email = _normalise(email)
    if not email:
        return []
    return list(
        Customer.objects.filter(
            pk__in=Contact.objects.active()
            .not_domain()
            .filter(email__iexact=email)
            .values("customer_id")
        ).order_by("number")
    )


def contact_for_sender(customer: Customer, email: str) -> Contact | None:
    """The active, non-domain contact of ``customer`` with this confirmed address, if any."""
    email = _normalise(email)
    if not email:
        return None
    return (
        Contact.objects.active()
        .not_domain()
        .filter(customer=customer, email__iexact=email)
        .order_by("-is_authorised", "pk")
        .first()
    )


# --- invoices (K6, K7) --------------------------------------------------------------


_LOOK_UP = object()


def _invoice_named_contacts(customer_id):
    """The contacts the "Attn." line may name (K6), accounting ones first. A name has at
    least one character and each further one adds ", ", so no more than this many names
    fit the line."""
    most = INVOICE_ATTENTION_LINE_WIDTH // 3 + 1
    return (
        Contact.objects.active()
        .filter(customer_id=customer_id)
        .filter(Q(is_standard=True) | Q(is_accounting=True))
        .order_by("-is_accounting", "-is_primary", "name", "pk")[:most]
    )


# Compiled once per process: the contacts page and every invoice show this line.
# Planned for each customer: a generic plan read all of a big customer's contacts by the
# list's index instead of the Attn. line's (tests/portal/test_list_indexes.py).
_INVOICE_NAMES = PreparedQuery(_invoice_named_contacts, server_side=PER_CUSTOMER, customer_id=int)


def invoice_address_block(customer: Customer, contact_settings=_LOOK_UP) -> list[str]:
    """The name lines of the invoice address (K6): the customer's name, then an "Attn."
    line naming every standard contact — or, if the customer has any accounting contact,
    all accounting contacts instead — as many as fit the line. Nothing but the name if the
    customer chose that no contact is listed. Postal address lines follow below it (they
    belong to the customer's master data, not to contacts).

    ``contact_settings``: the customer's ContactSettings (or None) when the caller has it
    already. Reads only as many contacts as can fit the line, not all of them."""
    lines = [customer.name]
    if contact_settings is _LOOK_UP:
        contact_settings = contact_settings_of(customer)
    if contact_settings is not None and not contact_settings.list_contacts_on_invoice:
        return lines
    # Accounting contacts first: if there is any, only they are named.
    contacts = _INVOICE_NAMES(customer_id=customer.pk)
    accounting = [c for c in contacts if c.is_accounting]
    named = accounting or contacts
    if not named:
        return lines
    prefix = _("Attn.") + " "
    line = prefix + named[0].name
    for contact in named[1:]:
        candidate = f"{line}, {contact.name}"
        if len(candidate) > INVOICE_ATTENTION_LINE_WIDTH:
            break
        line = candidate
    lines.append(line)
    return lines


def invoice_by_mail_allowed(contact: Contact) -> bool:
    """K7: invoices by e-mail can be switched on only for active standard and accounting
    contacts with a confirmed address."""
    return not contact.is_archived and contact.may_get_invoices_by_mail


def invoice_mail_recipients(customer: Customer) -> list[str]:
    """Where invoices go by e-mail: contacts that switched it on and still qualify (K7)."""
    contacts = (
        Contact.objects.active()
        .confirmed()
        .filter(customer=customer, invoice_by_mail=True)
        .filter(Q(is_standard=True) | Q(is_accounting=True))
        .order_by("-is_primary", "name", "pk")
    )
    return _unique(c.email for c in contacts)


# --- authorisation (K10–K12) --------------------------------------------------------


def authorised_contacts(customer: Customer, at=None):
    return Contact.objects.active().not_domain().authorised(at).filter(customer=customer)


def has_authorised_contact(customer: Customer, at=None) -> bool:
    return authorised_contacts(customer, at).exists()


def is_authorised_contact_user(user, customer: Customer, at=None) -> bool:
    """Whether the user's login address is the confirmed address of an authorised contact
    of the customer right now (K10). Such a user is a manager (H3)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    email = _normalise(getattr(user, "email", ""))
    if not email:
        return False
    return authorised_contacts(customer, at).filter(email__iexact=email).exists()


def is_authorised_user(user, customer: Customer, at=None) -> bool:
    """Whether the user may act as an authorised person of the customer (K10, K11):
    a user who is an authorised contact, or a manager (a user the policy lets see all
    of the organisation's tickets; the owner has every permission). Only such users
    name authorised people and change the primary contact."""
    from portal import policy  # the policy imports nothing of this app; no cycle

    access = policy.customer_access(user, customer)
    if access is None or access.via == policy.Via.GRANT:
        return False
    if access.allows(policy.Action.SEE_ALL_TICKETS):
        return True
    return is_authorised_contact_user(user, customer, at)


def primary_contact(customer: Customer) -> Contact | None:
    return Contact.objects.filter(customer=customer, is_primary=True).first()


def standard_contact_count(customer: Customer) -> int:
    return Contact.objects.active().filter(customer=customer, is_standard=True).count()


# --- staff look-ups (K8) ------------------------------------------------------------


def lookup_registered_contacts(*, phone: str = "", email: str = "", at=None):
    """Staff: which active contacts a caller's number or a sender's address belongs to,
    before giving any information (K8; seed 002: only registered contacts get answers).
    Addresses match only when confirmed; numbers match on their digits (a leading 00 is
    read as +, and a national number matches the end of an international one)."""
    at = at or timezone.now()
    qs = Contact.objects.active().select_related("customer")
    conditions = Q()
    digits = digits_of(phone).lstrip("0")
    if len(digits) >= 6:
        # The last nine digits: "+49 30 1234567" and "030 1234567" are the same line.
        conditions |= Q(phone_digits__endswith=digits[-PHONE_MATCH_DIGITS:])
    email = _normalise(email)
    if email:
        conditions |= Q(email__iexact=email)
    if not conditions:
        return Contact.objects.none()
    return qs.filter(conditions).order_by("customer__number", "name")
