import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Phone passwords and logins hash quickly in these tests; production keeps PBKDF2."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def contacts_manager(customer):
    """A member allowed to manage contacts, but neither manager nor authorised contact."""
    from tests.factories import MembershipFactory

    return MembershipFactory(
        customer=customer, user__email="cm@example.com", can_manage_contacts=True
    ).user


@pytest.fixture
def standard_contact(customer):
    from tests.contacts.factories import ContactFactory

    return ContactFactory(customer=customer, name="Anna Standard", primary=True)
