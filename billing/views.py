"""Contract data of a customer: contracts, invoices, payment method, the printable
invoice with its address block (K6), the collective invoice (C4).

Only with "view and pay invoices" (U3); never for a delegate, whose grant reaches hosting
accounts and nothing customer-wide (D4, S3).
"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from billing import selectors
from billing.models import Contract, Invoice
from portal import policy
from portal.policy import Action

PAGE_SIZE = 25


@login_required
def invoice_list(request, customer):
    customer = policy.get_customer_for(request, customer, Action.VIEW_INVOICES)
    invoices = selectors.invoices_paged(customer, PAGE_SIZE)
    page = Paginator(invoices, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "billing/invoice_list.html", {"customer": customer, "page": page})


def _invoice_context(request, number, invoice_id):
    customer = policy.get_customer_for(request, number, Action.VIEW_INVOICES)
    invoice = get_object_or_404(Invoice, pk=invoice_id, customer=customer)
    return {
        "customer": customer,
        "invoice": invoice,
        "groups": selectors.lines_by_customer(invoice),
    }


@login_required
def invoice_detail(request, customer, invoice):
    context = _invoice_context(request, customer, invoice)
    return render(request, "billing/invoice_detail.html", context)


@login_required
def invoice_print(request, customer, invoice):
    """A print-ready invoice (the browser prints it or saves it as PDF) carrying the
    invoice address block (K6)."""
    context = _invoice_context(request, customer, invoice)
    context["address_lines"] = selectors.invoice_address_lines(context["customer"])
    return render(request, "billing/invoice_print.html", context)


@login_required
def contract_list(request, customer):
    customer = policy.get_customer_for(request, customer, Action.VIEW_INVOICES)
    page = Paginator(selectors.contracts_of(customer), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "billing/contract_list.html",
        {
            "customer": customer,
            "page": page,
            "payment_method": selectors.payment_method_of(customer),
        },
    )


@login_required
def contract_detail(request, customer, contract):
    customer = policy.get_customer_for(request, customer, Action.VIEW_INVOICES)
    contract = get_object_or_404(
        Contract.objects.select_related("hosting_account"), pk=contract, customer=customer
    )
    return render(
        request, "billing/contract_detail.html", {"customer": customer, "contract": contract}
    )
