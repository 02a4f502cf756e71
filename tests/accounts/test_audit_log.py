"""The customer reads its own audit trail (S27)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.audit import audit
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def log_url(customer):
    return reverse("accounts:audit_log", kwargs={"customer": customer.number})


def test_owner_reads_the_customers_own_trail(client_for, owner, customer, other_customer):
    """S27: who, what, details, when, from where — this customer's events only."""
    audit("membership.changed", actor=owner, customer=customer, summary="ours@example.com")
    audit("membership.changed", customer=other_customer, summary="theirs@example.com")
    page = client_for(owner).get(log_url(customer)).content.decode()
    assert "permissions changed" in page and "ours@example.com" in page
    assert owner.email in page
    assert "theirs@example.com" not in page


def test_users_allowed_to_manage_users_read_it_others_do_not(client_for, member, customer):
    """S27: owners and users who may manage users; others 403."""
    assert client_for(member).get(log_url(customer)).status_code == 403
    manager = MembershipFactory(customer=customer, can_manage_users=True).user
    from django.test import Client

    from tests.helpers import sign_in

    assert sign_in(Client(), manager).get(log_url(customer)).status_code == 200


def test_anonymous_and_outsiders(client, client_for, outsider, customer):
    """S2, S1."""
    assert reverse("accounts:login") in client.get(log_url(customer))["Location"]
    assert client_for(outsider).get(log_url(customer)).status_code == 404


def test_the_trail_is_paginated_with_a_fixed_query_count(client_for, owner, customer):
    client = client_for(owner)

    def count(page=1):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(log_url(customer), {"page": page}).status_code == 200
        return len(queries)

    for i in range(3):
        audit("invitation.created", actor=owner, customer=customer, summary=f"a{i}")
    small = count()
    for i in range(120):
        audit("invitation.created", actor=owner, customer=customer, summary=f"b{i}")
    assert count() == small
    assert count(page=3) == small
