"""Factories and helpers for the hosting tests."""

import factory

from accounts.models import HostingAccount
from hosting import dns
from hosting.models import DnsRecord, Zone
from portal import policy


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Zone
        django_get_or_create = ("name",)

    account = None
    kind = Zone.Kind.FORWARD
    name = factory.LazyAttribute(lambda o: dns.zone_name(o.account.name))


class DnsRecordFactory(factory.django.DjangoModelFactory):
    """An A record ``hostN`` in the account's zone (rows only: no change, no history)."""

    class Meta:
        model = DnsRecord

    account = None
    zone = factory.LazyAttribute(lambda o: ZoneFactory(account=o.account))
    rtype = DnsRecord.Type.A
    name = factory.LazyAttributeSequence(lambda o, n: f"host{n}.{o.zone.name}")
    value = factory.Sequence(lambda n: f"192.0.2.{n % 250 + 1}")
    ttl = 3600


def access_of(user, account: HostingAccount):
    """The policy's access of ``user`` to ``account``, as a view would have it."""
    access = policy.account_access(user, account)
    assert access is not None, f"{user} has no access to {account}"
    return access
