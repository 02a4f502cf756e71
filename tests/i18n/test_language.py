"""The chosen language is remembered per person; dates and numbers follow the language."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from tests.factories import HostingAccountFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def _dashboard(client, customer):
    return client.get(customer.get_absolute_url()).content.decode()


def test_signed_in_person_gets_their_own_language(client_for, customer, owner):
    """The portal speaks User.language on every request, whatever the browser asks for."""
    User.objects.filter(pk=owner.pk).update(language="de")
    client = client_for(owner)
    response = client.get(customer.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")
    assert response["Content-Language"] == "de"
    assert '<html lang="de">' in response.content.decode()
    assert "Übersicht" in response.content.decode()
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"


def test_choosing_a_language_is_remembered_for_the_person(client, client_for, customer, owner):
    """A choice made on one device holds on the next: it is stored on the login."""
    client_for(owner).post("/language/", {"language": "hu", "next": "/"})
    owner.refresh_from_db()
    assert owner.language == "hu"

    other_device = sign_in(type(client)(), owner)
    assert "Áttekintés" in _dashboard(other_device, customer)


def test_a_choice_on_the_sign_in_page_becomes_the_persons(client, customer, owner, settings):
    """Choosing Deutsch before signing in is the person's choice once signed in."""
    settings.AXES_ENABLED = False
    client.post("/language/", {"language": "de", "next": "/login/"})
    assert "Anmelden" in client.get("/login/").content.decode()
    client.post("/login/", {"username": owner.email, "password": "correct-horse-battery"})
    assert "Übersicht" in _dashboard(client, customer)
    owner.refresh_from_db()
    assert owner.language == "de"


def test_an_unknown_language_is_ignored(client_for, owner):
    client_for(owner).post("/language/", {"language": "xx", "next": "/"})
    owner.refresh_from_db()
    assert owner.language == "en"


@pytest.mark.parametrize(
    ("language", "since", "storage"),
    [
        ("en", "Customer since March 5, 2024", "1,024 GB"),
        ("de", "Kunde seit 5. März 2024", "1.024 GB"),
        ("hu", "Ügyfél 2024. március 5. óta", "1\xa0024 GB"),
    ],
)
def test_dates_and_numbers_in_the_languages_form(
    client_for, customer, owner, language, since, storage
):
    """The dashboard's date and an account's storage in each locale's own format."""
    customer.created_at = timezone.make_aware(datetime.datetime(2024, 3, 5, 10, 30))
    customer.save(update_fields=["created_at"])
    account = HostingAccountFactory(customer=customer, package=True, storage_gb=1024)
    User.objects.filter(pk=owner.pk).update(language=language)
    client = client_for(owner)
    assert since in _dashboard(client, customer)
    detail = client.get(account.get_absolute_url()).content.decode()
    assert storage in detail
