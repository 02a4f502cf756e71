"""Reads other apps use: routing (K5), sender look-up (K9), invoices (K6, K7),
authorised users (K10, H3), staff look-ups (K8)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from contacts import selectors
from contacts.models import CATEGORY_SWITCHES, Category, ContactSettings, ContactType
from tests.contacts.factories import ContactFactory
from tests.factories import CustomerFactory, MembershipFactory

pytestmark = pytest.mark.django_db

ACCOUNT = "office@routing.example"
CONTACT = "person@routing.example"
S, A, T = ContactType.STANDARD, ContactType.ACCOUNTING, ContactType.TECHNICAL

# K5 as a table: a customer whose only contact has these types gets each category at...
# "contact" = the contact's address, "account" = the customer's account e-mail (fallback).
ROUTING_TABLE = {
    # types of the only contact:   invoices   orders     support    security   maint.     outages
    (ContactType.STANDARD,): ("contact", "contact", "contact", "account", "account", "account"),
    (ContactType.ACCOUNTING,): ("contact", "account", "account", "account", "account", "account"),
    (ContactType.TECHNICAL,): ("account", "account", "account", "contact", "contact", "contact"),
    (ContactType.DOMAIN,): ("account", "account", "account", "account", "account", "account"),
    (ContactType.MONITORING,): ("account", "account", "account", "account", "account", "account"),
    (ContactType.OWNER,): ("account", "account", "account", "account", "account", "account"),
    (ContactType.SIGNATORY,): ("account", "account", "account", "account", "account", "account"),
    (S, T): ("contact", "contact", "contact", "contact", "contact", "contact"),
    (A, T): ("contact", "account", "account", "contact", "contact", "contact"),
    (S, A): ("contact", "contact", "contact", "account", "account", "account"),
}
CATEGORIES = [
    Category.INVOICES,
    Category.ORDERS,
    Category.SUPPORT,
    Category.SECURITY,
    Category.MAINTENANCE,
    Category.OUTAGES,
]
CASES = [
    pytest.param(types, category, expected, id=f"{'+'.join(types)}-{category}")
    for types, row in ROUTING_TABLE.items()
    for category, expected in zip(CATEGORIES, row, strict=True)
]


def test_routing_table_covers_every_type_and_category():
    """K5: the table names every single type and every category."""
    single = {types[0] for types in ROUTING_TABLE if len(types) == 1}
    assert single == set(ContactType.values)
    assert set(CATEGORIES) == set(Category.values)


def _contact_with(customer, types, **extra):
    contact = ContactFactory.build(customer=customer, email=CONTACT, is_standard=False, **extra)
    contact.set_types(types)
    contact.save()
    return contact


@pytest.mark.parametrize(("types", "category", "expected"), CASES)
def test_k5_routing_by_type_and_category(types, category, expected):
    """K5: each type × category, with the account e-mail as the fallback."""
    customer = CustomerFactory(email=ACCOUNT)
    _contact_with(customer, types)
    want = [CONTACT] if expected == "contact" else [ACCOUNT]
    assert selectors.recipients_for(customer, category) == want


@pytest.mark.parametrize(("types", "category", "expected"), CASES)
def test_k5_switch_off_falls_back(types, category, expected):
    """K5: a contact's switch for the category narrows what it gets — with it off, the
    notification goes where it would go without that contact."""
    customer = CustomerFactory(email=ACCOUNT)
    _contact_with(customer, types, **{CATEGORY_SWITCHES[category]: False})
    assert selectors.recipients_for(customer, category) == [ACCOUNT]


@pytest.mark.parametrize("category", CATEGORIES)
def test_k5_k4_unconfirmed_address_is_never_used(category):
    """K5, K4: a contact whose address is still pending gets nothing."""
    customer = CustomerFactory(email=ACCOUNT)
    contact = _contact_with(customer, [S, A, T])
    contact.email = ""
    contact.pending_email = CONTACT
    contact.pending_requested_at = timezone.now()
    contact.save()
    assert selectors.recipients_for(customer, category) == [ACCOUNT]


@pytest.mark.parametrize("category", CATEGORIES)
def test_k5_archived_contact_gets_nothing(category):
    customer = CustomerFactory(email=ACCOUNT)
    _contact_with(customer, [S, A, T], archived_at=timezone.now())
    assert selectors.recipients_for(customer, category) == [ACCOUNT]


def test_k5_invoices_go_to_accounting_not_standard():
    """K5: invoices go to accounting contacts, else standard."""
    customer = CustomerFactory(email=ACCOUNT)
    ContactFactory(customer=customer, email="std@x.example")
    ContactFactory(customer=customer, name="A", accounting=True, email="books@x.example")
    ContactFactory(customer=customer, name="B", accounting=True, email="books2@x.example")
    assert selectors.recipients_for(customer, Category.INVOICES) == [
        "books@x.example",
        "books2@x.example",
    ]
    assert selectors.recipients_for(customer, Category.ORDERS) == ["std@x.example"]


def test_k5_accounting_switched_off_falls_back_to_standard():
    customer = CustomerFactory(email=ACCOUNT)
    ContactFactory(customer=customer, email="std@x.example")
    ContactFactory(customer=customer, accounting=True, notify_invoices=False)
    assert selectors.recipients_for(customer, Category.INVOICES) == ["std@x.example"]


def test_k5_security_goes_to_technical_only():
    """K5: security notices to technical contacts, not to standard ones."""
    customer = CustomerFactory(email=ACCOUNT)
    ContactFactory(customer=customer, email="std@x.example")
    ContactFactory(customer=customer, technical=True, email="ops@x.example")
    assert selectors.recipients_for(customer, Category.SECURITY) == ["ops@x.example"]
    assert selectors.recipients_for(customer, Category.OUTAGES) == ["ops@x.example"]


def test_k5_domain_contact_never_gets_notifications_even_as_only_contact():
    customer = CustomerFactory(email="")
    ContactFactory(customer=customer, domain=True, email="dns@x.example")
    for category in CATEGORIES:
        assert selectors.recipients_for(customer, category) == []


def test_k5_k11_primary_first_and_no_duplicates():
    """K11: the primary contact is the first recipient; an address appears once."""
    customer = CustomerFactory(email=ACCOUNT)
    ContactFactory(customer=customer, name="Aaron", email="same@x.example")
    ContactFactory(customer=customer, name="Berta", email="SAME@x.example")
    ContactFactory(customer=customer, name="Zoe", email="zoe@x.example", primary=True)
    assert selectors.recipients_for(customer, Category.SUPPORT) == [
        "zoe@x.example",
        "same@x.example",
    ]


def test_k5_other_customers_contacts_are_not_used():
    customer = CustomerFactory(email=ACCOUNT)
    ContactFactory(technical=True)  # another customer's
    assert selectors.recipients_for(customer, Category.SECURITY) == [ACCOUNT]


def test_k5_routing_is_one_query(django_assert_num_queries):
    customer = CustomerFactory(email=ACCOUNT)
    ContactFactory.create_batch(5, customer=customer)
    ContactFactory.create_batch(5, customer=customer, technical=True)
    with django_assert_num_queries(1):
        selectors.recipients_for(customer, Category.SECURITY)


# --- U3: members' own notification choices ------------------------------------------


def test_u3_members_who_chose_a_category_and_may_read_it_get_it():
    """U3: a member's notification switches decide which mails the person gets, on top of
    the contacts K5 chooses; each kind only to members allowed to read it (invoices: view
    and pay invoices; orders and access data: view products; support: see all tickets)."""
    customer = CustomerFactory(email=ACCOUNT)
    ContactFactory(customer=customer, email="office@x.example")
    MembershipFactory(customer=customer, owner=True, user__email="boss@x.example")
    MembershipFactory(
        customer=customer,
        user__email="books@x.example",
        can_view_invoices=True,
        notify_invoices=True,
        notify_support=False,
    )
    MembershipFactory(
        customer=customer,
        user__email="nosy@x.example",
        notify_invoices=True,
        notify_support=True,
    )
    MembershipFactory(
        customer=customer,
        user__email="lead@x.example",
        can_see_all_tickets=True,
        notify_support=True,
    )
    MembershipFactory(
        customer=customer,
        user__email="gone@x.example",
        owner=True,
        user__status="inactive",
    )
    assert selectors.member_recipients(customer, Category.INVOICES) == ["books@x.example"]
    # Owners hold every permission; support is on by default (the owner did not switch it off).
    assert selectors.member_recipients(customer, Category.SUPPORT) == [
        "boss@x.example",
        "lead@x.example",
    ]
    assert selectors.member_recipients(customer, Category.SECURITY) == []
    assert selectors.notification_recipients(customer, Category.INVOICES) == [
        "office@x.example",
        "books@x.example",
    ]


def test_u3_member_recipients_never_cross_tenants():
    customer = CustomerFactory(email=ACCOUNT)
    MembershipFactory(user__email="elsewhere@x.example", owner=True)  # another customer's
    assert selectors.notification_recipients(customer, Category.SUPPORT) == [ACCOUNT]


# --- K9 -----------------------------------------------------------------------------


def test_k9_sender_acts_for_every_customer_it_is_a_contact_of():
    """K9, K1: the same confirmed address may be a contact of several customers."""
    first, second, third = CustomerFactory(), CustomerFactory(), CustomerFactory()
    ContactFactory(customer=first, email="pat@x.example")
    ContactFactory(customer=second, technical=True, email="pat@x.example")
    ContactFactory(customer=third, email="someone@x.example")
    assert selectors.customers_for_sender("Pat@X.example") == [first, second]


def test_k9_domain_contacts_archived_and_pending_addresses_do_not_count():
    """K9: domain contacts cannot send requests; K4: a pending address is not used."""
    domain_only, archived, pending = CustomerFactory(), CustomerFactory(), CustomerFactory()
    ContactFactory(customer=domain_only, domain=True, email="pat@x.example")
    ContactFactory(customer=archived, archived=True, email="pat@x.example")
    ContactFactory(customer=pending, unconfirmed=True, pending_email="pat@x.example")
    assert selectors.customers_for_sender("pat@x.example") == []
    assert selectors.customers_for_sender("") == []


# --- K6, K7 -------------------------------------------------------------------------


def test_k6_standard_contacts_are_listed_attn():
    customer = CustomerFactory(name="Alpha GmbH")
    ContactFactory(customer=customer, name="Anna Berger")
    ContactFactory(customer=customer, name="Jonas Keller", unconfirmed=True)
    ContactFactory(customer=customer, name="Tech Person", technical=True)
    ContactFactory(customer=customer, name="Gone Person", archived=True)
    assert selectors.invoice_address_block(customer) == [
        "Alpha GmbH",
        "Attn. Anna Berger, Jonas Keller",
    ]


def test_k6_accounting_contacts_replace_standard_ones_as_many_as_fit():
    customer = CustomerFactory(name="Alpha GmbH")
    ContactFactory(customer=customer, name="Anna Berger")
    for name in ["Buchhaltung", "Carla Dietrich-Meyerhoff", "Dora Eckstein", "Emil Fuchs"]:
        ContactFactory(customer=customer, name=name, accounting=True)
    block = selectors.invoice_address_block(customer)
    assert block[0] == "Alpha GmbH"
    assert block[1].startswith("Attn. Buchhaltung, Carla Dietrich-Meyerhoff")
    assert "Anna Berger" not in block[1]
    assert len(block[1]) <= selectors.INVOICE_ATTENTION_LINE_WIDTH
    assert "Emil Fuchs" not in block[1]  # did not fit the line


def test_k6_customer_can_choose_no_contact_listed():
    customer = CustomerFactory(name="Alpha GmbH")
    ContactFactory(customer=customer, name="Anna Berger")
    ContactSettings.objects.create(customer=customer, list_contacts_on_invoice=False)
    assert selectors.invoice_address_block(customer) == ["Alpha GmbH"]


@pytest.mark.parametrize(
    ("traits", "allowed"),
    [
        ({}, True),
        ({"accounting": True}, True),
        ({"technical": True}, False),
        ({"monitoring": True}, False),
        ({"owner_only": True}, False),
        ({"domain": True}, False),
        ({"unconfirmed": True}, False),
        ({"archived": True}, False),
    ],
)
def test_k7_invoice_by_mail_allowed(traits, allowed):
    """K7: only standard and accounting contacts with a confirmed address."""
    assert selectors.invoice_by_mail_allowed(ContactFactory(**traits)) is allowed


def test_k7_invoice_mail_recipients():
    customer = CustomerFactory()
    ContactFactory(customer=customer, email="a@x.example", invoice_by_mail=True)
    ContactFactory(customer=customer, email="b@x.example")
    assert selectors.invoice_mail_recipients(customer) == ["a@x.example"]


def test_k7_database_refuses_invoice_mail_for_ineligible_contact():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(technical=True, invoice_by_mail=True)


# --- K10, K12, H3 -------------------------------------------------------------------


def test_k10_user_who_is_an_authorised_contact_is_authorised(customer):
    """K10, H3: a user whose login address is an authorised contact's confirmed address."""
    member = MembershipFactory(customer=customer, user__email="boss@x.example").user
    assert not selectors.is_authorised_user(member, customer)
    ContactFactory(customer=customer, email="boss@x.example", authorised=True)
    assert selectors.is_authorised_user(member, customer)
    assert selectors.is_authorised_contact_user(member, customer)


