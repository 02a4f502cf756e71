import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users get their password hashed with a cheap hasher: PBKDF2's million rounds
    cost about a second per user here, most of this folder's run time otherwise."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
