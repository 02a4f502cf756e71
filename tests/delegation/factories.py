"""Helpers for delegation tests: grants made the way the portal makes them."""

from contextlib import contextmanager
from unittest import mock

from django.test import Client

from delegation import services
from tests.helpers import sign_in


def make_grant(*, grantor, agency, accounts, by, ends_at=None):
    """A pending grant made through the service; returns (grant, key)."""
    return services.grant_create(
        grantor=grantor, agency=agency, accounts=accounts, ends_at=ends_at, created_by=by
    )


def approved_grant(*, grantor, agency, accounts, by, approver, ends_at=None):
    grant, key = make_grant(
        grantor=grantor, agency=agency, accounts=accounts, by=by, ends_at=ends_at
    )
    assert services.grant_approve(grant=grant, key=key, user=approver)
    grant.refresh_from_db()
    return grant


def client_as(user, device=None) -> Client:
    """A second, independent signed-in client (``client_for`` reuses one)."""
    return sign_in(Client(), user, device)


@contextmanager
def clock(moment):
    """Move the portal's clock (``timezone.now``) to ``moment``; no worker runs."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield
