"""Demo data for users, invitations, sub-accounts and contract data (idempotent).

Called by ``manage.py seed_demo`` with the demo customers by key.
"""

import secrets
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from accounts import services
from accounts.audit import audit
from accounts.models import (
    AccessReview,
    Customer,
    HostingAccount,
    Invitation,
    Membership,
    SubAccountLinkRequest,
    User,
)
from billing import services as billing
from billing.models import Contract, Invoice, PaymentMethod

# Pending invitations (customer key, e-mail, permission flags). Their tokens are random
# and were never mailed: to try accepting, invite someone on the Users page; the mail with
# the link appears in the server's console.
DEMO_INVITATIONS = [
    (
        "nordlicht",
        "bence@webwerk.example",
        {"can_view_products": True, "can_change_dns": True, "can_open_tickets": True},
    ),
    (
        "nordlicht",
        "lukas@nordlicht.example",
        {"can_view_products": True, "can_open_tickets": True, "can_view_invoices": True},
    ),
]


def seed(customers: dict[str, Customer]) -> None:
    anna = User.objects.get(email="anna@nordlicht.example")
    _invitations(customers, anna)
    _sub_accounts(customers, anna)
    _contract_data(customers)
    _access_reviews(customers)


def _invitation(customer, email, by, state, days_ago, **flags):
    if Invitation.objects.filter(customer=customer, email=email, state=state).exists():
        return None
    created = timezone.now() - timedelta(days=days_ago)
    invitation = Invitation(
        customer=customer,
        email=email,
        state=state,
        token_hash=Invitation.hash_token(secrets.token_urlsafe(32)),
        invited_by=by,
        created_at=created,
        expires_at=created + timedelta(days=7),
        **flags,
    )
    if state == Invitation.State.ACCEPTED:
        invitation.accepted_at = created + timedelta(hours=3)
        invitation.accepted_by = User.objects.filter(email=email).first()
    if state == Invitation.State.CANCELLED:
        invitation.cancelled_at = created + timedelta(days=1)
        invitation.cancelled_by = by
    invitation.full_clean()
    invitation.save()
    audit(
        "invitation.created",
        actor=by,
        customer=customer,
        summary=f"{email}: {', '.join(invitation.permission_labels())}",
        invitation=invitation.pk,
    )
    return invitation


def _invitations(customers, anna):
    nordlicht = customers["nordlicht"]
    for key, email, flags in DEMO_INVITATIONS:
        customer = customers[key]
        already_member = Membership.objects.filter(customer=customer, user__email=email).exists()
        if not already_member:
            _invitation(customer, email, anna, Invitation.State.PENDING, 1, **flags)
    _invitation(
        nordlicht,
        "jonas@nordlicht.example",
        anna,
        Invitation.State.ACCEPTED,
        40,
        can_change_dns=True,
    )
    _invitation(
        nordlicht,
        "praktikant@nordlicht.example",
        anna,
        Invitation.State.EXPIRED,
        20,
    )
    _invitation(
        nordlicht,
        "agentur@example.net",
        anna,
        Invitation.State.CANCELLED,
        12,
        can_manage_contacts=True,
    )


def _sub_accounts(customers, anna):
    shop = customers["nordlicht-shop"]
    if not shop.on_collective_invoice:
        services.sub_account_set_collective_invoice(sub=shop, on=True, by=anna)
    # An independent customer whose owner is asked to become a sub-account (C2).
    cafe = Customer.objects.filter(email="hallo@nordlicht-cafe.example").first()
    if cafe is None:
        tom = User.objects.filter(email="tom@nordlicht-cafe.example").first()
        if tom is None:
            from portal.management.commands.seed_demo import DEMO_PASSWORD

            tom = User.objects.create_user(
                "tom@nordlicht-cafe.example", DEMO_PASSWORD, first_name="Tom", last_name="Frey"
            )
        cafe = services.customer_create(
            name="Nordlicht Café",
            email="hallo@nordlicht-cafe.example",
            owner=tom,
            street="Hafenstraße 3",
            postal_code="20457",
            city="Hamburg",
            country="Germany",
        )
        from contacts.services import contacts_for_new_customer

        contacts_for_new_customer(
            customer=cafe,
            commercial={"name": "Tom Frey", "email": tom.email},
            confirmed=True,
        )
    if not SubAccountLinkRequest.objects.filter(main=customers["nordlicht"], sub=cafe).exists():
        SubAccountLinkRequest.objects.create(
            main=customers["nordlicht"], sub=cafe, requested_by=anna, on_collective_invoice=True
        )
    addresses = {
        "nordlicht": ("Speicherstadt 12", "20457", "Hamburg", "Germany", "+49 40 555 0100"),
        "nordlicht-shop": ("Speicherstadt 12", "20457", "Hamburg", "Germany", ""),
        "nordlicht-events": ("Am Kai 7", "20457", "Hamburg", "Germany", ""),
        "webwerk": ("Kastanienallee 40", "10435", "Berlin", "Germany", "+49 30 555 0200"),
        "kovacs": ("Fő utca 21", "1011", "Budapest", "Hungary", "+36 1 555 0300"),
        "alpen": ("Seeweg 5", "6020", "Innsbruck", "Austria", "+43 512 555 0400"),
    }
    for key, (street, postal_code, city, country, phone) in addresses.items():
        customer = customers[key]
        if not customer.street:
            Customer.objects.filter(pk=customer.pk).update(
                street=street, postal_code=postal_code, city=city, country=country, phone=phone
            )


