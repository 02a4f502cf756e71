"""Staff side (U5, seed 000): staff create the administrator's customer number for a
grant request and the grantor is told the number."""

import pytest
from django.core import mail as django_mail
from django.urls import reverse

from delegation.models import Grant, GrantRequest
from tests.factories import CustomerFactory, TOTPDeviceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(staff_user, client_for):
    return client_for(staff_user, TOTPDeviceFactory(user=staff_user))


@pytest.fixture
def grant_request(customer, owner):
    return GrantRequest.objects.create(
        grantor=customer,
        requested_by=owner,
        company="Neu Agentur",
        first_name="Nina",
        last_name="Neu",
        street="Hauptstr. 1",
        postal_code="12345",
        city="Berlin",
        country="Germany",
        phone="+49 30 1234",
        email="nina@neu.example",
    )


def _action(client, action, grant_request):
    return client.post(
        reverse("admin:delegation_grantrequest_changelist"),
        {"action": action, "_selected_action": [grant_request.pk]},
        follow=True,
    )


def test_u5_staff_tell_the_grantor_the_new_customer_number(
    staff_client, grant_request, django_capture_on_commit_callbacks
):
    """Seed 000: "informieren euch über die vergebene Kundennummer"."""
    newcomer = CustomerFactory(name="Neu Agentur")
    GrantRequest.objects.filter(pk=grant_request.pk).update(created_customer=newcomer)
    with django_capture_on_commit_callbacks(execute=True):
        response = _action(staff_client, "tell_grantor", grant_request)
    assert response.status_code == 200
    grant_request.refresh_from_db()
    assert grant_request.state == GrantRequest.State.DONE
    assert [m.to for m in django_mail.outbox] == [["alice@example.com"]]
    assert newcomer.display_number in django_mail.outbox[0].subject
    assert newcomer.display_number in django_mail.outbox[0].body
    # Once only.
    with django_capture_on_commit_callbacks(execute=True):
        _action(staff_client, "tell_grantor", grant_request)
    assert len(django_mail.outbox) == 1


def test_u5_create_newcomer_makes_customer_login_and_tells_the_grantor(
    staff_client, grant_request, django_capture_on_commit_callbacks
):
    """U5: staff create the administrator's customer number and login from the request;
    the person gets a set-password mail and the grantor learns the new number."""
    with django_capture_on_commit_callbacks(execute=True):
        _action(staff_client, "create_newcomer", grant_request)
    grant_request.refresh_from_db()
    assert grant_request.state == GrantRequest.State.DONE
    newcomer = grant_request.created_customer
    assert newcomer.name == "Neu Agentur"
    assert newcomer.memberships.get().user.email == "nina@neu.example"
    bodies = [m.body for m in django_mail.outbox]
    assert any(newcomer.display_number in body for body in bodies)
    assert any("/password/set/" in body for body in bodies)


def test_staff_read_grants_and_history_but_never_the_key_hash(staff_client, pending):
    grant, key = pending
    page = staff_client.get(reverse("admin:delegation_grant_change", args=[grant.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert grant.key_hash not in text
    assert key not in text
    assert "grant made" in text


def test_staff_cannot_edit_grants_in_the_admin(staff_client, pending):
    grant, _key = pending
    staff_client.post(
        reverse("admin:delegation_grant_change", args=[grant.pk]), {"state": "active"}
    )
    assert Grant.objects.get(pk=grant.pk).state == Grant.State.PENDING


def test_grant_to_the_grantor_itself_is_refused(staff_client, grant_request, customer):
    GrantRequest.objects.filter(pk=grant_request.pk).update(created_customer=customer)
    response = _action(staff_client, "tell_grantor", grant_request)
    assert "cannot be the grantor" in response.content.decode()
    grant_request.refresh_from_db()
    assert grant_request.state == GrantRequest.State.OPEN
