"""Fixtures of the accounts tests."""

import pytest


@pytest.fixture
def staff_client(staff_user):
    """A client signed in as staff with a verified device: the admin requires two-factor
    (S14)."""
    from django.test import Client

    from tests.factories import TOTPDeviceFactory
    from tests.helpers import sign_in

    return sign_in(Client(), staff_user, TOTPDeviceFactory(user=staff_user))
