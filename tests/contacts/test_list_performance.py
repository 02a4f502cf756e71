"""The contacts page at provider scale (make bench, docs/PERFORMANCE.md): what each
contact gets (K5) and the invoice address (K6) are worked out without loading every
contact of the customer, by the same rules as before."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts import selectors
from contacts.models import Contact
from portal.prepared import executed_sql
from tests.contacts.factories import ContactFactory
from tests.factories import CustomerFactory

TRAITS = ["", "accounting", "technical", "domain", "monitoring", "unconfirmed", "archived"]
SWITCHES = ["notify_invoices", "notify_orders", "notify_support", "notify_security"]


def _mixed_customer():
    customer = CustomerFactory(email="account@x.example")
    for n, (trait, switch) in enumerate(itertools.product(TRAITS, SWITCHES)):
        kwargs = {trait: True} if trait else {}
        if n % 3 == 0:
            kwargs[switch] = False
        ContactFactory(customer=customer, **kwargs)
    return customer


@pytest.mark.django_db
@pytest.mark.parametrize("keep", [None, "technical", "accounting", "standard"])
def test_k5_routing_for_a_page_agrees_with_the_whole_customer(keep):
    """K5: for the contacts of a page, the categories each gets and the account e-mail's
    share are those of the overview over all contacts — also when a route step is empty."""
    customer = _mixed_customer()
    if keep:
        field = f"is_{keep}"
        for contact in Contact.objects.filter(customer=customer, **{field: True}):
            contact.email = ""
            contact.save()
    every = list(Contact.objects.filter(customer=customer).order_by("pk"))
    whole, whole_fallback = selectors.routing_overview(customer)
    for page in (every[:5], every[5:17], every):
        per_contact, fallback = selectors.routing_overview(customer, page)
        assert fallback == whole_fallback
        for contact in page:
            assert per_contact.get(contact.pk, []) == whole.get(contact.pk, [])


@pytest.mark.django_db
def test_k5_routing_for_a_page_is_one_query_at_any_size(django_assert_num_queries):
    customer = CustomerFactory()
    ContactFactory.create_batch(40, customer=customer)
    page = list(Contact.objects.filter(customer=customer)[:25])
    with django_assert_num_queries(1):
        selectors.routing_overview(customer, page)


@pytest.mark.django_db
def test_k6_invoice_block_reads_only_the_names_that_can_fit():
    """K6: the "Attn." line needs no more contacts than fit 60 characters; accounting
    contacts still win over standard ones, the primary one first."""
    customer = CustomerFactory(name="Alpha GmbH")
    ContactFactory.create_batch(30, customer=customer, name="Bo")
    ContactFactory(customer=customer, name="Zed", primary=True)
    with CaptureQueriesContext(connection) as queries:
        block = selectors.invoice_address_block(customer)
    assert "LIMIT 21" in executed_sql(queries.captured_queries[-1]["sql"])
    assert block[1].startswith("Attn. Zed, Bo, Bo")
    assert len(block[1]) <= selectors.INVOICE_ATTENTION_LINE_WIDTH
    ContactFactory(customer=customer, accounting=True, name="Books")
    assert selectors.invoice_address_block(customer)[1] == "Attn. Books"


@pytest.mark.django_db
def test_k6_invoice_block_uses_the_settings_it_is_given(django_assert_num_queries):
    customer = CustomerFactory(name="Alpha GmbH")
    ContactFactory(customer=customer, name="Anna")
    with django_assert_num_queries(1):
        assert selectors.invoice_address_block(customer, None) == ["Alpha GmbH", "Attn. Anna"]


@pytest.mark.django_db
def test_k10_k12_page_summary_says_whether_an_authorised_contact_exists_now():
    """K10, K12: the page's one query also answers ``has_authorised_contact``: an
    unconfirmed authorised contact counts, an archived one or one whose time-limited
    authorisation ended does not."""
    from datetime import timedelta

    from django.utils import timezone

    customer = CustomerFactory()
    ContactFactory(customer=customer)
    assert selectors.contacts_page_summary(customer, [])[2] is False
    ended = ContactFactory(
        customer=customer, authorised=True, authorised_until=timezone.now() - timedelta(days=1)
    )
    ContactFactory(customer=customer, authorised=True, archived=True)
    assert selectors.contacts_page_summary(customer, [])[2] is False
    assert selectors.has_authorised_contact(customer) is False
    ended.authorised_until = timezone.now() + timedelta(days=1)
    ended.email = ""
    ended.save()
    assert selectors.contacts_page_summary(customer, [])[2] is True
    assert selectors.has_authorised_contact(customer) is True


@pytest.mark.django_db
def test_k2_compiled_contact_pages_answer_as_the_list_queryset():
    """K2: the contacts page's count (a column of its aggregate query) and pages (compiled
    once per page) are the list's: active contacts, domain contacts among them, the
    primary one first, by name; another customer's never."""
    customer = CustomerFactory(name="Alpha GmbH")
    ContactFactory.create_batch(29, customer=customer)
    ContactFactory(customer=customer, name="Dom", domain=True)
    ContactFactory(customer=customer, name="Zed", primary=True)
    ContactFactory(customer=customer, name="Gone", archived=True)
    ContactFactory.create_batch(3)  # other customers'
    listed = list(selectors._contacts_listed(customer.pk))
    assert selectors.contacts_page_counts(customer)["listed"] == len(listed) == 31
    for offset in (0, 25, 50):
        page = selectors.contacts_listed_page(customer, offset, 25)
        assert [c.pk for c in page] == [c.pk for c in listed[offset : offset + 25]]
    assert selectors.contacts_listed_page(customer, 0, 25)[0].name == "Zed"
    assert selectors.contact_settings_of(customer) is None
    assert selectors.contacts_page_counts(CustomerFactory())["listed"] == 0
