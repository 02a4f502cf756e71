"""Build a believable small provider for trying the portal (idempotent)."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import Customer, HostingAccount, Membership, User

DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105 - the demo's documented password

# A fixed, documented key so that `manage.py totp_code` can show the demo's codes.
DEMO_TOTP_KEY = "3132333435363738393031323334353637383930"

CUSTOMERS = [
    # key, name, e-mail, parent key, requires two-factor
    ("nordlicht", "Nordlicht Media GmbH", "office@nordlicht.example", None, False),
    ("nordlicht-shop", "Nordlicht Shop", "shop@nordlicht.example", "nordlicht", False),
    ("nordlicht-events", "Nordlicht Events", "events@nordlicht.example", "nordlicht", False),
    ("webwerk", "Webwerk Agentur", "team@webwerk.example", None, False),
    ("kovacs", "Kovács Pékség Kft.", "iroda@kovacs-pekseg.example", None, True),
    ("alpen", "Alpenblick Pension", "info@alpenblick.example", None, False),
]

ACCOUNTS = [
    ("nordlicht", "domain", "nordlicht-media.example", {}),
    ("nordlicht", "package", "P-100231", {"php_version": "8.3", "storage_gb": 50}),
    ("nordlicht", "server", "de-01-srv-0042", {"ipv4": "192.0.2.42", "ipv6": "2001:db8::42"}),
    ("nordlicht-shop", "domain", "nordlicht-shop.example", {}),
    ("nordlicht-shop", "package", "P-100232", {"php_version": "8.2", "storage_gb": 25}),
    ("nordlicht-events", "domain", "nordlicht-events.example", {}),
    ("webwerk", "domain", "webwerk.example", {}),
    ("webwerk", "package", "P-100240", {"php_version": "8.3", "storage_gb": 100}),
    ("kovacs", "domain", "kovacs-pekseg.example", {}),
    ("kovacs", "package", "P-100250", {"php_version": "8.1", "storage_gb": 10}),
    ("kovacs", "server", "hu-02-srv-0007", {"ipv4": "198.51.100.7"}),
    ("alpen", "domain", "alpenblick.example", {}),
    ("alpen", "package", "P-100260", {"php_version": "7.4", "storage_gb": 10}),
]

USERS = [
    # e-mail, first, last, two-factor, [(customer key, owner, flags)]
    ("anna@nordlicht.example", "Anna", "Berger", True, [("nordlicht", True, {})]),
    (
        "jonas@nordlicht.example",
        "Jonas",
        "Keller",
        False,
        [
            (
                "nordlicht",
                False,
                {"can_view_products": True, "can_change_dns": True, "can_open_tickets": True},
            )
        ],
    ),
    (
        "petra@nordlicht.example",
        "Petra",
        "Lang",
        False,
        [
            (
                "nordlicht",
                False,
                {"can_view_invoices": True, "can_view_products": False, "notify_invoices": True},
            )
        ],
    ),
    (
        "bence@webwerk.example",
        "Bence",
        "Tóth",
        True,
        [
            ("webwerk", True, {}),
            (
                "alpen",
                False,
                {"can_view_products": True, "can_change_dns": True, "can_open_tickets": True},
            ),
        ],
    ),
    (
        "lena@webwerk.example",
        "Lena",
        "Wolf",
        False,
        [
            (
                "webwerk",
                False,
                {
                    "can_manage_delegations": True,
                    "can_view_products": True,
                    "can_open_tickets": True,
                },
            )
        ],
    ),
    ("eszter@kovacs-pekseg.example", "Eszter", "Kovács", True, [("kovacs", True, {})]),
    ("maria@alpenblick.example", "Maria", "Huber", False, [("alpen", True, {})]),
]


class Command(BaseCommand):
    help = "Create demo customers, users and hosting accounts, and print the demo logins."

    def handle(self, *args, **options):
        # The demo's own notifications (invitations, acknowledgements) are not delivered:
        # they would bury the logins printed at the end.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            with transaction.atomic():
                customers = self._build()
        self._print_logins(customers)

    def _build(self):
        customers = {}
        for key, name, email, parent_key, two_factor in CUSTOMERS:
            customer = Customer.objects.filter(email=email).first()
            if customer is None:
                customer = services.customer_create(
                    name=name, email=email, parent=customers.get(parent_key)
                )
            if customer.requires_two_factor != two_factor:
                customer.requires_two_factor = two_factor
                customer.save(update_fields=["requires_two_factor"])
            customers[key] = customer
        for key, kind, name, fields in ACCOUNTS:
            if not HostingAccount.objects.filter(kind=kind, name=name).exists():
                services.hosting_account_create(
                    customer=customers[key], kind=kind, name=name, **fields
                )
        for email, first, last, two_factor, memberships in USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email, DEMO_PASSWORD, first_name=first, last_name=last
                )
            if two_factor and not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                TOTPDevice.objects.create(
                    user=user, name="Demo authenticator", key=DEMO_TOTP_KEY, confirmed=True
                )
            for customer_key, owner, flags in memberships:
                if not Membership.objects.filter(
                    user=user, customer=customers[customer_key]
                ).exists():
                    services.membership_create(
                        user=user, customer=customers[customer_key], is_owner=owner, **flags
                    )
        if not User.objects.filter(email="staff@provider.example").exists():
            staff = User.objects.create_superuser(
                "staff@provider.example", DEMO_PASSWORD, first_name="Sam", last_name="Support"
            )
            TOTPDevice.objects.create(
                user=staff, name="Demo authenticator", key=DEMO_TOTP_KEY, confirmed=True
            )
        self._extend(customers)
        return customers

    def _extend(self, customers):
        """Hook for the other apps' demo data (contacts, grants, tickets, zones)."""
        from importlib import import_module

        for module in (
            "hosting.demo",
            "contacts.demo",
            "delegation.demo",
            "helpdesk.demo",
            "accounts.demo",
        ):
            try:
                demo = import_module(module)
            except ModuleNotFoundError:
                continue
            demo.seed(customers)

    def _print_logins(self, customers):
        out = self.stdout.write
        out("")
        out(f"Demo logins (password for all: {DEMO_PASSWORD})")
        for email, _first, _last, two_factor, memberships in USERS:
            where = ", ".join(
                f"{customers[k].name} {customers[k].display_number}" + (" owner" if owner else "")
                for k, owner, _f in memberships
            )
            out(f"  {email:32} {'TOTP ' if two_factor else '     '} {where}")
        out(f"  {'staff@provider.example':32} TOTP  Django admin at /admin/")
        out("")
        out("Two-factor codes for the TOTP logins: python manage.py totp_code <e-mail>")
        out("(or add the key to an authenticator app: GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ)")