def _account(name):
    return HostingAccount.objects.filter(name=name).first()


CONTRACTS = [
    # customer key, number, product, hosting account, start, monthly price, currency
    ("nordlicht", "V-100231-1", "Webhosting Business", "P-100231", date(2024, 3, 1), "24.90"),
    ("nordlicht", "V-100231-2", "Managed Server M", "de-01-srv-0042", date(2024, 6, 1), "89.00"),
    ("nordlicht", "V-100231-3", "Domain .example", "nordlicht-media.example", date(2024, 3, 1), "1.20"),
    ("nordlicht-shop", "V-100232-1", "Webhosting Shop", "P-100232", date(2025, 1, 1), "14.90"),
    ("nordlicht-events", "V-100233-1", "Domain .example", "nordlicht-events.example", date(2025, 4, 1), "1.20"),
    ("webwerk", "V-100240-1", "Webhosting Agency", "P-100240", date(2023, 9, 1), "39.00"),
    ("kovacs", "V-100250-1", "Webhosting Start", "P-100250", date(2025, 2, 1), "2990"),
    ("kovacs", "V-100250-2", "Managed Server S", "hu-02-srv-0007", date(2025, 2, 1), "24990"),
    ("alpen", "V-100260-1", "Webhosting Start", "P-100260", date(2022, 5, 1), "6.90"),
]  # fmt: skip


def _contract_data(customers):
    contracts = {}
    for key, number, product, account_name, starts_on, price in CONTRACTS:
        contract = Contract.objects.filter(number=number).first()
        if contract is None:
            contract = billing.contract_create(
                customer=customers[key],
                number=number,
                product=product,
                hosting_account=_account(account_name),
                starts_on=starts_on,
                price=Decimal(price),
                currency="HUF" if key == "kovacs" else "EUR",
                notice_period="3 months to the end of the term",
            )
        contracts[number] = contract
    if not PaymentMethod.objects.filter(customer=customers["nordlicht"]).exists():
        billing.payment_method_set(
            customer=customers["nordlicht"],
            kind=PaymentMethod.Kind.SEPA_DEBIT,
            account_holder="Nordlicht Media GmbH",
            reference="DE89 **** **** **** 3000",
            mandate_reference="NLM-2024-0001",
        )
    if not PaymentMethod.objects.filter(customer=customers["kovacs"]).exists():
        billing.payment_method_set(
            customer=customers["kovacs"], kind=PaymentMethod.Kind.BANK_TRANSFER
        )
    nordlicht, shop, events = (
        customers[k] for k in ("nordlicht", "nordlicht-shop", "nordlicht-events")
    )
    for month in (8, 9, 10):
        start = date(2026, month, 1)
        end = date(2026, month + 1, 1) - timedelta(days=1)
        paid = month < 10
        # C4: Nordlicht's collective invoice carries the shop's charges as well.
        _invoice(
            nordlicht,
            f"R-2026-{month:02d}-100231",
            start,
            paid,
            [
                billing.Line(
                    "Webhosting Business", Decimal("24.90"), contract=contracts["V-100231-1"]
                ),
                billing.Line(
                    "Managed Server M", Decimal("89.00"), contract=contracts["V-100231-2"]
                ),
                billing.Line(
                    "Domain nordlicht-media.example",
                    Decimal("1.20"),
                    contract=contracts["V-100231-3"],
                ),
                billing.Line(
                    "Webhosting Shop",
                    Decimal("14.90"),
                    customer=shop,
                    contract=contracts["V-100232-1"],
                ),
            ],
            collective=True,
            period_end=end,
        )
        _invoice(
            events,
            f"R-2026-{month:02d}-100233",
            start,
            paid,
            [
                billing.Line(
                    "Domain nordlicht-events.example",
                    Decimal("1.20"),
                    contract=contracts["V-100233-1"],
                )
            ],
            period_end=end,
        )
        for key, number, product, price in (
            ("webwerk", "V-100240-1", "Webhosting Agency", "39.00"),
            ("kovacs", "V-100250-1", "Webhosting Start", "2990"),
            ("alpen", "V-100260-1", "Webhosting Start", "6.90"),
        ):
            _invoice(
                customers[key],
                f"R-2026-{month:02d}-{customers[key].number}",
                start,
                paid,
                [billing.Line(product, Decimal(price), contract=contracts[number])],
                period_end=end,
                currency="HUF" if key == "kovacs" else "EUR",
            )  # fmt: skip


def _invoice(customer, number, period_start, paid, lines, collective=False, **fields):
    if Invoice.objects.filter(number=number).exists():
        return
    issued = period_start
    billing.invoice_create(
        customer=customer,
        number=number,
        issued_on=issued,
        due_on=issued + timedelta(days=14),
        lines=lines,
        collective=collective,
        period_start=period_start,
        state=Invoice.State.PAID if paid else Invoice.State.OPEN,
        paid_on=issued + timedelta(days=10) if paid else None,
        **fields,
    )


def _access_reviews(customers):
    """Nordlicht's access review is overdue (the dashboard says so); Webwerk confirmed
    its review a month ago and chose to be asked every 60 days (issue 7)."""
    now = timezone.now()
    AccessReview.objects.get_or_create(
        customer=customers["nordlicht"], defaults={"due_at": now - timedelta(days=3)}
    )
    AccessReview.objects.get_or_create(
        customer=customers["webwerk"],
        defaults={
            "interval_days": 60,
            "confirmed_at": now - timedelta(days=30),
            "due_at": now + timedelta(days=30),
        },
    )