def test_k10_pending_address_or_other_customer_does_not_authorise(customer, other_customer):
    member = MembershipFactory(customer=customer, user__email="boss@x.example").user
    ContactFactory(
        customer=customer, unconfirmed=True, pending_email="boss@x.example", authorised=True
    )
    ContactFactory(customer=other_customer, email="boss@x.example", authorised=True)
    assert not selectors.is_authorised_user(member, customer)


def test_k10_manager_and_owner_are_authorised(customer, owner):
    manager = MembershipFactory(customer=customer, can_see_all_tickets=True).user
    assert selectors.is_authorised_user(owner, customer)
    assert selectors.is_authorised_user(manager, customer)


def test_k10_outsider_is_never_authorised(customer, outsider):
    ContactFactory(customer=customer, email=outsider.email, authorised=True)
    assert not selectors.is_authorised_user(outsider, customer)


def test_k12_time_limited_authorisation_ends_by_itself_on_read(customer):
    """K12: authorised until a time; after it, no longer — whether or not a job ran."""
    member = MembershipFactory(customer=customer, user__email="director@x.example").user
    contact = ContactFactory(
        customer=customer,
        email="director@x.example",
        authorised=True,
        authorised_until=timezone.now() + timedelta(hours=1),
    )
    assert selectors.is_authorised_user(member, customer)
    later = timezone.now() + timedelta(hours=2)
    assert not selectors.is_authorised_user(member, customer, at=later)
    assert not contact.is_authorised_now(at=later)
    assert not selectors.has_authorised_contact(customer, at=later)


