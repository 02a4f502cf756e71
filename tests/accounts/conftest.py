"""Fast password hashing for these tests: creating each user with the production hasher
takes about a second here. (A candidate for tests/conftest.py.)"""

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
