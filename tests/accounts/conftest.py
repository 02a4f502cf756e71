"""Fast password hashing for these tests: creating each user with the production hasher
takes about a second here. (A candidate for tests/conftest.py.)"""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_client(staff_user):
    """A client signed in as staff with a verified device: the admin requires two-factor
    (S14)."""
    from django.test import Client

    from tests.factories import TOTPDeviceFactory
    from tests.helpers import sign_in

    return sign_in(Client(), staff_user, TOTPDeviceFactory(user=staff_user))
