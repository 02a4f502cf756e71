"""A1, A3 against a real PowerDNS (Debian pdns-server, sqlite3 backend) started for the
test run (tests/pdns_server.py), queried over DNS with dnspython."""

import time
from datetime import timedelta

import dns.reversename
import pytest
from django.urls import reverse
from django.utils import timezone

from hosting import services, tasks
from hosting.models import DnsChange, DnsRecord, Zone
from tests.factories import HostingAccountFactory
from tests.hosting.factories import access_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def add(account, owner, django_capture_on_commit_callbacks):
    """Add a record as the owner; the push runs as it would after commit."""

    def _add(**fields):
        with django_capture_on_commit_callbacks(execute=True):
            return services.dns_record_create(
                account=account, actor=owner, access=access_of(owner, account), **fields
            )

    return _add


def states():
    return sorted(set(DnsChange.objects.values_list("state", flat=True)))


def test_a1_change_is_pushed_and_resolves(pdns, add):
    """A1: the portal pushes a change (creating the zone) and PowerDNS answers it."""
    assert pdns.answers("www.alice.example.", "A") == []
    add(rtype="A", name="www", value="192.0.2.10", ttl=300)
    assert states() == ["applied"]
    assert pdns.answers("www.alice.example.", "A") == ["192.0.2.10"]
    assert pdns.ttl("www.alice.example.", "A") == 300
    assert "alice.example." in pdns.zones()
    assert DnsChange.objects.get().applied_at is not None


def test_a1_new_zone_gets_the_providers_name_servers(pdns, add, settings):
    """A1: a zone the portal creates is delegated-ready: its NS records are the provider's
    name servers (DNS_NAMESERVERS), so it resolves once the registry points at them."""
    settings.DNS_NAMESERVERS = ["ns1.provider.example.", "ns2.provider.example."]
    add(rtype="A", name="www", value="192.0.2.10")
    assert sorted(pdns.answers("alice.example.", "NS")) == [
        "ns1.provider.example.",
        "ns2.provider.example.",
    ]


def test_a1_every_record_type_resolves(pdns, add):
    """A1: A, AAAA, CNAME, MX, TXT (split into 255-character strings), SRV and CAA."""
    add(rtype="A", name="@", value="192.0.2.10")
    add(rtype="AAAA", name="@", value="2001:db8::10")
    add(rtype="A", name="mail", value="192.0.2.25")
    add(rtype="CNAME", name="www", value="@")
    add(rtype="MX", name="@", value="mail", priority=10)
    add(rtype="MX", name="@", value="mx2.provider.example", priority=20)
    long_text = "v=DKIM1; k=rsa; p=" + "B" * 400
    add(rtype="TXT", name="mail._domainkey", value=long_text)
    add(rtype="TXT", name="@", value='"v=spf1 mx -all"')
    add(rtype="SRV", name="_imaps._tcp", value="mail", priority=0, weight=1, port=993)
    add(rtype="CAA", name="@", flags=0, tag="issue", value="letsencrypt.org")
    add(rtype="CAA", name="@", flags=0, tag="iodef", value="mailto:security@alice.example")
    assert states() == ["applied"]
    assert pdns.answers("alice.example.", "A") == ["192.0.2.10"]
    assert pdns.answers("alice.example.", "AAAA") == ["2001:db8::10"]
    assert pdns.answers("www.alice.example.", "CNAME") == ["alice.example."]
    assert pdns.answers("alice.example.", "MX") == [
        "10 mail.alice.example.",
        "20 mx2.provider.example.",
    ]
    assert pdns.answers("alice.example.", "TXT") == ['"v=spf1 mx -all"']
    (dkim,) = pdns.answers("mail._domainkey.alice.example.", "TXT")
    strings = dkim[1:-1].split('" "')
    assert [len(s) for s in strings] == [255, len(long_text) - 255]
    assert "".join(strings) == long_text
    assert pdns.answers("_imaps._tcp.alice.example.", "SRV") == ["0 1 993 mail.alice.example."]
    assert pdns.answers("alice.example.", "CAA") == [
        '0 iodef "mailto:security@alice.example"',
        '0 issue "letsencrypt.org"',
    ]


