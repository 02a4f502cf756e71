"""Writes of contract data. In production invoices come from the provider's billing
system; these services are what an import (and the demo) calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, HostingAccount
from billing.models import Contract, Invoice, InvoiceLine, PaymentMethod


@dataclass(frozen=True)
class Line:
    description: str
    unit_price: Decimal
    quantity: Decimal = Decimal(1)
    customer: Customer | None = None  # on a collective invoice: the sub-account billed
    contract: Contract | None = None


@transaction.atomic
def contract_create(
    *,
    customer: Customer,
    number: str,
    product: str,
    starts_on: date,
    price: Decimal,
    hosting_account: HostingAccount | None = None,
    **fields,
) -> Contract:
    contract = Contract(
        customer=customer,
        number=number,
        product=product,
        starts_on=starts_on,
        price=price,
        hosting_account=hosting_account,
        **fields,
    )
    contract.full_clean()
    contract.save()
    return contract


def _billable(main: Customer, customer: Customer, collective: bool) -> bool:
    """Whether a line for ``customer`` may go on ``main``'s invoice (read from the database,
    not from objects the caller may hold from before a change)."""
    if customer.pk == main.pk:
        return True
    return (
        collective
        and Customer.objects.filter(
            pk=customer.pk, parent=main, on_collective_invoice=True
        ).exists()
    )


@transaction.atomic
def invoice_create(
    *,
    customer: Customer,
    number: str,
    issued_on: date,
    due_on: date,
    lines: list[Line],
    collective: bool = False,
    **fields,
) -> Invoice:
    """An invoice with its lines; the total is their sum.

    A collective invoice (C4) belongs to a main account and may carry lines for those of
    its sub-accounts that are on the collective invoice, and for nobody else.
    """
    if collective and customer.parent_id is not None:
        raise ValidationError(_("Only a main account takes a collective invoice (C4)."))
    invoice = Invoice(
        customer=customer,
        number=number,
        issued_on=issued_on,
        due_on=due_on,
        is_collective=collective,
        **fields,
    )
    invoice.full_clean()
    invoice.save()
    total = Decimal(0)
    for line in lines:
        billed = line.customer or customer
        if not _billable(customer, billed, collective):
            raise ValidationError(
                _("%(number)s is not on this customer's collective invoice (C4).")
                % {"number": billed.display_number}
            )
        if line.contract is not None and line.contract.customer_id != billed.pk:
            raise ValidationError(_("The contract belongs to another customer."))
        amount = (line.unit_price * line.quantity).quantize(Decimal("0.01"))
        InvoiceLine.objects.create(
            invoice=invoice,
            customer=billed,
            contract=line.contract,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            amount=amount,
        )
        total += amount
    invoice.total = total
    invoice.save(update_fields=["total"])
    return invoice


@transaction.atomic
def payment_method_set(*, customer: Customer, kind: str, **fields) -> PaymentMethod:
    method, _created = PaymentMethod.objects.update_or_create(
        customer=customer, defaults={"kind": kind, **fields}
    )
    method.full_clean()
    return method
