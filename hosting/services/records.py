"""DNS records of domains (A1) and reverse DNS of servers (A3). Each change is kept as
a ``DnsChange`` per RRset and pushed after commit (see ``push``)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import HostingAccount, User
from hosting import dns, pdns
from hosting.models import AccountEvent, DnsChange, DnsRecord, Zone
from hosting.services.history import check_changeable, event_record
from portal.policy import Access

log = logging.getLogger(__name__)

# How long the immediate push task gets before the periodic job steps in.
PERIODIC_GRACE = timedelta(seconds=30)


# --- zones --------------------------------------------------------------------------------


def zone_for_account(account: HostingAccount) -> Zone:
    """The domain's zone, made on first use."""
    if account.kind != HostingAccount.Kind.DOMAIN:
        raise ValidationError(_("Only domains have a DNS zone."))
    zone = Zone.objects.filter(account=account).first()
    if zone is None:
        zone, _created = Zone.objects.get_or_create(
            name=dns.zone_name(account.name),
            defaults={"kind": Zone.Kind.FORWARD, "account": account},
        )
        if zone.account_id != account.pk:
            raise ValidationError(_("This domain's zone belongs to another account."))
    return zone


def _locked(zone: Zone) -> Zone:
    """Changes to one zone happen one after the other: record rules across rows (CNAME
    beside other data, duplicates) hold only if no one else writes the zone meanwhile."""
    return Zone.objects.select_for_update().get(pk=zone.pk)


def _record_label(record: DnsRecord) -> str:
    return f"{record.short_name} {record.rtype} {record.display_value}"[:240]


def _zone_rules(record: DnsRecord) -> None:
    """Rules across the zone's records (A1): a CNAME stands alone at its name and is never
    the target of MX or SRV; no record twice; a size limit."""
    zone = record.zone
    here = DnsRecord.objects.filter(zone=zone, name=record.name).exclude(pk=record.pk)
    shown = record.short_name
    T = DnsRecord.Type
    if record.rtype == T.CNAME:
        types = sorted(set(here.values_list("rtype", flat=True)))
        if "CNAME" in types:
            raise ValidationError(
                {
                    "name": _("“%(name)s” already has a CNAME record; a name can have only one.")
                    % {"name": shown}
                }
            )
        if types:
            raise ValidationError(
                {
                    "name": _(
                        "“%(name)s” already has other records (%(types)s). A CNAME must be the "
                        "only record at its name: remove those first, or use another name."
                    )
                    % {"name": shown, "types": ", ".join(types)}
                }
            )
        pointing = DnsRecord.objects.filter(
            zone=zone, rtype__in=(T.MX, T.SRV), value=record.name
        ).values_list("rtype", flat=True)
        if pointing:
            raise ValidationError(
                {
                    "name": _(
                        "“%(name)s” is the target of an %(type)s record, and MX and SRV "
                        "targets cannot be aliases (RFC 2181). Give it A/AAAA records instead."
                    )
                    % {"name": shown, "type": pointing[0]}
                }
            )
    elif here.filter(rtype=T.CNAME).exists():
        target = here.filter(rtype=T.CNAME).values_list("value", flat=True).first()
        raise ValidationError(
            {
                "name": _(
                    "“%(name)s” is an alias (CNAME) for %(target)s, so it cannot have other "
                    "records. Remove the CNAME first, or add the record at %(target)s."
                )
                % {"name": shown, "target": target}
            }
        )
    if record.rtype in (T.MX, T.SRV) and record.value != ".":
        if DnsRecord.objects.filter(zone=zone, name=record.value, rtype=T.CNAME).exists():
            raise ValidationError(
                {
                    "value": _(
                        "“%(target)s” is an alias (CNAME). MX and SRV records must point to a "
                        "name with its own A or AAAA record (RFC 2181)."
                    )
                    % {"target": record.value}
                }
            )
    for other in here.filter(rtype=record.rtype):
        if other.content == record.content:
            raise ValidationError(_("This record exists already."))
    if record.pk is None and zone.records.count() >= dns.MAX_RECORDS_PER_ZONE:
        raise ValidationError(
            _("A zone can hold at most %(n)d records here; ask support for more.")
            % {"n": dns.MAX_RECORDS_PER_ZONE}
        )