def test_a1_update_and_delete_replace_the_whole_rrset(
    pdns, add, account, owner, django_capture_on_commit_callbacks
):
    """A1: a change replaces the RRset; removing the last record deletes it."""
    first = add(rtype="A", name="www", value="192.0.2.1")
    add(rtype="A", name="www", value="192.0.2.2")
    assert pdns.answers("www.alice.example.", "A") == ["192.0.2.1", "192.0.2.2"]
    access = access_of(owner, account)
    with django_capture_on_commit_callbacks(execute=True):
        services.dns_record_update(
            record=first,
            actor=owner,
            access=access,
            name="web",
            rtype="A",
            value="192.0.2.1",
            ttl=600,
        )
    assert pdns.answers("www.alice.example.", "A") == ["192.0.2.2"]
    assert pdns.answers("web.alice.example.", "A") == ["192.0.2.1"]
    for record in DnsRecord.objects.all():
        with django_capture_on_commit_callbacks(execute=True):
            services.dns_record_delete(record=record, actor=owner, access=access)
    assert pdns.answers("www.alice.example.", "A") == []
    assert pdns.answers("web.alice.example.", "A") == []
    assert states() == ["applied"]


def test_s26_push_is_idempotent(pdns, add):
    """S26: pushing again, or the same changes twice, leaves the same answers."""
    add(rtype="MX", name="@", value="mail", priority=10)
    zone = Zone.objects.get()
    assert services.dns_push_zone(zone.pk) == services.Push.NOTHING
    DnsChange.objects.update(state=DnsChange.State.PENDING)  # as if a worker died after PATCH
    assert services.dns_push_zone(zone.pk) == services.Push.APPLIED
    assert services.dns_push_zone(zone.pk) == services.Push.NOTHING
    assert pdns.answers("alice.example.", "MX") == ["10 mail.alice.example."]


def test_a1_change_made_without_server_is_pushed_once_configured(account, owner, settings, pdns):
    """A1, S26: changes kept as "not pushed" go out once a DNS server is configured."""
    settings.PDNS_API_URL = ""
    services.dns_record_create(
        account=account,
        actor=owner,
        access=access_of(owner, account),
        rtype="A",
        name="old",
        value="192.0.2.7",
    )
    assert states() == ["not_pushed"]
    settings.PDNS_API_URL = pdns.api_url
    DnsChange.objects.update(next_attempt_at=timezone.now())
    assert tasks.push_pending() == {"applied": 1}
    assert pdns.answers("old.alice.example.", "A") == ["192.0.2.7"]


def test_a1_refused_rrset_fails_others_still_applied(pdns, add, account):
    """A1: what PowerDNS refuses is marked failed with its message; the other changes of
    the same push are applied."""
    zone = Zone.objects.get_or_create(name="alice.example.", kind="forward", account=account)[0]
    # A row no form would accept, written directly: PowerDNS must refuse it.
    bad = DnsRecord.objects.create(
        zone=zone, account=account, name="bad.alice.example.", rtype="A", value="not-an-ip"
    )
    DnsChange.objects.create(zone=zone, account=account, name=bad.name, rtype="A")
    add(rtype="A", name="good", value="192.0.2.5")
    failed = DnsChange.objects.get(name="bad.alice.example.")
    assert failed.state == "failed" and failed.last_error
    assert DnsChange.objects.get(name="good.alice.example.").state == "applied"
    assert pdns.answers("good.alice.example.", "A") == ["192.0.2.5"]


