"""Demo contacts for `manage.py seed_demo` (idempotent: customers that already have
contacts are left alone).

Every demo customer gets a standard contact and a primary technical contact; some have
accounting, domain and monitoring contacts, a pending address waiting for confirmation,
and a phone password — for the demo, ``DEMO_PHONE_PASSWORD`` below (staff check it in the
admin under Contacts → "Check a caller's phone password").
"""

from django.db import transaction

from contacts import services
from contacts.models import Contact, ContactType

DEMO_PHONE_PASSWORD = "Leuchtturm-42"  # noqa: S105 - the demo's documented phone password

S = ContactType.STANDARD
A = ContactType.ACCOUNTING
T = ContactType.TECHNICAL
D = ContactType.DOMAIN
M = ContactType.MONITORING
O = ContactType.OWNER  # noqa: E741
G = ContactType.SIGNATORY

# customer key: [(name, e-mail, phone, language, types, extra)]
# extra: authorised, primary, phone_password, restrictions, pending (a new address
# waiting for confirmation), invoice_by_mail, notify_* switches.
CONTACTS = {
    "nordlicht": [
        (
            "Anna Berger",
            "anna@nordlicht.example",
            "+49 40 3070 1100",
            "de",
            [S, O, G],
            {"authorised": True},
        ),
        (
            "Jonas Keller",
            "jonas@nordlicht.example",
            "+49 40 3070 1142",
            "de",
            [T],
            {
                "authorised": True,
                "primary": True,
                "phone_password": True,
                "restrictions": "Nur Server-Neustarts und DNS-Änderungen.",
                "pending": "jonas.keller@nordlicht-media.example",
            },
        ),
        (
            "Petra Lang (Buchhaltung)",
            "buchhaltung@nordlicht.example",
            "+49 40 3070 1150",
            "de",
            [A],
            {
                "invoice_by_mail": True,
                "notify_orders": False,
                "notify_support": False,
                "notify_security": False,
                "notify_outages": False,
            },
        ),
        ("Domain-Team Nordlicht", "domains@nordlicht.example", "", "de", [D], {}),
        # Deleted (archived, never removed): listed under "Deleted contacts", restorable.
        (
            "Max Weber (ausgeschieden)",
            "max@nordlicht.example",
            "+49 40 3070 1160",
            "de",
            [S],
            {"deleted": True},
        ),
    ],
    "nordlicht-shop": [
        ("Shop-Team", "shop@nordlicht.example", "+49 40 3070 1200", "de", [S], {}),
        (
            "Jonas Keller",
            "jonas@nordlicht.example",
            "+49 40 3070 1142",
            "de",
            [T],
            {"primary": True, "authorised": True},
        ),
    ],
    "nordlicht-events": [
        ("Events-Büro", "events@nordlicht.example", "+49 40 3070 1300", "de", [S, A], {}),
        (
            "Jonas Keller",
            "jonas@nordlicht.example",
            "+49 40 3070 1142",
            "de",
            [T],
            {"primary": True},
        ),
    ],
    "webwerk": [
        (
            "Bence Tóth",
            "bence@webwerk.example",
            "+49 89 2020 3300",
            "hu",
            [S, T, O],
            {"authorised": True, "primary": True, "phone_password": True},
        ),
        ("Lena Wolf", "lena@webwerk.example", "+49 89 2020 3301", "de", [M], {}),
    ],
    "kovacs": [
        (
            "Kovács Eszter",
            "eszter@kovacs-pekseg.example",
            "+36 1 234 5678",
            "hu",
            [S, O, G],
            {"authorised": True},
        ),
        (
            "Nagy Péter (könyvelő)",
            "konyveles@kovacs-pekseg.example",
            "+36 1 234 5690",
            "hu",
            [A],
            {"invoice_by_mail": True},
        ),
        (
            "Szabó Gábor",
            "gabor@kovacs-pekseg.example",
            "+36 30 555 1234",
            "hu",
            [T],
            {
                "primary": True,
                "phone_password": True,
                "restrictions": "Csak szerver-újraindítás.",
            },
        ),
        ("Domain kapcsolattartó", "domain@kovacs-pekseg.example", "", "hu", [D], {}),
    ],
    "alpen": [
        (
            "Maria Huber",
            "maria@alpenblick.example",
            "+43 5356 1234",
            "de",
            [S, O],
            {"authorised": True, "pending": "maria.huber@alpenblick.example"},
        ),
        # The agency's technician is a contact here too: the same address may be a
        # contact of several customers (K1).
        (
            "Bence Tóth (Webwerk)",
            "bence@webwerk.example",
            "+49 89 2020 3300",
            "hu",
            [T],
            {"primary": True, "restrictions": "Keine Vertragsänderungen."},
        ),
    ],
}

PLAIN = {"invoice_by_mail", "restrictions"} | {
    "notify_invoices",
    "notify_orders",
    "notify_support",
    "notify_security",
    "notify_outages",
}


@transaction.atomic
def seed(customers) -> None:
    for key, rows in CONTACTS.items():
        customer = customers.get(key)
        if customer is None or Contact.objects.filter(customer=customer).exists():
            continue
        # Standard contacts first: a customer always needs one (K3).
        ordered = sorted(rows, key=lambda row: S not in row[4])
        for name, email, phone, language, types, extra in ordered:
            contact = services.contact_create(
                customer=customer,
                actor=None,
                name=name,
                email=email,
                phone=phone,
                language=language,
                types=types,
                is_authorised=extra.get("authorised", False),
                email_confirmed=True,
                by_staff=True,
                **{k: v for k, v in extra.items() if k in PLAIN},
            )
            if extra.get("primary"):
                services.contact_make_primary(contact=contact, actor=None, by_staff=True)
            if extra.get("phone_password"):
                services.contact_phone_password_set(
                    contact=contact, password=DEMO_PHONE_PASSWORD, actor=None
                )
            if extra.get("deleted"):
                services.contact_archive(contact=contact, actor=None, by_staff=True)
            if extra.get("pending"):
                services.contact_update(
                    contact=contact, actor=None, email=extra["pending"], by_staff=True
                )
