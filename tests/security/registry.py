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


class NotApplicable(Exception):  # noqa: N818 - a signal, not an error
    """A maker cannot make this object for this target (a sub-account of a sub-account):
    the case is left out; the route must still be reached through another target."""


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


def make_archived_contact(target, made, route):
    """A deleted (archived) contact, for the restore URL: only those can be restored."""
    from django.utils import timezone

    contact = make_contact(target, made, route)
    contact.archived_at = timezone.now()
    contact.save(update_fields=["archived_at"])
    return contact


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


def _customer(target, name):
    from accounts import services

    return services.customer_create(name=target.next_name(name))


def make_membership(target, made, route):
    """Another member of the target, named with the marker (U3)."""
    from tests.factories import MembershipFactory

    name = target.next_name("member")
    return MembershipFactory(
        customer=target.customer, user__first_name=name, user__email=f"{name}@members.example"
    )


def make_invitation(target, made, route):
    """A pending invitation of the target to a marked address (U2)."""
    from tests.accounts.factories import InvitationFactory

    return InvitationFactory(
        customer=target.customer,
        email=f"{target.next_name('invitee')}@invitations.example",
        invited_by=target.owner,
    )


def make_sub(target, made, route):
    """A sub-account of the target (C1: only a main account has them)."""
    from accounts import services

    if target.customer.parent_id is not None:
        raise NotApplicable("a sub-account has no sub-accounts")
    return services.customer_create(name=target.next_name("sub"), parent=target.customer)


def make_link_request(target, made, route):
    """A request to link a sub-account (C2): received by the target (confirm, decline) or
    sent by it (cancel)."""
    from tests.accounts.factories import LinkRequestFactory

    other = _customer(target, "linker")
    if route.name.endswith("_cancel"):
        if target.customer.parent_id is not None:
            raise NotApplicable("a sub-account links nothing")
        return LinkRequestFactory(main=target.customer, sub=other, requested_by=target.owner)
    return LinkRequestFactory(main=other, sub=target.customer)


def make_invoice(target, made, route):
    """An invoice of the target with a marked line (contract data)."""
    from tests.billing.factories import InvoiceFactory, InvoiceLineFactory

    invoice = InvoiceFactory(customer=target.customer, number=target.next_name("R")[-40:])
    InvoiceLineFactory(invoice=invoice, description=target.next_name("line"))
    return invoice


def make_contract(target, made, route):
    from tests.billing.factories import ContractFactory

    return ContractFactory(
        customer=target.customer,
        number=target.next_name("V")[-40:],
        product=target.next_name("product"),
    )


def make_grant(target, made, route):
    """A grant the target gave (grant_*) or received (request_*), pending where the page
    acts on a pending one (D1–D3)."""
    from delegation.models import Grant
    from tests.factories import GrantFactory
    from tests.helpers import activate_grant

    received = route.name.startswith("delegation:request_")
    other = _customer(target, "agency" if not received else "grantor")
    grantor, agency = (other, target.customer) if received else (target.customer, other)
    account = HostingAccountFactory(customer=grantor, name=f"{target.next_name('granted')}.example")
    grant = GrantFactory(grantor=grantor, agency=agency, created_by=target.owner)
    grant.accounts.set([account])
    if route.name.endswith(("_approve", "_key_mail", "request_detail")):
        from django.utils import timezone

        Grant.objects.filter(pk=grant.pk).update(
            key_prefix="abcd1234",
            key_hash="0" * 64,
            key_expires_at=timezone.now() + timezone.timedelta(days=14),
        )
        return grant
    return activate_grant(grant, [account])


def make_ticket(target, made, route):
    """A ticket of the target, marker in subject and message (the helpdesk's own maker)."""
    from tests.helpdesk.factories import make_ticket as helpdesk_make_ticket

    return helpdesk_make_ticket(target, made, route)


def make_attachment(target, made, route):
    """A file on the URL's ticket (the helpdesk's own maker)."""
    from tests.helpdesk.factories import make_attachment as helpdesk_make_attachment

    return helpdesk_make_attachment(target, made, route)


MAKERS: dict[str, Maker] = {
    # The customer number itself is filled in by the matrix (the target's, or the role's
    # own in the "mixed" variant); listed so that it counts as known.
    "customer": None,
    "account": make_account,
    "contact": make_contact,
    "record": make_record,
    "change_request": make_change_request,
    "membership": make_membership,
    "invitation": make_invitation,
    "sub": make_sub,
    "link_request": make_link_request,
    "invoice": make_invoice,
    "contract": make_contract,
    "grant": make_grant,
    "ticket": make_ticket,
    "attachment": make_attachment,  # after "ticket": hangs on the URL's ticket
}

# Per-route overrides of a maker, for URLs whose object must be of a special shape
# (e.g. a grant *received* by the customer in the URL rather than given by it).
ROUTE_MAKERS: dict[str, dict[str, Maker]] = {
    "contacts:contact_restore": {"contact": make_archived_contact},
}


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


def make_objects(route, target, preset: dict | None = None) -> dict[str, object]:
    """Objects of ``target`` for every id kwarg of ``route``, parents first; ``preset``
    gives some of them (e.g. the granted hosting account) for the children to hang on.

    Raises KeyError for a kwarg no maker knows."""
    made: dict[str, object] = {k: v for k, v in (preset or {}).items() if k in route.id_kwargs}
    order = [k for k in MAKERS if k in route.id_kwargs] + [
        k for k in route.id_kwargs if k not in MAKERS
    ]
    for kwarg in order:
        if kwarg in made:
            continue
        maker = maker_for(route, kwarg)
        if maker is None:
            raise KeyError(kwarg)
        made[kwarg] = maker(target, made, route)
    return made


def url_value(obj) -> int:
    return obj if isinstance(obj, int) else obj.pk
