"""Fixtures of the accessibility and language tests (a plugin registered in
tests/conftest.py): the demo provider and a browser context per role. Django is imported
inside the fixtures: plugins load before Django is set up."""

import pytest


def seed_demo(settings) -> dict:
    """The demo provider, with a live and a pending grant to the agency."""
    from django.core.management import call_command

    from accounts.models import Customer
    from delegation.models import Grant
    from tests.factories import GrantFactory
    from tests.helpers import activate_grant

    # Fast hashing: each role signs in through the browser; the demo creates 8 logins.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("seed_demo", stdout=_Null())
    nordlicht = Customer.objects.get(email="office@nordlicht.example")
    webwerk = Customer.objects.get(email="team@webwerk.example")
    alpen = Customer.objects.get(email="info@alpenblick.example")
    if not Grant.objects.live().filter(agency=webwerk).exists():
        accounts = list(nordlicht.hosting_accounts.filter(kind__in=["domain", "server"]))
        activate_grant(GrantFactory(grantor=nordlicht, agency=webwerk), accounts)
    if not Grant.objects.filter(agency=webwerk, state=Grant.State.PENDING).exists():
        GrantFactory(grantor=alpen, agency=webwerk)
    return {"nordlicht": nordlicht, "webwerk": webwerk, "alpen": alpen}


@pytest.fixture
def demo(settings, live_server):
    """The demo provider for browser tests (committed rows the live server sees)."""
    return seed_demo(settings)


@pytest.fixture
def demo_db(settings, db):
    """The demo provider for test-client tests."""
    return seed_demo(settings)


class _Null:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass


def demo_user(email):
    from accounts.models import User

    return User.objects.get(email=email)


def demo_device(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.get(user=user, confirmed=True)


@pytest.fixture
def run(browser, live_server, request):
    """A RoleRun in a fresh browser context; fails the test on any violation."""
    from tests.a11y import harness

    contexts = []

    def start(role, **kwargs):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        contexts.append(context)
        page, spare = context.new_page(), context.new_page()
        for tab in (page, spare):
            tab.set_default_timeout(10_000)
        return harness.RoleRun(
            role=role, page=page, spare=spare, base_url=live_server.url, **kwargs
        )

    yield start
    for context in contexts:
        context.close()
