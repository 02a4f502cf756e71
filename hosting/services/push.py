"""The push to PowerDNS (A1, S26): idempotent, one zone at a time, retried while the
DNS server is down, and a periodic job so that nothing waits forever."""

from __future__ import annotations

from collections import OrderedDict
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from hosting import pdns
from hosting.models import DnsChange, DnsRecord, Zone
from hosting.services.records import enqueue_push

# The backoff while PowerDNS is down, and how many changes one PATCH carries.
RETRY_BASE_SECONDS = 5
RETRY_MAX_SECONDS = 300
PUSH_BATCH = 100


class Push:
    NOT_CONFIGURED = "not_configured"
    NOTHING = "nothing"
    BUSY = "busy"
    APPLIED = "applied"
    FAILED = "failed"
    UNAVAILABLE = "unavailable"


def retry_delay(attempts: int) -> int:
    """Seconds to wait after ``attempts`` failed pushes: 5, 10, 20 ... at most 5 minutes."""
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))


def _rrsets(zone: Zone, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
    """What PowerDNS should hold for each key: the portal's records, or nothing."""
    query = Q()
    for name, rtype in keys:
        query |= Q(name=name, rtype=rtype)
    found: dict[tuple[str, str], list[DnsRecord]] = {key: [] for key in keys}
    for record in DnsRecord.objects.filter(query, zone=zone).order_by("id"):
        found[(record.name, record.rtype)].append(record)
    rrsets = {}
    for key, records in found.items():
        name, rtype = key
        if records:
            rrsets[key] = {
                "name": name,
                "type": rtype,
                "ttl": min(r.ttl for r in records),
                "changetype": "REPLACE",
                "records": [{"content": r.content, "disabled": False} for r in records],
            }
        else:
            rrsets[key] = {"name": name, "type": rtype, "changetype": "DELETE"}
    return rrsets


def _patch(client: pdns.PdnsClient, zone: Zone, rrsets: list[dict]) -> None:
    # Deletions first, so that a CNAME can replace the records it may not stand beside.
    ordered = sorted(rrsets, key=lambda r: r["changetype"] != "DELETE")
    try:
        client.patch_rrsets(zone.name, ordered)
    except pdns.ZoneMissing:
        client.create_zone(zone.name)
        client.patch_rrsets(zone.name, ordered)


def dns_push_zone(zone_id: int, *, skip_locked: bool = False) -> str:
    """Bring PowerDNS in line with the portal for every waiting change of one zone.

    Idempotent and safe on several workers (S26): the zone row is locked for the push, so
    pushes of one zone happen one after the other, each sending the current records; a
    change is marked applied only once PowerDNS accepted a state that includes it. While
    PowerDNS is unreachable the changes stay pending with their next attempt time."""
    if not pdns.is_configured():
        return Push.NOT_CONFIGURED
    result = Push.NOTHING
    for _round in range(20):  # PUSH_BATCH changes per round
        outcome = _push_batch(zone_id, skip_locked=skip_locked)
        if outcome in (Push.NOTHING, Push.BUSY):
            break
        result = outcome if result in (Push.NOTHING, Push.APPLIED) else result
        if outcome == Push.UNAVAILABLE:
            return outcome
    return result


@transaction.atomic
def _push_batch(zone_id: int, *, skip_locked: bool) -> str:
    zone = Zone.objects.select_for_update(skip_locked=skip_locked).filter(pk=zone_id).first()
    if zone is None:
        return Push.BUSY
    waiting = (DnsChange.State.PENDING, DnsChange.State.NOT_PUSHED)
    changes = list(zone.changes.filter(state__in=waiting).order_by("id")[:PUSH_BATCH])
    if not changes:
        return Push.NOTHING
    by_key: dict[tuple[str, str], list[DnsChange]] = OrderedDict()
    for change in changes:
        by_key.setdefault((change.name, change.rtype), []).append(change)
    # All waiting changes of these RRsets are satisfied by pushing the current state.
    extra = zone.changes.filter(state__in=waiting, id__gt=changes[-1].id)
    for change in extra:
        if (change.name, change.rtype) in by_key:
            by_key[(change.name, change.rtype)].append(change)
    rrsets = _rrsets(zone, list(by_key))
    client = pdns.PdnsClient()
    try:
        _patch(client, zone, list(rrsets.values()))
    except pdns.PdnsUnavailable as exc:
        _mark_waiting([c for group in by_key.values() for c in group], exc)
        return Push.UNAVAILABLE
    except pdns.PdnsRejected as exc:
        if len(rrsets) == 1:
            _mark(next(iter(by_key.values())), DnsChange.State.FAILED, str(exc))
            return Push.FAILED
        # Find which RRset the server refuses: push them one by one.
        outcome = Push.APPLIED
        for key, group in by_key.items():
            try:
                _patch(client, zone, [rrsets[key]])
            except pdns.PdnsUnavailable as exc2:
                _mark_waiting(group, exc2)
                return Push.UNAVAILABLE
            except pdns.PdnsRejected as exc2:
                _mark(group, DnsChange.State.FAILED, str(exc2))
                outcome = Push.FAILED
            else:
                _mark(group, DnsChange.State.APPLIED, "")
        return outcome
    _mark([c for group in by_key.values() for c in group], DnsChange.State.APPLIED, "")
    return Push.APPLIED


def _mark(changes: list[DnsChange], state: str, error: str) -> None:
    DnsChange.objects.filter(pk__in=[c.pk for c in changes]).update(
        state=state,
        last_error=error[:500],
        attempts=F("attempts") + 1,
        applied_at=timezone.now() if state == DnsChange.State.APPLIED else None,
    )


def _mark_waiting(changes: list[DnsChange], exc: Exception) -> None:
    now = timezone.now()
    for change in changes:
        attempts = change.attempts + 1
        DnsChange.objects.filter(pk=change.pk).update(
            state=DnsChange.State.PENDING,
            attempts=attempts,
            last_error=str(exc)[:500],
            next_attempt_at=now + timedelta(seconds=retry_delay(attempts)),
        )


def dns_push_due(*, limit: int = 200) -> dict[str, int]:
    """The periodic job: push every zone with a change whose time has come, so nothing is
    lost when a task never ran (broker down, worker killed) or PowerDNS was down (S26).
    Zones another worker is pushing right now are skipped."""
    if not pdns.is_configured():
        return {}
    zone_ids = list(
        DnsChange.objects.filter(
            state__in=(DnsChange.State.PENDING, DnsChange.State.NOT_PUSHED),
            next_attempt_at__lte=timezone.now(),
        )
        .order_by()
        .values_list("zone_id", flat=True)
        .distinct()[:limit]
    )
    counts: dict[str, int] = {}
    for zone_id in zone_ids:
        outcome = dns_push_zone(zone_id, skip_locked=True)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def dns_change_retry(*, change: DnsChange) -> None:
    """Staff: try a failed change again (after fixing what PowerDNS refused)."""
    DnsChange.objects.filter(pk=change.pk, state=DnsChange.State.FAILED).update(
        state=DnsChange.State.PENDING, next_attempt_at=timezone.now()
    )
    if pdns.is_configured():
        zone_id = change.zone_id
        transaction.on_commit(lambda: enqueue_push(zone_id))
