"""The demo's domains hold believable zones (issue 11, "Done when"), idempotently."""

import pytest
from django.core.management import call_command

from accounts.models import HostingAccount
from hosting.models import AccountEvent, ChangeRequest, DnsChange, DnsRecord

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        DnsRecord.objects.count(),
        DnsChange.objects.count(),
        AccountEvent.objects.count(),
        ChangeRequest.objects.count(),
    )


def test_a1_a3_a4_demo_zones_are_believable_and_seeding_is_idempotent(capsys):
    call_command("seed_demo")
    first = snapshot()
    domains = HostingAccount.objects.filter(kind="domain")
    assert domains.count() >= 6
    for domain in domains:
        types = set(DnsRecord.objects.filter(account=domain).values_list("rtype", flat=True))
        assert {"A", "MX", "TXT", "CAA"} <= types, domain.name
        spf = DnsRecord.objects.filter(account=domain, rtype="TXT", value__startswith="v=spf1")
        assert spf.count() == 1, domain.name
    ptr = DnsRecord.objects.get(rtype="PTR", name="42.2.0.192.in-addr.arpa.")
    assert ptr.value == "mail.nordlicht-media.example."
    assert AccountEvent.objects.filter(via="membership").exists()
    assert ChangeRequest.objects.filter(state="open").count() == 2
    # Without a DNS server (the embedded default) every change says "not pushed".
    assert set(DnsChange.objects.values_list("state", flat=True)) == {"not_pushed"}
    call_command("seed_demo")
    assert snapshot() == first
