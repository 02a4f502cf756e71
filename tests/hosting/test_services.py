"""Services of the hosting app: records and their rules (A1), reverse DNS (A3), change
requests (A2, A3), and the history with who and through which access (A4)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import AuditEvent, HostingAccount
from hosting import services
from hosting.models import AccountEvent, ChangeRequest, DnsChange, DnsRecord, Zone
from tests.factories import HostingAccountFactory, MembershipFactory
from tests.hosting.factories import access_of

pytestmark = pytest.mark.django_db

UNREACHABLE = "http://127.0.0.1:9/api/v1"  # discard port: connection refused


def add(account, user, **fields):
    return services.dns_record_create(
        account=account, actor=user, access=access_of(user, account), **fields
    )


def counts():
    return (
        DnsRecord.objects.count(),
        DnsChange.objects.count(),
        AccountEvent.objects.count(),
        AuditEvent.objects.filter(action__startswith="hosting.").count(),
    )


# --- records (A1) ---------------------------------------------------------------------------


def test_a1_a4_add_record_keeps_it_records_change_and_history(account, owner):
    """A1, A4: the record is kept, a change row waits for the push, the history says who
    and through which access, and the customer's audit trail has it (S27)."""
    record = add(account, owner, rtype="A", name="www", value="192.0.2.10", ttl=300)
    assert (record.name, record.value, record.ttl) == ("www.alice.example.", "192.0.2.10", 300)
    assert record.zone.name == "alice.example." and record.zone.account == account
    change = DnsChange.objects.get()
    assert (change.name, change.rtype, change.state) == ("www.alice.example.", "A", "not_pushed")
    event = AccountEvent.objects.get()
    assert event.actor == owner and event.via == "membership"
    assert event.via_customer == account.customer
    assert event.reason == f"member of {account.customer.display_number}"
    assert event.action == "record_added" and "www A 192.0.2.10" in event.summary
    assert change.event == event
    assert AuditEvent.objects.filter(
        action="hosting.record_added", customer=account.customer, actor=owner
    ).exists()


def test_a1_change_is_pending_when_pdns_configured(account, owner, settings):
    """A1: with a DNS server configured a change starts out pending."""
    settings.PDNS_API_URL = UNREACHABLE
    add(account, owner, rtype="A", name="www", value="192.0.2.10")
    assert DnsChange.objects.get().state == "pending"


@pytest.mark.parametrize(
    ("first", "second", "field", "message"),
    [
        (
            {"rtype": "A", "name": "www", "value": "192.0.2.1"},
            {"rtype": "CNAME", "name": "www", "value": "web.example"},
            "name",
            "A CNAME must be the only record at its name",
        ),
        (
            {"rtype": "CNAME", "name": "www", "value": "web.example"},
            {"rtype": "TXT", "name": "www", "value": "hello"},
            "name",
            "is an alias (CNAME)",
        ),
        (
            {"rtype": "CNAME", "name": "www", "value": "web.example"},
            {"rtype": "CNAME", "name": "www", "value": "other.example"},
            "name",
            "already has a CNAME",
        ),
        (
            {"rtype": "CNAME", "name": "mail", "value": "mail.provider.example"},
            {"rtype": "MX", "name": "@", "value": "mail", "priority": 10},
            "value",
            "MX and SRV records must point to a name with its own A or AAAA",
        ),
        (
            {"rtype": "MX", "name": "@", "value": "mail", "priority": 10},
            {"rtype": "CNAME", "name": "mail", "value": "mail.provider.example"},
            "name",
            "MX and SRV targets cannot be aliases",
        ),
    ],
)
def test_a1_cname_rules_refuse_and_change_nothing(account, owner, first, second, field, message):
    """A1: no CNAME beside other records at the same name, nor as MX/SRV target; the
    refusal names the problem and nothing is changed."""
    add(account, owner, **first)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        add(account, owner, **second)
    assert message in " ".join(exc.value.message_dict[field])
    assert counts() == before


def test_a1_duplicate_record_refused(account, owner):
    add(account, owner, rtype="TXT", name="@", value="v=spf1 mx -all")
    with pytest.raises(ValidationError, match="exists already"):
        add(account, owner, rtype="TXT", name="@", value='"v=spf1 mx -all"')


def test_a1_malformed_record_refused_by_service_too(account, owner):
    """A1: the service checks again, whatever the caller (no form needed)."""
    before = counts()
    with pytest.raises(ValidationError) as exc:
        add(account, owner, rtype="A", name="www.bob.example.", value="1.2.3", ttl=5)
    assert set(exc.value.message_dict) >= {"name", "value", "ttl"}
    assert counts() == before


def test_a1_records_of_one_rrset_share_the_ttl(account, owner):
    """RFC 2181 5.2: the TTL set last applies to all records of that name and type."""
    add(account, owner, rtype="A", name="www", value="192.0.2.1", ttl=3600)
    add(account, owner, rtype="A", name="www", value="192.0.2.2", ttl=600)
    assert set(DnsRecord.objects.values_list("ttl", flat=True)) == {600}