def _share_ttl(record: DnsRecord) -> None:
    """Records of one name and type share one TTL (RFC 2181 5.2): the latest one set wins."""
    DnsRecord.objects.rrset(record.zone, record.name, record.rtype).exclude(ttl=record.ttl).update(
        ttl=record.ttl, updated_at=timezone.now()
    )


def _queue_changes(zone: Zone, account: HostingAccount, event, keys) -> list[DnsChange]:
    """One change row per RRset touched; pushed after commit, or kept as *not pushed*
    when no DNS server is configured."""
    configured = pdns.is_configured()
    now = timezone.now()
    changes = [
        DnsChange.objects.create(
            zone=zone,
            account=account,
            event=event,
            name=name,
            rtype=rtype,
            state=DnsChange.State.PENDING if configured else DnsChange.State.NOT_PUSHED,
            created_at=now,
            next_attempt_at=now + PERIODIC_GRACE,
        )
        for name, rtype in OrderedDict.fromkeys(keys)
    ]
    if configured:
        zone_id = zone.pk
        transaction.on_commit(lambda: enqueue_push(zone_id))
    return changes


def enqueue_push(zone_id: int) -> None:
    """Hand the zone to a worker; if the broker is down the periodic job pushes it (S26)."""
    from hosting.tasks import push_zone

    try:
        push_zone.delay(zone_id)
    except Exception:  # noqa: BLE001 - the change row stays pending; push_pending finds it
        log.warning("could not enqueue the DNS push of zone %s; it stays pending", zone_id)


RECORD_FIELDS = ("name", "rtype", "ttl", "priority", "weight", "port", "flags", "tag", "value")


@transaction.atomic
def dns_record_create(
    *,
    account: HostingAccount,
    rtype: str,
    name: str,
    value: str,
    ttl: int | None = None,
    priority: int | None = None,
    weight: int | None = None,
    port: int | None = None,
    flags: int | None = None,
    tag: str = "",
    actor: User | None,
    access: Access | None,
    request=None,
) -> DnsRecord:
    """Add a record to a domain's zone (A1). Raises ValidationError and changes nothing
    when the record is malformed or breaks a rule of the zone."""
    check_changeable(account)
    zone = _locked(zone_for_account(account))
    record = DnsRecord(
        zone=zone,
        account=account,
        rtype=rtype,
        name=name,
        value=value,
        ttl=dns.DEFAULT_TTL if ttl is None else ttl,
        priority=priority,
        weight=weight,
        port=port,
        flags=flags,
        tag=tag or "",
    )
    record.full_clean()
    _zone_rules(record)
    record.save()
    _share_ttl(record)
    event = event_record(
        account=account,
        action=AccountEvent.Action.RECORD_ADDED,
        summary=_record_label(record),
        actor=actor,
        access=access,
        request=request,
    )
    _queue_changes(zone, account, event, [(record.name, record.rtype)])
    return record


@transaction.atomic
def dns_record_update(
    *,
    record: DnsRecord,
    actor: User | None,
    access: Access | None,
    request=None,
    **fields,
) -> DnsRecord:
    """Change a record; a new name or type moves it to another RRset, and both are pushed.
    Returns the record unchanged (and records nothing) when nothing differs."""
    unknown = set(fields) - set(RECORD_FIELDS)
    if unknown:
        raise TypeError(f"unknown record fields: {sorted(unknown)}")
    check_changeable(record.account)
    zone = _locked(record.zone)
    record = DnsRecord.objects.select_related("zone", "account").get(pk=record.pk, zone=zone)
    before_key = (record.name, record.rtype)
    before = (record.name, record.rtype, record.ttl, record.content)
    before_label = _record_label(record)
    for key, val in fields.items():
        setattr(record, key, val)
    if record.ttl is None:
        record.ttl = dns.DEFAULT_TTL
    record.full_clean()
    if (record.name, record.rtype, record.ttl, record.content) == before:
        return record
    _zone_rules(record)
    record.updated_at = timezone.now()
    record.save()
    _share_ttl(record)
    after_label = _record_label(record)
    if before_label == after_label:  # only the TTL changed
        summary = _("%(record)s, TTL %(ttl)s") % {"record": after_label, "ttl": record.ttl}
    else:
        summary = f"{before_label} → {after_label}"
    event = event_record(
        account=record.account,
        action=AccountEvent.Action.RECORD_CHANGED,
        summary=summary,
        actor=actor,
        access=access,
        request=request,
    )
    _queue_changes(zone, record.account, event, [before_key, (record.name, record.rtype)])
    return record