def test_a3_reverse_dns_ptr_resolves(pdns, customer, owner, django_capture_on_commit_callbacks):
    """A3: PTR records for the server's IPv4 and IPv6 in PowerDNS's reverse zones."""
    server = HostingAccountFactory(
        customer=customer, server=True, ipv4="192.0.2.42", ipv6="2001:db8::42"
    )
    access = access_of(owner, server)
    for address in ("192.0.2.42", "2001:db8::42"):
        with django_capture_on_commit_callbacks(execute=True):
            services.reverse_dns_set(
                account=server,
                address=address,
                hostname="de-01-srv-0042.alice.example",
                actor=owner,
                access=access,
            )
    v4 = dns.reversename.from_address("192.0.2.42").to_text()
    v6 = dns.reversename.from_address("2001:db8::42").to_text()
    assert v4 == "42.2.0.192.in-addr.arpa."
    assert pdns.answers(v4, "PTR") == ["de-01-srv-0042.alice.example."]
    assert pdns.answers(v6, "PTR") == ["de-01-srv-0042.alice.example."]
    assert {"2.0.192.in-addr.arpa.", "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."} <= set(pdns.zones())
    with django_capture_on_commit_callbacks(execute=True):
        services.reverse_dns_set(
            account=server, address="192.0.2.42", hostname="", actor=owner, access=access
        )
    assert pdns.answers(v4, "PTR") == []


def test_a1_s26_pdns_down_change_waits_then_periodic_job_applies_it(pdns, add):
    """A1, S26: PowerDNS stopped — the change is kept pending (the push fails, nothing is
    lost); PowerDNS started again — the periodic job applies it. (The job is called here
    directly; the test below does the same with a real Celery worker.)"""
    pdns.stop()
    add(rtype="A", name="later", value="192.0.2.77")
    change = DnsChange.objects.get()
    assert change.state == "pending" and change.attempts == 1
    assert "not reachable" in change.last_error
    pdns.start()
    assert tasks.push_pending() == {}  # not due yet: backoff
    DnsChange.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert tasks.push_pending() == {"applied": 1}
    assert pdns.answers("later.alice.example.", "A") == ["192.0.2.77"]


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a1_s26_real_worker_retries_until_pdns_is_back(
    pdns, real_celery, client_for, owner, account
):
    """A1, S26 with a real Celery worker: PowerDNS stopped, a change made through the
    zone page waits as pending while the worker's task retries with backoff; PowerDNS
    started again, the retry applies it and the name resolves."""
    client = client_for(owner)
    pdns.stop()
    url = reverse(
        "hosting:record_create", kwargs={"customer": account.customer.number, "account": account.pk}
    )
    response = client.post(
        url, {"rtype": "A", "name": "retry", "value": "192.0.2.99", "ttl": "300"}
    )
    assert response.status_code == 302
    change = DnsChange.objects.get()
    deadline = time.monotonic() + 20
    while change.attempts == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        change.refresh_from_db()
    assert change.state == "pending" and change.attempts >= 1, real_celery.log_path.read_text()[
        -2000:
    ]
    pdns.start()
    deadline = time.monotonic() + 30
    while change.state != "applied" and time.monotonic() < deadline:
        time.sleep(0.2)
        change.refresh_from_db()
    assert change.state == "applied"
    assert pdns.answers("retry.alice.example.", "A") == ["192.0.2.99"]
    # Applied by the task's own retry (no beat runs in the tests).
    assert "hosting.tasks.push_zone" in real_celery.log_path.read_text()
    assert "retry: Retry in 5s" in real_celery.log_path.read_text()


def test_a1_record_replaced_by_cname_in_one_push(pdns, add, account, owner):
    """A1: removing the A record at www and adding a CNAME there reach PowerDNS in one
    push, the deletion first, so the server never sees a CNAME beside other data."""
    a_record = add(rtype="A", name="www", value="192.0.2.1")
    access = access_of(owner, account)
    # No push between the two changes (as while a worker is busy).
    services.dns_record_delete(record=a_record, actor=owner, access=access)
    services.dns_record_create(
        account=account, actor=owner, access=access, rtype="CNAME", name="www", value="@"
    )
    assert services.dns_push_zone(Zone.objects.get().pk) == services.Push.APPLIED
    assert pdns.answers("www.alice.example.", "CNAME") == ["alice.example."]
    assert states() == ["applied"]
