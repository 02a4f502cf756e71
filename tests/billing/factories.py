"""Factories for contract data (tests/billing)."""

from datetime import date
from decimal import Decimal

import factory

from billing.models import Contract, Invoice, InvoiceLine, PaymentMethod
from tests.factories import CustomerFactory


class ContractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"V-{n:06d}")
    product = "Webhosting Business"
    starts_on = date(2026, 1, 1)
    price = Decimal("24.90")


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    customer = factory.SubFactory(CustomerFactory)
    number = factory.Sequence(lambda n: f"R-{n:06d}")
    issued_on = date(2026, 10, 1)
    due_on = date(2026, 10, 15)
    total = Decimal("24.90")


class InvoiceLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    customer = factory.LazyAttribute(lambda o: o.invoice.customer)
    description = "Webhosting Business"
    unit_price = Decimal("24.90")
    amount = Decimal("24.90")


class PaymentMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentMethod

    customer = factory.SubFactory(CustomerFactory)
    kind = PaymentMethod.Kind.SEPA_DEBIT
    account_holder = "Alice Hosting GmbH"
    reference = "DE89 **** 3000"