@transaction.atomic
def dns_record_delete(
    *, record: DnsRecord, actor: User | None, access: Access | None, request=None
) -> None:
    check_changeable(record.account)
    zone = _locked(record.zone)
    record = DnsRecord.objects.select_related("zone", "account").get(pk=record.pk, zone=zone)
    label = _record_label(record)
    key = (record.name, record.rtype)
    record.delete()
    event = event_record(
        account=record.account,
        action=AccountEvent.Action.RECORD_REMOVED,
        summary=label,
        actor=actor,
        access=access,
        request=request,
    )
    _queue_changes(zone, record.account, event, [key])


@transaction.atomic
def zone_set_up(*, account: HostingAccount, records: list[dict]) -> int:
    """Give a domain its first records in one go, as the provider (demo data, new
    domains). Does nothing when the zone holds records already. Returns the number added."""
    zone = _locked(zone_for_account(account))
    if zone.records.exists():
        return 0
    made = []
    for fields in records:
        record = DnsRecord(zone=zone, account=account, **fields)
        record.full_clean()
        _zone_rules(record)
        record.save()
        made.append(record)
    event = event_record(
        account=account,
        action=AccountEvent.Action.ZONE_SET_UP,
        summary=_("%(n)d records") % {"n": len(made)},
        actor=None,
        access=None,
    )
    _queue_changes(zone, account, event, [(r.name, r.rtype) for r in made])
    return len(made)


# --- reverse DNS (A3) ---------------------------------------------------------------------


def server_addresses(account: HostingAccount) -> list[str]:
    return [str(a) for a in (account.ipv4, account.ipv6) if a]


@transaction.atomic
def reverse_dns_set(
    *,
    account: HostingAccount,
    address: str,
    hostname: str,
    actor: User | None,
    access: Access | None,
    request=None,
) -> DnsRecord | None:
    """Set (or with an empty ``hostname`` remove) the PTR record of one of the server's
    own addresses in its reverse zone. The address comes from the account, never from
    the form (S4)."""
    check_changeable(account)
    if account.kind != HostingAccount.Kind.SERVER:
        raise ValidationError(_("Reverse DNS is set on servers."))
    if address not in server_addresses(account):
        raise ValidationError(_("This address does not belong to the server."))
    hostname = (hostname or "").strip()
    if hostname and "." not in hostname.rstrip("."):
        raise ValidationError(
            _("Enter the full host name, like %(example)s.")
            % {"example": f"{account.name}.example.net"}
        )
    zone, _created = Zone.objects.get_or_create(
        name=dns.reverse_zone(address), defaults={"kind": Zone.Kind.REVERSE}
    )
    zone = _locked(zone)
    ptr_name = dns.reverse_pointer(address)
    existing = DnsRecord.objects.rrset(zone, ptr_name, DnsRecord.Type.PTR).first()
    if not hostname:
        if existing is None:
            return None
        existing.delete()
        action, summary, result = (
            AccountEvent.Action.REVERSE_DNS_REMOVED,
            _("%(address)s (was %(name)s)") % {"address": address, "name": existing.value},
            None,
        )
    else:
        # The PTR of an address belongs to the server that holds the address now.
        record = existing or DnsRecord(zone=zone, name=ptr_name, rtype=DnsRecord.Type.PTR)
        old = existing.value if existing else ""
        record.account = account
        record.value = hostname
        record.ttl = record.ttl or dns.DEFAULT_TTL
        record.full_clean()
        if record.value == old:
            return record
        record.updated_at = timezone.now()
        record.save()
        action, summary, result = (
            AccountEvent.Action.REVERSE_DNS_SET,
            f"{address} → {record.value}",
            record,
        )
    event = event_record(
        account=account, action=action, summary=summary, actor=actor, access=access, request=request
    )
    _queue_changes(zone, account, event, [(ptr_name, DnsRecord.Type.PTR)])
    return result