def test_a1_update_moves_rrset_and_pushes_both(account, owner):
    record = add(account, owner, rtype="A", name="www", value="192.0.2.1")
    services.dns_record_update(
        record=record,
        actor=owner,
        access=access_of(owner, account),
        name="web",
        rtype="A",
        value="192.0.2.1",
        ttl=3600,
    )
    keys = set(
        DnsChange.objects.filter(event__action="record_changed").values_list("name", "rtype")
    )
    assert keys == {("www.alice.example.", "A"), ("web.alice.example.", "A")}
    event = AccountEvent.objects.get(action="record_changed")
    assert "www A 192.0.2.1 → web A 192.0.2.1" in event.summary


def test_a1_update_without_difference_records_nothing(account, owner):
    record = add(account, owner, rtype="A", name="www", value="192.0.2.1")
    before = counts()
    services.dns_record_update(
        record=record,
        actor=owner,
        access=access_of(owner, account),
        name="www.alice.example.",
        rtype="A",
        value="192.0.2.1",
        ttl=3600,
    )
    assert counts() == before


def test_a1_update_error_changes_nothing(account, owner):
    record = add(account, owner, rtype="A", name="www", value="192.0.2.1")
    add(account, owner, rtype="TXT", name="txt", value="hello")
    before = counts()
    with pytest.raises(ValidationError):
        services.dns_record_update(
            record=record,
            actor=owner,
            access=access_of(owner, account),
            rtype="CNAME",
            name="txt",
            value="x.example",
            ttl=3600,
        )
    record.refresh_from_db()
    assert (record.rtype, record.name) == ("A", "www.alice.example.")
    assert counts() == before


def test_a1_delete_records_change_and_history(account, owner):
    record = add(account, owner, rtype="MX", name="@", value="mail", priority=10)
    services.dns_record_delete(record=record, actor=owner, access=access_of(owner, account))
    assert not DnsRecord.objects.exists()
    event = AccountEvent.objects.get(action="record_removed")
    assert "@ MX 10 mail.alice.example." in event.summary
    assert event.dns_changes.get().rtype == "MX"


def test_a1_cancelled_account_cannot_change(account, owner):
    account.status = HostingAccount.Status.CANCELLED
    account.save()
    with pytest.raises(ValidationError, match="cancelled"):
        add(account, owner, rtype="A", name="www", value="192.0.2.1")


def test_a1_zone_only_for_domains(customer, owner):
    package = HostingAccountFactory(customer=customer, package=True)
    with pytest.raises(ValidationError, match="Only domains"):
        add(package, owner, rtype="A", name="www", value="192.0.2.1")


# --- history: through which access (A4) ---------------------------------------------------


def test_a4_delegate_change_is_recorded_via_grant(account, delegate, grant, agency):
    """A4, D4: a delegate's change records the grant and the agency."""
    add(account, delegate, rtype="A", name="www", value="192.0.2.1")
    event = AccountEvent.objects.get()
    assert event.via == "grant" and event.grant == grant
    assert event.via_customer == agency and event.actor == delegate
    assert event.reason.startswith(f"grant #{grant.pk}")


def test_a4_main_account_change_is_recorded_via_main_account(
    main_user, main_customer, sub_customer
):
    """A4, C3: a main-account user acting in a sub-account."""
    domain = HostingAccountFactory(customer=sub_customer, name="sub-shop.example")
    add(domain, main_user, rtype="A", name="www", value="192.0.2.1")
    event = AccountEvent.objects.get()
    assert event.via == "main_account" and event.via_customer == main_customer
    assert main_customer.display_number in event.reason


# --- the push without a server -------------------------------------------------------------


def test_a1_s26_pdns_down_keeps_change_pending_with_backoff(account, owner, settings):
    """A1, S26: PowerDNS unreachable — the change stays pending, with the error, the
    attempt counted and the next attempt later; nothing is lost."""
    settings.PDNS_API_URL = UNREACHABLE
    add(account, owner, rtype="A", name="www", value="192.0.2.1")
    zone = Zone.objects.get()
    assert services.dns_push_zone(zone.pk) == services.Push.UNAVAILABLE
    change = DnsChange.objects.get()
    assert change.state == "pending" and change.attempts == 1
    assert "not reachable" in change.last_error
    assert change.next_attempt_at > timezone.now()
    assert services.dns_push_zone(zone.pk) == services.Push.UNAVAILABLE
    change.refresh_from_db()
    assert change.attempts == 2


