"""What each URL kwarg names, and how to make one in another tenant (S1).

``MAKERS`` maps a URL kwarg name to a function that creates that kind of object for a
``Target`` tenant (with whatever parents it hangs on) and returns the value to put in the
URL. The isolation matrix calls them for every URL pattern the resolver has; a pattern
with a kwarg that is not here is *not reached* and fails the matrix, so a new view cannot
slip past it. Makers run in the order of this dict, so a child (a DNS record) hangs on the
parent made for the same URL (its hosting account).

Each maker receives ``(target, made, route)``: the tenant, the objects already made for this
URL (kwarg -> object), and the route (its name picks e.g. the kind of hosting account).
It returns the object (its ``pk`` goes into the URL) or an int.
"""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import HostingAccount
from tests.factories import HostingAccountFactory

Maker = Callable[..., object]

# Route names whose "account" must be of a kind other than the one guessed from the name.
ACCOUNT_KIND_OVERRIDES: dict[str, str] = {
    "hosting:changerequest_create": HostingAccount.Kind.SERVER,  # with kind "reboot"
}

# Values for kwargs that are not object ids (slugs), per route, or for any route.
STRING_VALUES: dict[str, dict[str, str]] = {
    "hosting:changerequest_create": {"kind": "reboot"},
}


def account_kind(route) -> str:
    """The kind of hosting account a URL is about, guessed from its name."""
    if route.name in ACCOUNT_KIND_OVERRIDES:
        return ACCOUNT_KIND_OVERRIDES[route.name]
    name = route.name.lower()
    if "server" in name or "rdns" in name or "reboot" in name or "reverse" in name:
        return HostingAccount.Kind.SERVER
    if "package" in name or "php" in name or "upgrade" in name or "storage" in name:
        return HostingAccount.Kind.PACKAGE
    return HostingAccount.Kind.DOMAIN


def make_account(target, made, route):
    """A fresh hosting account of the target, of the kind the URL is about."""
    kind = account_kind(route)
    traits = {"package": kind == "package", "server": kind == "server"}
    fields = {"description": target.next_name("account")}
    if kind == HostingAccount.Kind.DOMAIN:
        fields["name"] = f"{target.next_name('dom')}.example"
    return HostingAccountFactory(customer=target.customer, **traits, **fields)


def parent_account(target, made, route, kind=HostingAccount.Kind.DOMAIN):
    """The hosting account made for this URL, or a fresh one of ``kind``."""
    account = made.get("account")
    if account is not None:
        return account
    traits = {"package": kind == "package", "server": kind == "server"}
    fields = {"description": target.next_name("account")}
    if kind == HostingAccount.Kind.DOMAIN:
        fields["name"] = f"{target.next_name('dom')}.example"
    return HostingAccountFactory(customer=target.customer, **traits, **fields)


def make_contact(target, made, route):
    """A contact of the target with its marker in every text field (K1, K8)."""
    from tests.contacts.factories import ContactFactory

    name = target.next_name("contact")
    return ContactFactory(
        customer=target.customer,
        name=name,
        phone="+49 30 1234567",
        restrictions=name + " restrictions",
        pending=True,
    )


def make_record(target, made, route):
    """A DNS record in the zone of the URL's domain, named with the marker (A1)."""
    from tests.hosting.factories import DnsRecordFactory, ZoneFactory

    account = parent_account(target, made, route)
    zone = ZoneFactory(account=account)
    return DnsRecordFactory(account=account, zone=zone,
                            name=f"{target.next_name('rec')}.{zone.name}")  # fmt: skip


def make_change_request(target, made, route):
    """An open change request (a reboot) on the URL's hosting account (A2, A3)."""
    from hosting.models import ChangeRequest

    account = parent_account(target, made, route)
    return ChangeRequest.objects.create(
        account=account, kind=ChangeRequest.Kind.REBOOT, note=target.next_name("request")
    )


MAKERS: dict[str, Maker] = {
    # The customer number itself is filled in by the matrix (the target's, or the role's
    # own in the "mixed" variant); listed so that it counts as known.
    "customer": None,
    "account": make_account,
    "contact": make_contact,
    "record": make_record,
    "change_request": make_change_request,
}

# Per-route overrides of a maker, for URLs whose object must be of a special shape
# (e.g. a grant *received* by the customer in the URL rather than given by it).
ROUTE_MAKERS: dict[str, dict[str, Maker]] = {}


def maker_for(route, kwarg: str) -> Maker | None:
    return ROUTE_MAKERS.get(route.name, {}).get(kwarg) or MAKERS.get(kwarg)


def known(kwarg: str) -> bool:
    return kwarg in MAKERS


def string_values(route) -> dict[str, str]:
    """Values for the route's kwargs that are not integers; KeyError for one not known."""
    values = {}
    for kwarg in route.kwargs:
        if kwarg in route.int_kwargs:
            continue
        per_route = STRING_VALUES.get(route.name, {})
        if kwarg not in per_route:
            raise KeyError(kwarg)
        values[kwarg] = per_route[kwarg]
    return values


def make_objects(route, target) -> dict[str, object]:
    """Objects of ``target`` for every id kwarg of ``route``, parents first.

    Raises KeyError for a kwarg no maker knows."""
    made: dict[str, object] = {}
    order = [k for k in MAKERS if k in route.id_kwargs] + [
        k for k in route.id_kwargs if k not in MAKERS
    ]
    for kwarg in order:
        maker = maker_for(route, kwarg)
        if maker is None:
            raise KeyError(kwarg)
        made[kwarg] = maker(target, made, route)
    return made


def url_value(obj) -> int:
    return obj if isinstance(obj, int) else obj.pk
