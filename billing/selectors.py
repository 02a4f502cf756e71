"""Reads of contract data for pages the policy has already allowed (VIEW_INVOICES)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Customer
from billing.models import Contract, Invoice, InvoiceLine, PaymentMethod
from contacts.selectors import invoice_address_block
from portal.pagination import CompiledList, PagedList


def contracts_of(customer: Customer) -> QuerySet[Contract]:
    return Contract.objects.filter(customer=customer).select_related("hosting_account")


def _invoices_listed(customer_id):
    return Invoice.objects.filter(customer_id=customer_id)  # newest first (Meta)


_INVOICE_LIST = CompiledList(_invoices_listed)


def invoices_of(customer: Customer) -> QuerySet[Invoice]:
    return _invoices_listed(customer.pk)


def invoices_paged(customer: Customer, page_size: int) -> PagedList:
    """``invoices_of`` for a ``Paginator``: count and pages compiled once (make bench)."""
    return _INVOICE_LIST.paged(customer.pk, page_size)


def payment_method_of(customer: Customer) -> PaymentMethod | None:
    return PaymentMethod.objects.filter(customer=customer).first()


def lines_by_customer(invoice: Invoice) -> list[dict]:
    """The invoice's lines grouped by customer number, the invoice's own customer first:
    how a collective invoice (C4) shows what each sub-account cost."""
    groups: dict[int, dict] = {}
    lines = InvoiceLine.objects.filter(invoice=invoice).select_related("customer", "contract")
    for line in lines:
        group = groups.setdefault(
            line.customer_id, {"customer": line.customer, "lines": [], "subtotal": 0}
        )
        group["lines"].append(line)
        group["subtotal"] += line.amount
    return sorted(
        groups.values(),
        key=lambda g: (g["customer"].pk != invoice.customer_id, g["customer"].number),
    )


def invoice_address_lines(customer: Customer) -> list[str]:
    """The address block printed on an invoice: the name lines of K6 from the contacts app
    (the customer's name, then "Attn." with the standard or accounting contacts), then the
    customer's postal address. The one place contract pages ask for it."""
    return [*invoice_address_block(customer), *customer.address_lines()]