# --- K8 -----------------------------------------------------------------------------


def test_k8_lookup_by_phone_in_national_or_international_form(customer, other_customer):
    ContactFactory(customer=customer, name="Anna", phone="+49 30 1234567", phone_digits="")
    from contacts.models import Contact

    for contact in Contact.objects.all():
        contact.full_clean()
        contact.save()
    found = list(selectors.lookup_registered_contacts(phone="030 / 123 45 67"))
    assert [c.name for c in found] == ["Anna"]
    assert list(selectors.lookup_registered_contacts(phone="0049301234567")) == found
    assert not selectors.lookup_registered_contacts(phone="030 7654321").exists()
    assert not selectors.lookup_registered_contacts(phone="12").exists()


def test_k8_lookup_by_sender_address_needs_a_confirmed_address(customer):
    ContactFactory(customer=customer, name="Anna", email="anna@x.example")
    ContactFactory(customer=customer, name="Pending", unconfirmed=True, pending_email="p@x.example")
    assert [c.name for c in selectors.lookup_registered_contacts(email="ANNA@x.example")] == [
        "Anna"
    ]
    assert not selectors.lookup_registered_contacts(email="p@x.example").exists()
    assert not selectors.lookup_registered_contacts().exists()


def test_h3_k10_authorised_contact_user_is_a_manager(customer, member, outsider):
    """H3, K10: a user who is an authorised contact is a manager (policy.is_manager)."""
    from portal import policy

    assert not policy.is_manager(member, customer)
    ContactFactory(customer=customer, email=member.email, authorised=True)
    ContactFactory(customer=customer, email=outsider.email, authorised=True)
    assert policy.is_manager(member, customer)
    assert not policy.is_manager(outsider, customer)


def test_k5_routing_overview_agrees_with_recipients_for():
    """K5: the contacts page shows what each contact gets, by the same rules."""
    customer = CustomerFactory(email=ACCOUNT)
    std = ContactFactory(customer=customer, email="std@x.example")
    books = ContactFactory(customer=customer, accounting=True, email="books@x.example")
    ContactFactory(customer=customer, technical=True, notify_outages=False, email="ops@x.example")
    per_contact, fallback = selectors.routing_overview(customer)
    for category in CATEGORIES:
        expected = selectors.recipients_for(customer, category)
        got = [c.email for c in (std, books) if category in per_contact.get(c.pk, [])]
        if category in fallback:
            assert expected == [ACCOUNT]
        elif category in (Category.SECURITY, Category.MAINTENANCE):
            assert expected == ["ops@x.example"]
        else:
            assert got == expected
    assert fallback == [Category.OUTAGES]
    assert per_contact[books.pk] == [Category.INVOICES]
