"""A2, A3: change requests are the staff's work list in the Django admin; carrying one
out applies it to the account and shows in the customer's history."""

import pytest
from django.test import Client
from django.urls import reverse

from hosting import services
from hosting.models import AccountEvent, ChangeRequest
from tests.factories import HostingAccountFactory, TOTPDeviceFactory
from tests.helpers import sign_in
from tests.hosting.factories import access_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(staff_user):
    return sign_in(Client(), staff_user, TOTPDeviceFactory(user=staff_user))


@pytest.fixture
def package(customer):
    return HostingAccountFactory(customer=customer, package=True, php_version="8.1", storage_gb=10)


@pytest.fixture
def requests_made(package, owner):
    access = access_of(owner, package)
    php = services.change_request_create(
        account=package, kind="php_version", value="8.3", actor=owner, access=access
    )
    storage = services.change_request_create(
        account=package, kind="storage", value="50", actor=owner, access=access
    )
    services.change_request_cancel(change_request=storage, actor=owner, access=access)
    return php, storage


def test_a2_work_list_shows_open_requests_first(staff_client, requests_made):
    php, storage = requests_made
    response = staff_client.get(reverse("admin:hosting_changerequest_changelist"))
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert list(rows) == [php]  # open ones only, until staff choose "All"
    everything = staff_client.get(reverse("admin:hosting_changerequest_changelist") + "?state=all")
    assert set(everything.context["cl"].result_list) == {php, storage}


def test_a2_staff_carry_out_request_from_work_list(
    staff_client, staff_user, requests_made, package
):
    php, _storage = requests_made
    response = staff_client.post(
        reverse("admin:hosting_changerequest_changelist"),
        {"action": "mark_done", "_selected_action": [php.pk]},
    )
    assert response.status_code == 302
    php.refresh_from_db()
    package.refresh_from_db()
    assert php.state == "done" and php.handled_by == staff_user
    assert package.php_version == "8.3"
    event = AccountEvent.objects.get(action="request_done")
    assert event.via == "staff"


def test_a2_customers_not_staff_cannot_open_work_list(client_for, owner, requests_made):
    response = client_for(owner).get(reverse("admin:hosting_changerequest_changelist"))
    assert response.status_code == 302  # to the admin's sign-in
    assert ChangeRequest.objects.filter(state="open").count() == 1
