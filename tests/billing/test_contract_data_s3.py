"""S3: a delegate never sees the grantor's contract data — not on any page it reaches."""

import pytest
from django.apps import apps
from django.urls import reverse

from billing.models import CONTRACT_DATA_FIELDS
from tests.billing.factories import (
    ContractFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentMethodFactory,
)

pytestmark = pytest.mark.django_db

MARK = "S3-MARKER"


@pytest.fixture
def marked_contract_data(customer, account):
    """A unique marker in every contract-data field of the grantor, and in its postal
    address (the billing address)."""
    contract = ContractFactory(customer=customer, hosting_account=account)
    invoice = InvoiceFactory(customer=customer)
    line = InvoiceLineFactory(invoice=invoice)
    method = PaymentMethodFactory(customer=customer)
    objects = {
        "billing.Contract": contract,
        "billing.Invoice": invoice,
        "billing.InvoiceLine": line,
        "billing.PaymentMethod": method,
    }
    assert set(objects) == set(CONTRACT_DATA_FIELDS)
    for label, fields in CONTRACT_DATA_FIELDS.items():
        obj = objects[label]
        for field in fields:
            setattr(obj, field, f"{MARK}-{label}-{field}"[: obj._meta.get_field(field).max_length])
        obj.save()
    for field in ("street", "postal_code", "city", "phone"):
        setattr(customer, field, f"{MARK}-{field}"[:20])
    customer.save()
    assert apps.get_model("billing.Contract").objects.filter(number__startswith=MARK).exists()
    return {"contract": contract, "invoice": invoice}


def test_a_delegate_never_sees_contract_data(
    client_for, delegate, agency, grant, customer, account, marked_contract_data
):
    """S3, D4: the agency's pages, the granted account's page and every contract-data URL
    of the grantor: the granted account is reachable, no marker anywhere, contract pages
    404."""
    client = client_for(delegate)
    reachable = [
        reverse("portal:home"),
        agency.get_absolute_url(),
        account.get_absolute_url(),
    ]
    for url in reachable:
        response = client.get(url, follow=True)
        assert response.status_code == 200, url
        assert MARK not in response.content.decode(), url
    invoice = marked_contract_data["invoice"]
    contract = marked_contract_data["contract"]
    number = customer.number
    refused = [
        reverse("accounts:invoice_list", kwargs={"customer": number}),
        reverse("accounts:invoice_detail", kwargs={"customer": number, "invoice": invoice.pk}),
        reverse("accounts:invoice_print", kwargs={"customer": number, "invoice": invoice.pk}),
        reverse("accounts:contract_list", kwargs={"customer": number}),
        reverse("accounts:contract_detail", kwargs={"customer": number, "contract": contract.pk}),
        reverse("accounts:sub_account_list", kwargs={"customer": number}),
        reverse("accounts:member_list", kwargs={"customer": number}),
        reverse("accounts:audit_log", kwargs={"customer": number}),
    ]
    for url in refused:
        response = client.get(url)
        assert response.status_code == 404, url
        assert MARK not in response.content.decode(), url
    # Through the agency's own customer, ids of the grantor's contract data: refused too
    # (403 here: this delegate may not view the agency's own invoices either).
    for url in (
        reverse(
            "accounts:invoice_detail", kwargs={"customer": agency.number, "invoice": invoice.pk}
        ),
        reverse(
            "accounts:contract_detail", kwargs={"customer": agency.number, "contract": contract.pk}
        ),
    ):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert MARK not in response.content.decode(), url


def test_an_agency_owner_cannot_reach_the_grantors_contract_data_by_id(
    client_for, agency, grant, customer, marked_contract_data
):
    """S3, S1: an agency owner sees its own invoices, never the grantor's by id."""
    from tests.factories import MembershipFactory

    agency_owner = MembershipFactory(customer=agency, owner=True).user
    client = client_for(agency_owner)
    invoice = marked_contract_data["invoice"]
    contract = marked_contract_data["contract"]
    assert client.get(reverse("accounts:invoice_list", args=[agency.number])).status_code == 200
    for url in (
        reverse("accounts:invoice_detail", args=[agency.number, invoice.pk]),
        reverse("accounts:invoice_print", args=[agency.number, invoice.pk]),
        reverse("accounts:contract_detail", args=[agency.number, contract.pk]),
        reverse("accounts:invoice_list", args=[customer.number]),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert MARK not in response.content.decode()
