"""The usual cast (STYLE.md): owner, member, read-only member, outsider, delegate,
main-account user, staff, and a second tenant with its own objects."""

import os

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = [
    "tests.servers",
    "tests.pdns_server",
    "tests.dovecot_server",
    "tests.a11y.plugin",
    "tests.a11y.fixtures",
]

from tests.factories import (  # noqa: E402
    CustomerFactory,
    GrantFactory,
    HostingAccountFactory,
    MembershipFactory,
    TOTPDeviceFactory,
    UserFactory,
)
from tests.helpers import activate_grant, sign_in  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_settings(settings, tmp_path):
    """Every test: mail to the in-memory outbox, tasks in-process, uploads in a temp dir,
    no persistent DB connections across tests."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # A cheap hasher: the real one costs about a second per test user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.AXES_ENABLED = True
    from django.core.cache import cache

    from portal.celery import app

    cache.clear()
    # Celery reads its configuration once: set eagerness on the app itself.
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def real_celery(celery_worker, settings):
    """Tasks go through Redis to the real worker process for this test."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_worker.app.conf.task_always_eager = False
    yield celery_worker
    celery_worker.app.conf.task_always_eager = True


@pytest.fixture
def customer(db):
    return CustomerFactory(name="Alice Hosting GmbH")


@pytest.fixture
def other_customer(db):
    return CustomerFactory(name="Bob Other Kft.")


@pytest.fixture
def account(customer):
    return HostingAccountFactory(customer=customer, name="alice.example")


@pytest.fixture
def other_account(other_customer):
    return HostingAccountFactory(customer=other_customer, name="bob.example")


@pytest.fixture
def owner(customer):
    return MembershipFactory(customer=customer, owner=True, user__email="alice@example.com").user


@pytest.fixture
def member(customer):
    """A member with the default permissions (view products, open tickets)."""
    return MembershipFactory(customer=customer, user__email="member@example.com").user


@pytest.fixture
def readonly_member(customer):
    return MembershipFactory(
        customer=customer,
        user__email="readonly@example.com",
        can_view_products=True,
        can_open_tickets=False,
    ).user


@pytest.fixture
def outsider(other_customer):
    return MembershipFactory(
        customer=other_customer, owner=True, user__email="bob@example.com"
    ).user


@pytest.fixture
def agency(db):
    return CustomerFactory(name="Charlie Agentur")


@pytest.fixture
def delegate(agency):
    return MembershipFactory(
        customer=agency, user__email="charlie@example.com", can_manage_delegations=True
    ).user


@pytest.fixture
def grant(customer, agency, account, owner):
    return activate_grant(
        GrantFactory(grantor=customer, agency=agency, created_by=owner), [account]
    )


@pytest.fixture
def main_customer(db):
    return CustomerFactory(name="Main Holding AG")


@pytest.fixture
def sub_customer(main_customer):
    return CustomerFactory(name="Sub Shop", parent=main_customer)


@pytest.fixture
def main_user(main_customer):
    return MembershipFactory(
        customer=main_customer, owner=True, user__email="main@example.com"
    ).user


@pytest.fixture
def staff_user(db):
    return UserFactory(staff=True, email="staff@example.com")


@pytest.fixture
def totp_device(owner):
    return TOTPDeviceFactory(user=owner)


@pytest.fixture
def client_for(client):
    """``client_for(user)`` signs the test client in as that user."""

    def _sign_in(user, device=None):
        return sign_in(client, user, device)

    return _sign_in
