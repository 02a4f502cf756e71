"""Reads of contract data for pages the policy has already allowed (VIEW_INVOICES)."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Customer
from billing.models import Contract, Invoice, InvoiceLine, PaymentMethod


def contracts_of(customer: Customer) -> QuerySet[Contract]:
    return Contract.objects.filter(customer=customer).select_related("hosting_account")


def invoices_of(customer: Customer) -> QuerySet[Invoice]:
    return Invoice.objects.filter(customer=customer)


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
    """The address block printed on an invoice: the name lines of K6 (customer name, then
    "Attn." with the standard or accounting contacts), then the postal address.

    The one call site of the contacts app's ``invoice_address_block``. Until that app is
    merged, the name lines are just the customer's name.
    """
    try:
        from contacts.selectors import invoice_address_block
    except ImportError:  # the contacts app is not merged yet
        name_lines = [customer.name]
    else:
        name_lines = list(invoice_address_block(customer))
    return [*name_lines, *customer.address_lines()]