def test_s26_retry_delay_backs_off_to_five_minutes():
    assert [services.retry_delay(n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert services.retry_delay(30) == 300


def test_a1_not_configured_push_does_nothing(account, owner):
    add(account, owner, rtype="A", name="www", value="192.0.2.1")
    assert services.dns_push_zone(Zone.objects.get().pk) == services.Push.NOT_CONFIGURED
    assert services.dns_push_due() == {}
    assert DnsChange.objects.get().state == "not_pushed"


def test_s26_periodic_job_takes_only_changes_that_are_due(account, owner, settings):
    settings.PDNS_API_URL = UNREACHABLE
    add(account, owner, rtype="A", name="www", value="192.0.2.1")
    assert services.dns_push_due() == {}  # the immediate task has its grace period
    DnsChange.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert services.dns_push_due() == {"unavailable": 1}


# --- reverse DNS (A3) -------------------------------------------------------------------------


@pytest.fixture
def server(customer):
    return HostingAccountFactory(
        customer=customer, server=True, ipv4="192.0.2.42", ipv6="2001:db8::42"
    )


def test_a3_reverse_dns_set_and_remove(server, owner):
    """A3: the PTR of the server's own address goes into its reverse zone."""
    access = access_of(owner, server)
    record = services.reverse_dns_set(
        account=server,
        address="192.0.2.42",
        hostname="de-01-srv-0042.alice.example",
        actor=owner,
        access=access,
    )
    assert record.zone.name == "2.0.192.in-addr.arpa." and record.zone.kind == "reverse"
    assert (record.name, record.rtype, record.value) == (
        "42.2.0.192.in-addr.arpa.",
        "PTR",
        "de-01-srv-0042.alice.example.",
    )
    assert AccountEvent.objects.get().action == "reverse_dns_set"
    services.reverse_dns_set(
        account=server, address="192.0.2.42", hostname="", actor=owner, access=access
    )
    assert not DnsRecord.objects.exists()
    assert DnsChange.objects.filter(rtype="PTR").count() == 2


def test_a3_s4_reverse_dns_only_for_the_servers_own_addresses(server, owner):
    """S4: an address not belonging to the server is refused."""
    with pytest.raises(ValidationError, match="does not belong"):
        services.reverse_dns_set(
            account=server,
            address="192.0.2.99",
            hostname="x.example",
            actor=owner,
            access=access_of(owner, server),
        )


def test_a3_reverse_dns_needs_full_host_name(server, owner):
    with pytest.raises(ValidationError, match="full host name"):
        services.reverse_dns_set(
            account=server,
            address="192.0.2.42",
            hostname="mail",
            actor=owner,
            access=access_of(owner, server),
        )


# --- change requests (A2, A3) ------------------------------------------------------------------


@pytest.fixture
def package(customer):
    return HostingAccountFactory(customer=customer, package=True, php_version="8.1", storage_gb=10)


def request_change(account, user, kind, value="", note=""):
    return services.change_request_create(
        account=account,
        kind=kind,
        value=value,
        note=note,
        actor=user,
        access=access_of(user, account),
    )


def test_a2_php_change_is_recorded_for_staff_and_applied_when_done(package, owner, staff_user):
    """A2: the request is recorded (history) and waits for staff; done applies it."""
    cr = request_change(package, owner, "php_version", "8.3", "after 18:00 please")
    assert (cr.state, cr.value, cr.previous, cr.created_by) == ("open", "8.3", "8.1", owner)
    assert AccountEvent.objects.get().action == "php_requested"
    package.refresh_from_db()
    assert package.php_version == "8.1"  # staff carry it out
    assert services.change_request_complete(change_request=cr, staff_user=staff_user)
    package.refresh_from_db()
    assert package.php_version == "8.3"
    done = AccountEvent.objects.get(action="request_done")
    assert done.via == "staff" and done.actor == staff_user
    assert not services.change_request_complete(change_request=cr, staff_user=staff_user)


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("php_version", "5.6", "supported PHP versions"),
        ("php_version", "8.1", "runs PHP 8.1 already"),
        ("storage", "10", "choose a larger size"),
        ("storage", "37", "storage sizes offered"),
        ("reboot", "", "does not apply"),
    ],
)
def test_a2_invalid_requests_are_refused(package, owner, kind, value, message):
    with pytest.raises(ValidationError) as exc:
        request_change(package, owner, kind, value)
    assert message in " ".join(exc.value.messages)
    assert not ChangeRequest.objects.exists() and not AccountEvent.objects.exists()


def test_a2_one_open_request_per_kind_and_cancel(package, owner):
    cr = request_change(package, owner, "storage", "50")
    with pytest.raises(ValidationError, match="already waiting"):
        request_change(package, owner, "storage", "100")
    request_change(package, owner, "php_version", "8.2")  # another kind is fine
    assert services.change_request_cancel(
        change_request=cr, actor=owner, access=access_of(owner, package)
    )
    cr.refresh_from_db()
    assert cr.state == "cancelled"
    request_change(package, owner, "storage", "100")


def test_a2_staff_decline_is_in_history(package, owner, staff_user):
    cr = request_change(package, owner, "storage", "50")
    assert services.change_request_reject(
        change_request=cr, staff_user=staff_user, note="needs a bigger plan"
    )
    event = AccountEvent.objects.get(action="request_rejected")
    assert "needs a bigger plan" in event.summary


def test_a3_reboot_request_for_servers(server, customer):
    user = MembershipFactory(customer=customer, can_change_dns=True).user
    cr = request_change(server, user, "reboot", note="any time tonight")
    assert cr.kind == "reboot" and cr.note == "any time tonight"
    assert AccountEvent.objects.get().action == "reboot_requested"
