"""Reads for the hosting pages, each in a fixed number of queries whatever the size."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from accounts.models import HostingAccount
from hosting import dns
from hosting.models import AccountEvent, ChangeRequest, DnsChange, DnsRecord, Zone
from portal import policy
from portal.policy import Access


def zone_of(account: HostingAccount) -> Zone | None:
    return Zone.objects.filter(account=account).first()


def zone_records(zone: Zone | None) -> QuerySet[DnsRecord]:
    """The zone's records, each with the state of the latest change of its RRset."""
    if zone is None:
        return DnsRecord.objects.none()
    latest = DnsChange.objects.filter(
        zone=OuterRef("zone"), name=OuterRef("name"), rtype=OuterRef("rtype")
    ).order_by("-id")
    return (
        DnsRecord.objects.filter(zone=zone)
        .select_related("zone")
        .annotate(
            push_state=Subquery(latest.values("state")[:1]),
            push_error=Subquery(latest.values("last_error")[:1]),
        )
        .order_by("name", "rtype", "priority", "value")
    )


def recent_changes(account: HostingAccount, limit: int = 10) -> list[DnsChange]:
    return list(
        DnsChange.objects.filter(account=account).select_related("zone").order_by("-id")[:limit]
    )


@dataclass
class PushSummary:
    pending: int = 0
    failed: int = 0
    not_pushed: int = 0
    last_error: str = ""


def push_summary(account: HostingAccount) -> PushSummary:
    """How many of the account's DNS changes still wait, failed or were never pushed."""
    S = DnsChange.State
    counts = DnsChange.objects.filter(account=account).aggregate(
        pending=Count("pk", filter=Q(state=S.PENDING)),
        failed=Count("pk", filter=Q(state=S.FAILED)),
        not_pushed=Count("pk", filter=Q(state=S.NOT_PUSHED)),
    )
    summary = PushSummary(**counts)
    if summary.pending:
        summary.last_error = (
            DnsChange.objects.filter(account=account, state=S.PENDING)
            .exclude(last_error="")
            .order_by("-id")
            .values_list("last_error", flat=True)
            .first()
            or ""
        )
    return summary


def reverse_dns(account: HostingAccount) -> dict[str, DnsRecord | None]:
    """The server's addresses with their PTR record, if any (A3)."""
    addresses = [str(a) for a in (account.ipv4, account.ipv6) if a]
    if not addresses:
        return {}
    names = {dns.reverse_pointer(a): a for a in addresses}
    latest = DnsChange.objects.filter(
        zone=OuterRef("zone"), name=OuterRef("name"), rtype=OuterRef("rtype")
    ).order_by("-id")
    found = {
        r.name: r
        for r in DnsRecord.objects.filter(
            account=account, rtype=DnsRecord.Type.PTR, name__in=list(names)
        ).annotate(push_state=Subquery(latest.values("state")[:1]))
    }
    return {address: found.get(name) for name, address in names.items()}


def open_requests(account: HostingAccount) -> list[ChangeRequest]:
    return list(
        ChangeRequest.objects.filter(account=account, state=ChangeRequest.State.OPEN).order_by(
            "created_at"
        )
    )


def account_history(account: HostingAccount) -> QuerySet[AccountEvent]:
    return (
        AccountEvent.objects.filter(account=account)
        .select_related("actor", "grant", "via_customer", "change_request")
        .prefetch_related("dns_changes")
        .order_by("-at", "-id")
    )


@dataclass
class HistoryRow:
    event: AccountEvent
    who: str
    via: str
    state: str  # of the event's DNS changes, the one that matters most; "" when none


def _worst(states) -> str:
    for state in ("failed", "pending", "not_pushed", "applied"):
        if state in states:
            return state
    return ""


def history_rows(events, viewer: Access) -> list[HistoryRow]:
    """History entries as the viewer may read them (A4).

    The customer's own users see every person by name and the access they used. A
    delegate sees the people of its own agency by name, and everyone else only as "the
    customer" or "provider staff": the grantor's users are not theirs to see (D4)."""
    rows = []
    for event in events:
        agency_id = event.grant.agency_id if event.grant is not None else None
        if event.via == AccountEvent.Via.STAFF:
            who = _("provider staff")
        elif not policy.may_see_person_in_history(viewer, via=event.via, agency_id=agency_id):
            who = _("the customer")
        else:
            actor = event.actor
            who = (actor.get_full_name() or actor.email) if actor else "—"
            if event.via == AccountEvent.Via.GRANT and event.via_customer is not None:
                who = f"{who} ({event.via_customer.name}, {event.via_customer.display_number})"
        rows.append(
            HistoryRow(
                event=event,
                who=who,
                via=via_label(event),
                state=_worst({c.state for c in event.dns_changes.all()}),
            )
        )
    return rows


def via_label(event: AccountEvent) -> str:
    if event.via == AccountEvent.Via.GRANT:
        return _("via grant #%(id)s") % {"id": event.grant_id}
    if event.via == AccountEvent.Via.MAIN_ACCOUNT and event.via_customer is not None:
        return _("via main account %(number)s") % {"number": event.via_customer.display_number}
    if event.via == AccountEvent.Via.MEMBERSHIP:
        return _("as a member")
    return _("by the provider")


HISTORY_ON_ACCOUNT_PAGE = 5


def account_overview(account: HostingAccount, viewer: Access) -> dict:
    """What the hosting-account page shows of this app: the zone (domains), open requests
    (packages, servers), reverse DNS (servers) and the latest history entries."""
    overview: dict = {
        "history": history_rows(account_history(account)[:HISTORY_ON_ACCOUNT_PAGE], viewer),
    }
    if account.kind == HostingAccount.Kind.DOMAIN:
        zone = zone_of(account)
        overview["zone_name"] = (zone.name if zone else dns.zone_name(account.name)).rstrip(".")
        overview["record_count"] = zone.records.count() if zone else 0
        overview["dns_summary"] = push_summary(account)
    else:
        overview["open_requests"] = open_requests(account)
    if account.kind == HostingAccount.Kind.SERVER:
        overview["reverse_dns"] = reverse_dns(account)
    return overview
