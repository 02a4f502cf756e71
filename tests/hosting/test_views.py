"""The hosting pages through the policy: reading needs "view products and services",
changing needs "change domain and DNS settings" or a live grant (A1–A4, U3, D4); every
view answers anonymous → login (S2), other tenant → 404 (S1), forbidden → 403."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from hosting import services
from hosting.models import AccountEvent, ChangeRequest, DnsChange, DnsRecord
from tests.factories import HostingAccountFactory, MembershipFactory
from tests.helpers import sign_in
from tests.hosting.factories import DnsRecordFactory, access_of

pytestmark = pytest.mark.django_db


def url(name, account, **kwargs):
    return reverse(
        f"hosting:{name}",
        kwargs={"customer": account.customer.number, "account": account.pk, **kwargs},
    )


@pytest.fixture
def client_for():
    """A fresh signed-in client per call, so that one test can act as several people."""
    return lambda user: sign_in(Client(), user)


@pytest.fixture
def dns_member(customer):
    """A member allowed to change domain and DNS settings (U3)."""
    return MembershipFactory(
        customer=customer, user__email="dns@example.com", can_change_dns=True
    ).user


@pytest.fixture
def no_products_member(customer):
    return MembershipFactory(
        customer=customer, user__email="billing@example.com", can_view_products=False
    ).user


@pytest.fixture
def record(account, owner):
    return services.dns_record_create(
        account=account,
        actor=owner,
        access=access_of(owner, account),
        rtype="A",
        name="www",
        value="192.0.2.10",
    )


@pytest.fixture
def server(customer):
    return HostingAccountFactory(customer=customer, server=True, ipv4="192.0.2.42")


@pytest.fixture
def package(customer):
    return HostingAccountFactory(customer=customer, package=True, php_version="8.1", storage_gb=10)


# --- the zone page (A1) -----------------------------------------------------------------


def test_a1_zone_page_lists_records_with_state(client_for, owner, account, record):
    response = client_for(owner).get(url("record_list", account))
    assert response.status_code == 200
    body = response.content.decode()
    assert "DNS zone alice.example" in body
    assert "192.0.2.10" in body and ">www<" in body
    assert "not pushed" in body
    # Said plainly when no DNS server is configured (the embedded default).
    assert "DNS changes are not pushed." in body


def test_a1_zone_page_read_only_for_member_without_dns_permission(
    client_for, member, account, record
):
    """U3: "view products and services" reads, but offers no change."""
    response = client_for(member).get(url("record_list", account))
    assert response.status_code == 200
    assert b"192.0.2.10" in response.content
    assert b"Add a record" not in response.content


def test_s2_zone_page_anonymous_redirected(account):
    response = Client().get(url("record_list", account))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_s1_zone_page_other_tenant_404(client_for, outsider, account):
    assert client_for(outsider).get(url("record_list", account)).status_code == 404


def test_u3_zone_page_without_view_products_403(client_for, no_products_member, account):
    assert client_for(no_products_member).get(url("record_list", account)).status_code == 403


def test_a1_zone_page_only_for_domains(client_for, owner, package):
    assert client_for(owner).get(url("record_list", package)).status_code == 404


def test_a1_zone_page_query_count_is_fixed(client_for, owner, account):
    """The record list costs the same number of queries at two sizes."""
    client = client_for(owner)
    DnsRecordFactory.create_batch(3, account=account)
    client.get(url("record_list", account))  # warm caches (content types, session)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url("record_list", account)).status_code == 200
    DnsRecordFactory.create_batch(40, account=account)
    with CaptureQueriesContext(connection) as large:
        response = client.get(url("record_list", account))
    assert response.content.count(b'<th scope="row">') == 43
    assert len(small) == len(large)


# --- add, change, remove (A1) ----------------------------------------------------------------


def test_a1_add_record(client_for, dns_member, account):
    response = client_for(dns_member).post(
        url("record_create", account),
        {"rtype": "MX", "name": "@", "value": "mail", "priority": "10", "ttl": "3600"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url("record_list", account)
    assert b"not pushed" in response.content
    mx = DnsRecord.objects.get()
    assert (mx.rtype, mx.name, mx.priority, mx.value) == (
        "MX",
        "alice.example.",
        10,
        "mail.alice.example.",
    )


def test_a1_invalid_record_shows_messages_and_changes_nothing(client_for, owner, account):
    """A1: a mistake is refused with a clear message beside the field; nothing changes."""
    response = client_for(owner).post(
        url("record_create", account),
        {"rtype": "MX", "name": "@", "value": "192.0.2.25", "priority": "70000", "ttl": "30"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Please correct the following" in body
    assert "is an IP address; this record needs a host name" in body
    assert "The priority must be between 0 and 65535." in body
    assert "The TTL must be between 60 seconds and 86400 seconds" in body
    assert not DnsRecord.objects.exists() and not DnsChange.objects.exists()
    assert not AccountEvent.objects.exists()


def test_a1_zone_rule_error_from_service_shown_on_form(client_for, owner, account, record):
    """A1: a CNAME beside the A record at www is refused with the reason."""
    response = client_for(owner).post(
        url("record_create", account),
        {"rtype": "CNAME", "name": "www", "value": "web.example", "ttl": "3600"},
    )
    assert response.status_code == 400
    assert "A CNAME must be the only record at its name" in response.content.decode()
    assert DnsRecord.objects.count() == 1


def test_u3_add_record_needs_dns_permission_403(client_for, member, account):
    response = client_for(member).post(
        url("record_create", account), {"rtype": "A", "name": "x", "value": "192.0.2.1"}
    )
    assert response.status_code == 403
    assert not DnsRecord.objects.exists()


def test_s1_add_record_other_tenant_404(client_for, outsider, account):
    response = client_for(outsider).post(
        url("record_create", account), {"rtype": "A", "name": "x", "value": "192.0.2.1"}
    )
    assert response.status_code == 404


def test_s2_add_record_anonymous_redirected(account):
    response = Client().post(url("record_create", account), {"rtype": "A"})
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a1_edit_record(client_for, owner, account, record):
    client = client_for(owner)
    page = client.get(url("record_update", account, record=record.pk))
    assert page.status_code == 200 and b'value="www"' in page.content
    response = client.post(
        url("record_update", account, record=record.pk),
        {"rtype": "A", "name": "www", "value": "192.0.2.11", "ttl": "600"},
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert (record.value, record.ttl) == ("192.0.2.11", 600)
    assert AccountEvent.objects.filter(action="record_changed").exists()


def test_s1_s4_record_of_another_account_is_404(
    client_for, owner, outsider, account, other_account
):
    """S1, S4: a record id of another tenant's zone, under one's own account, is a 404."""
    theirs = services.dns_record_create(
        account=other_account,
        actor=outsider,
        access=access_of(outsider, other_account),
        rtype="A",
        name="www",
        value="192.0.2.99",
    )
    client = client_for(owner)
    assert client.get(url("record_update", account, record=theirs.pk)).status_code == 404
    assert client.post(url("record_delete", account, record=theirs.pk)).status_code == 404
    assert (
        client_for(outsider).get(url("record_update", account, record=theirs.pk)).status_code == 404
    )
    assert DnsRecord.objects.filter(pk=theirs.pk).exists()


def test_u3_edit_and_delete_need_dns_permission_403(client_for, member, account, record):
    client = client_for(member)
    assert client.get(url("record_update", account, record=record.pk)).status_code == 403
    assert client.post(url("record_delete", account, record=record.pk)).status_code == 403
    assert DnsRecord.objects.filter(pk=record.pk).exists()


def test_s2_edit_and_delete_anonymous_redirected(account, record):
    for name in ("record_update", "record_delete"):
        assert Client().post(url(name, account, record=record.pk)).status_code == 302


def test_a1_delete_record_confirms_then_removes(client_for, owner, account, record):
    client = client_for(owner)
    confirm = client.get(url("record_delete", account, record=record.pk))
    assert confirm.status_code == 200 and b"Remove this record?" in confirm.content
    assert DnsRecord.objects.filter(pk=record.pk).exists()  # a GET changes nothing
    response = client.post(url("record_delete", account, record=record.pk))
    assert response.status_code == 302
    assert not DnsRecord.objects.exists()
    assert AccountEvent.objects.filter(action="record_removed").exists()


# --- delegates (D4) and the history (A4) -------------------------------------------------------


def test_d4_a4_delegate_changes_record_and_grantor_sees_it_via_grant(
    client_for, delegate, grant, owner, account, agency
):
    """A4, D4: a delegate changes a record of the grantor's domain; the grantor's owner
    reads it in the account's history "via grant #N", with the agency named."""
    response = client_for(delegate).post(
        url("record_create", account),
        {"rtype": "TXT", "name": "@", "value": "google-site-verification=abc123", "ttl": "3600"},
    )
    assert response.status_code == 302
    history = client_for(owner).get(url("event_list", account))
    assert history.status_code == 200
    body = history.content.decode()
    assert "DNS record added" in body and "google-site-verification=abc123" in body
    assert f"via grant #{grant.pk}" in body
    assert agency.name in body and delegate.get_full_name() in body
    # The account page shows the latest history too.
    detail = client_for(owner).get(account.get_absolute_url()).content.decode()
    assert f"via grant #{grant.pk}" in detail


