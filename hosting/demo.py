"""Demo data for the hosting app: believable zones for the demo domains, a reverse DNS
entry, and a few changes and requests in the accounts' histories. Idempotent: a zone
that holds records already, or an account with requests already, is left alone."""

from accounts.models import HostingAccount, User
from hosting import services
from hosting.models import ChangeRequest
from portal import policy


def _own_mail_zone(domain: str, web4: str, web6: str, mail4: str) -> list[dict]:
    """A domain with its own web and mail server."""
    return [
        {"name": "@", "rtype": "A", "value": web4},
        {"name": "@", "rtype": "AAAA", "value": web6},
        {"name": "www", "rtype": "CNAME", "value": "@"},
        {"name": "mail", "rtype": "A", "value": mail4},
        {"name": "@", "rtype": "MX", "value": "mail", "priority": 10},
        {"name": "@", "rtype": "TXT", "value": "v=spf1 mx -all"},
        {
            "name": "_dmarc",
            "rtype": "TXT",
            "value": f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}",
        },
        {
            "name": "_imaps._tcp",
            "rtype": "SRV",
            "value": "mail",
            "priority": 0,
            "weight": 1,
            "port": 993,
        },
        {
            "name": "_submission._tcp",
            "rtype": "SRV",
            "value": "mail",
            "priority": 0,
            "weight": 1,
            "port": 587,
        },
        {"name": "@", "rtype": "CAA", "flags": 0, "tag": "issue", "value": "letsencrypt.org"},
        {
            "name": "@",
            "rtype": "CAA",
            "flags": 0,
            "tag": "iodef",
            "value": f"mailto:security@{domain}",
        },
    ]


def _provider_mail_zone(web4: str, web6: str | None = None) -> list[dict]:
    """A domain on a webhosting package, mail at the provider."""
    records = [
        {"name": "@", "rtype": "A", "value": web4},
        {"name": "www", "rtype": "A", "value": web4},
        {"name": "@", "rtype": "MX", "value": "mx1.provider.example", "priority": 10},
        {"name": "@", "rtype": "MX", "value": "mx2.provider.example", "priority": 20},
        {"name": "@", "rtype": "TXT", "value": "v=spf1 include:_spf.provider.example -all"},
        {"name": "_dmarc", "rtype": "TXT", "value": "v=DMARC1; p=none"},
        {"name": "@", "rtype": "CAA", "flags": 0, "tag": "issue", "value": "letsencrypt.org"},
    ]
    if web6:
        records.insert(1, {"name": "@", "rtype": "AAAA", "value": web6})
        records.insert(3, {"name": "www", "rtype": "AAAA", "value": web6})
    return records


ZONES = {
    "nordlicht-media.example": _own_mail_zone(
        "nordlicht-media.example", "192.0.2.42", "2001:db8::42", "192.0.2.42"
    ),
    "nordlicht-shop.example": _provider_mail_zone("203.0.113.31", "2001:db8:100::31"),
    "nordlicht-events.example": _provider_mail_zone("203.0.113.32"),
    "webwerk.example": _own_mail_zone(
        "webwerk.example", "203.0.113.40", "2001:db8:100::40", "203.0.113.41"
    ),
    "kovacs-pekseg.example": _own_mail_zone(
        "kovacs-pekseg.example", "198.51.100.7", "2001:db8:200::7", "198.51.100.7"
    ),
    "alpenblick.example": _provider_mail_zone("203.0.113.60", "2001:db8:100::60"),
}


def _as(email: str, account: HostingAccount) -> tuple[User | None, object]:
    user = User.objects.filter(email=email).first()
    access = policy.account_access(user, account) if user else None
    return (user, access) if access else (None, None)


def _account(kind: str, name: str) -> HostingAccount | None:
    return HostingAccount.objects.filter(kind=kind, name=name).select_related("customer").first()


def seed(customers) -> None:
    for name, records in ZONES.items():
        account = _account(HostingAccount.Kind.DOMAIN, name)
        if account is None:
            continue
        if not services.zone_set_up(account=account, records=records):
            continue  # set up before: leave what people changed since
        # A change by a member with DNS rights, so the history shows a person.
        if name == "nordlicht-media.example":
            user, access = _as("jonas@nordlicht.example", account)
            if user:
                services.dns_record_create(
                    account=account,
                    actor=user,
                    access=access,
                    rtype="TXT",
                    name="@",
                    value="google-site-verification=Xq3v9demo7LkY2",
                )
        if name == "alpenblick.example":
            user, access = _as("bence@webwerk.example", account)
            if user:
                services.dns_record_create(
                    account=account,
                    actor=user,
                    access=access,
                    rtype="CNAME",
                    name="buchen",
                    value="alpenblick.booking-partner.example",
                )

    server = _account(HostingAccount.Kind.SERVER, "de-01-srv-0042")
    if server is not None and not server.dns_records.exists():
        user, access = _as("jonas@nordlicht.example", server)
        if user:
            for address in services.server_addresses(server):
                services.reverse_dns_set(
                    account=server,
                    address=address,
                    hostname="mail.nordlicht-media.example",
                    actor=user,
                    access=access,
                )

    requests = [
        (
            "package",
            "P-100260",
            "maria@alpenblick.example",
            "php_version",
            "8.3",
            "PHP 7.4 is out of support; our booking plugin runs on 8.3.",
        ),
        (
            "server",
            "hu-02-srv-0007",
            "eszter@kovacs-pekseg.example",
            "reboot",
            "",
            "Please reboot after 21:00, the shop is closed then.",
        ),
    ]
    for kind, name, email, request_kind, value, note in requests:
        account = _account(kind, name)
        if account is None or ChangeRequest.objects.filter(account=account).exists():
            continue
        user, access = _as(email, account)
        if user:
            services.change_request_create(
                account=account,
                kind=request_kind,
                value=value,
                note=note,
                actor=user,
                access=access,
            )
