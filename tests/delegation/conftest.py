import pytest

from tests.delegation.factories import make_grant


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users get their password hashed once each; PBKDF2's cost only slows the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def pending(customer, agency, account, owner):
    """A pending grant of ``account`` to ``agency`` and its key: (grant, key)."""
    return make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