def test_d4_delegate_sees_history_without_grantor_users(
    client_for, delegate, grant, owner, account, record
):
    """D4: a delegate reads the account's history, but not who the grantor's users are."""
    response = client_for(delegate).get(url("event_list", account))
    assert response.status_code == 200
    body = response.content.decode()
    assert "DNS record added" in body
    assert owner.email not in body and owner.get_full_name() not in body
    assert "the customer" in body


def test_d4_delegate_without_live_grant_404(client_for, delegate, account):
    assert client_for(delegate).get(url("record_list", account)).status_code == 404


def test_a4_history_anonymous_other_tenant_forbidden(
    client_for, outsider, no_products_member, account
):
    assert Client().get(url("event_list", account)).status_code == 302
    assert client_for(outsider).get(url("event_list", account)).status_code == 404


def test_u3_history_needs_view_products_403(client_for, no_products_member, account):
    assert client_for(no_products_member).get(url("event_list", account)).status_code == 403


def test_a4_history_query_count_is_fixed(client_for, owner, account, delegate, grant):
    client = client_for(owner)
    access = access_of(owner, account)
    delegate_access = access_of(delegate, account)

    def add(n, start):
        for i in range(start, start + n):
            who, how = (owner, access) if i % 2 else (delegate, delegate_access)
            services.dns_record_create(
                account=account, actor=who, access=how, rtype="A", name=f"h{i}", value="192.0.2.1"
            )

    add(2, 0)
    client.get(url("event_list", account))
    with CaptureQueriesContext(connection) as small:
        client.get(url("event_list", account))
    add(18, 2)
    with CaptureQueriesContext(connection) as large:
        response = client.get(url("event_list", account))
    assert response.content.count(b"DNS record added") == 20
    assert len(small) == len(large)


