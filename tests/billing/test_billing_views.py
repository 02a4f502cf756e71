"""Contract data pages: only with "view and pay invoices" (U3); the printable invoice with
the address block (K6); the collective invoice of a main account (C4)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import selectors, services
from tests.billing.factories import (
    ContractFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentMethodFactory,
)
from tests.contacts.factories import ContactFactory
from tests.factories import CustomerFactory, HostingAccountFactory, MembershipFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def url(name, customer, **kwargs):
    return reverse(f"accounts:{name}", kwargs={"customer": customer.number, **kwargs})


@pytest.fixture
def accountant(customer):
    return MembershipFactory(
        customer=customer, can_view_invoices=True, can_view_products=False
    ).user


@pytest.fixture
def invoice(customer):
    return InvoiceLineFactory(invoice__customer=customer, description="Webhosting Business").invoice


@pytest.fixture
def contract(customer, account):
    return ContractFactory(customer=customer, hosting_account=account, product="Managed DNS")


def all_urls(customer, invoice, contract):
    return [
        url("invoice_list", customer),
        url("invoice_detail", customer, invoice=invoice.pk),
        url("invoice_print", customer, invoice=invoice.pk),
        url("contract_list", customer),
        url("contract_detail", customer, contract=contract.pk),
    ]


def test_users_who_may_view_invoices_see_contract_data(
    owner, accountant, customer, invoice, contract
):
    """U3: owners and members with "view and pay invoices" read every contract page."""
    PaymentMethodFactory(customer=customer, reference="DE89 **** 3000")
    for user in (owner, accountant):
        client = sign_in(Client(), user)
        for target in all_urls(customer, invoice, contract):
            assert client.get(target).status_code == 200, target
    page = sign_in(Client(), accountant).get(url("contract_list", customer)).content.decode()
    assert "Managed DNS" in page and "DE89 **** 3000" in page


def test_everyone_else_is_refused(client, member, outsider, customer, invoice, contract):
    """U3: a member without the permission 403; S1 another tenant 404; S2 anonymous."""
    member_client = sign_in(Client(), member)
    outsider_client = sign_in(Client(), outsider)
    for target in all_urls(customer, invoice, contract):
        assert reverse("accounts:login") in client.get(target)["Location"]
        assert member_client.get(target).status_code == 403
        assert outsider_client.get(target).status_code == 404


def test_another_customers_invoice_is_404_under_ones_own_customer(
    accountant, customer, other_customer
):
    """S1: ids of another tenant's invoices and contracts are 404."""
    foreign_invoice = InvoiceFactory(customer=other_customer)
    foreign_contract = ContractFactory(customer=other_customer)
    client = sign_in(Client(), accountant)
    assert (
        client.get(url("invoice_detail", customer, invoice=foreign_invoice.pk)).status_code == 404
    )
    assert client.get(url("invoice_print", customer, invoice=foreign_invoice.pk)).status_code == 404
    assert (
        client.get(url("contract_detail", customer, contract=foreign_contract.pk)).status_code
        == 404
    )


def test_list_query_counts_are_fixed(accountant, customer):
    client = sign_in(Client(), accountant)

    def count(name):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(name, customer)).status_code == 200
        return len(queries)

    InvoiceFactory.create_batch(2, customer=customer)
    ContractFactory.create_batch(
        2, customer=customer, hosting_account=HostingAccountFactory(customer=customer)
    )
    small = (count("invoice_list"), count("contract_list"))
    InvoiceFactory.create_batch(20, customer=customer)
    for _i in range(20):
        ContractFactory(customer=customer, hosting_account=HostingAccountFactory(customer=customer))
    assert (count("invoice_list"), count("contract_list")) == small