# --- packages (A2) -----------------------------------------------------------------------------


def test_a2_php_version_request(client_for, owner, package):
    client = client_for(owner)
    form = client.get(url("changerequest_create", package, kind="php-version"))
    assert (
        form.status_code == 200 and b"PHP 8.3" in form.content and b">PHP 8.1<" not in form.content
    )
    response = client.post(
        url("changerequest_create", package, kind="php-version"), {"value": "8.3"}, follow=True
    )
    cr = ChangeRequest.objects.get()
    assert (cr.kind, cr.value, cr.previous, cr.state) == ("php_version", "8.3", "8.1", "open")
    body = response.content.decode()
    assert f"Request #{cr.pk} recorded" in body and "Waiting for our staff" in body
    assert "PHP version change requested" in body  # in the account's history


def test_a2_storage_request_refuses_smaller_size(client_for, owner, package):
    response = client_for(owner).post(
        url("changerequest_create", package, kind="storage"), {"value": "10"}
    )
    assert response.status_code == 400
    assert not ChangeRequest.objects.exists()


def test_a2_requests_forbidden_anonymous_other_tenant(client_for, member, outsider, package):
    target = url("changerequest_create", package, kind="storage")
    assert client_for(member).post(target, {"value": "50"}).status_code == 403
    assert client_for(outsider).post(target, {"value": "50"}).status_code == 404
    assert Client().post(target, {"value": "50"}).status_code == 302
    assert not ChangeRequest.objects.exists()


def test_a2_request_kind_must_fit_the_account(client_for, owner, package, account):
    client = client_for(owner)
    assert client.get(url("changerequest_create", package, kind="reboot")).status_code == 404
    assert client.get(url("changerequest_create", account, kind="php-version")).status_code == 404
    assert client.get(url("changerequest_create", package, kind="nonsense")).status_code == 404


def test_a2_cancel_request(client_for, owner, package, member, outsider):
    cr = services.change_request_create(
        account=package, kind="storage", value="50", actor=owner, access=access_of(owner, package)
    )
    target = url("changerequest_cancel", package, change_request=cr.pk)
    assert client_for(owner).get(target).status_code == 405  # changes only by POST
    assert Client().post(target).status_code == 302
    assert client_for(outsider).post(target).status_code == 404
    assert client_for(member).post(target).status_code == 403
    cr.refresh_from_db()
    assert cr.state == "open"
    assert client_for(owner).post(target).status_code == 302
    cr.refresh_from_db()
    assert cr.state == "cancelled"


# --- servers (A3) ---------------------------------------------------------------------------------


def test_a3_reboot_request(client_for, dns_member, server):
    response = client_for(dns_member).post(
        url("changerequest_create", server, kind="reboot"), {"note": "tonight after 22:00"}
    )
    assert response.status_code == 302
    cr = ChangeRequest.objects.get()
    assert (cr.kind, cr.note) == ("reboot", "tonight after 22:00")


def test_a3_reverse_dns_page(client_for, owner, server):
    client = client_for(owner)
    page = client.get(url("reversedns_update", server))
    assert page.status_code == 200 and b"Host name for 192.0.2.42" in page.content
    bad = client.post(url("reversedns_update", server), {"host_0": "mail"})
    assert bad.status_code == 400 and b"full host name" in bad.content
    response = client.post(url("reversedns_update", server), {"host_0": "srv.alice.example"})
    assert response.status_code == 302
    ptr = DnsRecord.objects.get()
    assert (ptr.name, ptr.value) == ("42.2.0.192.in-addr.arpa.", "srv.alice.example.")
    detail = client.get(server.get_absolute_url()).content.decode()
    assert "srv.alice.example." in detail and "reverse DNS set" in detail


def test_a3_reverse_dns_forbidden_anonymous_other_tenant(client_for, member, outsider, server):
    target = url("reversedns_update", server)
    assert client_for(member).post(target, {"host_0": "a.example"}).status_code == 403
    assert client_for(outsider).post(target, {"host_0": "a.example"}).status_code == 404
    assert Client().post(target, {"host_0": "a.example"}).status_code == 302
    assert not DnsRecord.objects.exists()


def test_a3_reverse_dns_only_on_servers(client_for, owner, account):
    assert client_for(owner).get(url("reversedns_update", account)).status_code == 404


# --- the account page ---------------------------------------------------------------------------------


def test_account_page_links_zone_and_shows_history(client_for, owner, account, record):
    body = client_for(owner).get(account.get_absolute_url()).content.decode()
    assert url("record_list", account) in body and "Manage DNS records" in body
    assert "1 record" in body
    assert "DNS record added" in body and url("event_list", account) in body


def test_account_page_offers_package_requests_only_with_permission(
    client_for, owner, member, package
):
    owner_body = client_for(owner).get(package.get_absolute_url()).content.decode()
    assert "Change the PHP version" in owner_body and "Ask for more storage" in owner_body
    member_body = client_for(member).get(package.get_absolute_url()).content.decode()
    assert "Change the PHP version" not in member_body


def test_account_page_query_count_is_fixed(client_for, owner, account, record):
    """The account page (zone summary, history) costs the same at two sizes."""
    client = client_for(owner)
    access = access_of(owner, account)
    client.get(account.get_absolute_url())
    with CaptureQueriesContext(connection) as small:
        client.get(account.get_absolute_url())
    for i in range(8):
        services.dns_record_create(
            account=account, actor=owner, access=access, rtype="A", name=f"h{i}", value="192.0.2.1"
        )
    with CaptureQueriesContext(connection) as large:
        response = client.get(account.get_absolute_url())
    assert b"9 records" in response.content
    assert len(small) == len(large)