def test_the_printable_invoice_carries_the_address_block(accountant, customer, invoice):
    """K6: the print-ready invoice starts with the invoice address block: the name, "Attn."
    with the accounting contacts (not the standard one), then the postal address."""
    customer.street, customer.postal_code, customer.city = "Hafenweg 2", "20457", "Hamburg"
    customer.save()
    ContactFactory(customer=customer, name="Stan Standard")
    ContactFactory(customer=customer, name="Ada Accounting", is_standard=False, is_accounting=True)
    page = sign_in(Client(), accountant).get(url("invoice_print", customer, invoice=invoice.pk))
    html = page.content.decode()
    block = html[html.index('class="invoice-address"') : html.index("</address>")]
    assert selectors.invoice_address_lines(customer) == [
        customer.name,
        "Attn. Ada Accounting",
        "Hafenweg 2",
        "20457 Hamburg",
    ]
    for line in selectors.invoice_address_lines(customer):
        assert line in block
    assert "Stan Standard" not in block


def test_a_collective_invoice_lists_each_sub_account(main_user, main_customer, sub_customer):
    """C4: the main account's collective invoice has a part per customer number."""
    sub_customer.on_collective_invoice = True
    sub_customer.save()
    invoice = services.invoice_create(
        customer=main_customer,
        number="R-COLL-1",
        issued_on=InvoiceFactory.issued_on,
        due_on=InvoiceFactory.due_on,
        collective=True,
        lines=[
            services.Line("Main hosting", Decimal("10.00")),
            services.Line("Shop hosting", Decimal("5.50"), customer=sub_customer),
        ],
    )
    assert invoice.total == Decimal("15.50")
    page = sign_in(Client(), main_user).get(
        url("invoice_detail", main_customer, invoice=invoice.pk)
    )
    html = page.content.decode()
    assert sub_customer.display_number in html and "Shop hosting" in html
    assert "collective invoice" in html


def test_a_collective_invoice_takes_only_its_sub_accounts(
    main_customer, sub_customer, other_customer
):
    """C4: lines only for sub-accounts on the collective invoice, and only on a main
    account's invoice."""
    for stranger in (sub_customer, other_customer):  # sub_customer is not on it yet
        with pytest.raises(ValidationError):
            services.invoice_create(
                customer=main_customer,
                number=f"R-X-{stranger.pk}",
                issued_on=InvoiceFactory.issued_on,
                due_on=InvoiceFactory.due_on,
                collective=True,
                lines=[services.Line("x", Decimal(1), customer=stranger)],
            )
    with pytest.raises(ValidationError):
        services.invoice_create(
            customer=sub_customer,
            number="R-SUB",
            issued_on=InvoiceFactory.issued_on,
            due_on=InvoiceFactory.due_on,
            collective=True,
            lines=[],
        )


def test_a_sub_account_on_the_collective_invoice_sees_a_note_not_the_main_invoice(
    main_customer, sub_customer
):
    """C3, C4: the sub-account's own users learn where its charges go, and never see the
    main account's invoices."""
    sub_customer.on_collective_invoice = True
    sub_customer.save()
    main_invoice = InvoiceFactory(customer=main_customer, is_collective=True)
    sub_owner = MembershipFactory(customer=sub_customer, owner=True).user
    client = sign_in(Client(), sub_owner)
    page = client.get(url("invoice_list", sub_customer)).content.decode()
    assert "collective invoice of its main account" in page
    assert client.get(url("invoice_list", main_customer)).status_code == 404
    assert (
        client.get(url("invoice_detail", sub_customer, invoice=main_invoice.pk)).status_code == 404
    )


def test_main_account_users_read_a_sub_accounts_invoices(main_user, sub_customer):
    """C3: from one login, with the main membership's permissions."""
    invoice = InvoiceFactory(customer=sub_customer)
    client = sign_in(Client(), main_user)
    assert client.get(url("invoice_detail", sub_customer, invoice=invoice.pk)).status_code == 200


def test_a_customer_without_listed_contacts_gets_name_and_address():
    """K6: with no contact to name, the block is the name and the postal address."""
    customer = CustomerFactory(name="Solo", street="Weg 1", postal_code="12345", city="Ort")
    assert selectors.invoice_address_lines(customer) == ["Solo", "Weg 1", "12345 Ort"]
