"""Sensitive changes ask for a recent proof of identity (STYLE: delegations, two-factor,
users ask for a recent OTP; S13 throttling, S27 audit). Signing in counts; after
RECENT_AUTH_SECONDS the person confirms with a code (or, without two-factor, the
password) and continues where they were."""

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Invitation
from delegation.models import Grant
from portal.policy import AUTH_AT
from tests.delegation.factories import client_as
from tests.factories import PASSWORD
from tests.helpers import totp_code

pytestmark = pytest.mark.django_db


def stale(client) -> None:
    """This session proved who it is long ago (as after an hour of work)."""
    session = client.session
    session[AUTH_AT] = time.time() - 3600
    session.save()


def confirm_url() -> str:
    return reverse("accounts:confirm_identity")


def next_of(response) -> str:
    return parse_qs(urlsplit(response["Location"]).query)["next"][0]


def test_sign_in_counts_as_recent(customer, owner):
    client = client_as(owner)
    assert (
        client.get(reverse("accounts:invitation_create", args=[customer.number])).status_code == 200
    )


def test_stale_session_confirms_with_a_code_and_goes_back(customer, owner, totp_device):
    """A form page of a sensitive change sends a stale session to the confirmation, which
    takes a TOTP code and returns to the form."""
    client = client_as(owner, totp_device)
    stale(client)
    form = reverse("accounts:invitation_create", args=[customer.number])
    response = client.get(form)
    assert response.status_code == 302 and response["Location"].startswith(confirm_url())
    assert next_of(response) == form
    page = client.get(response["Location"]).content.decode()
    assert "authenticator app" in page and 'type="password"' not in page

    wrong = client.post(confirm_url(), {"answer": "000000", "next": form})
    assert wrong.status_code == 200 and "That code is not valid" in wrong.content.decode()
    assert client.get(form).status_code == 302
    # The wrong code throttled the device (S13: a second, doubling); that has passed.
    type(totp_device).objects.filter(pk=totp_device.pk).update(
        throttling_failure_timestamp=None, throttling_failure_count=0
    )
    done = client.post(confirm_url(), {"answer": totp_code(totp_device), "next": form})
    assert done.status_code == 302 and done["Location"] == form
    assert client.get(form).status_code == 200
    assert AuditEvent.objects.filter(action="reauth", actor=owner).exists()
    assert AuditEvent.objects.filter(action="reauth.failed", actor=owner).exists()


def test_without_two_factor_the_password_confirms(customer, owner):
    client = client_as(owner)
    stale(client)
    form = reverse("accounts:invitation_create", args=[customer.number])
    page = client.get(confirm_url() + "?next=" + form).content.decode()
    assert 'type="password"' in page
    assert (
        "not your current password"
        in client.post(confirm_url(), {"answer": "wrong", "next": form}).content.decode()
    )
    assert client.post(confirm_url(), {"answer": PASSWORD, "next": form})["Location"] == form


def test_d2_stale_revoke_changes_nothing_until_confirmed(customer, owner, grant):
    """A POST from a stale session does nothing: back to the page it came from after the
    confirmation, with a message to do it again."""
    client = client_as(owner)
    stale(client)
    detail = reverse("delegation:grant_detail", args=[customer.number, grant.pk])
    revoke = reverse("delegation:grant_revoke", args=[customer.number, grant.pk])
    response = client.post(revoke, HTTP_REFERER="http://testserver" + detail)
    assert response.status_code == 302 and next_of(response) == detail
    grant.refresh_from_db()
    assert grant.state == Grant.State.ACTIVE
    client.post(confirm_url(), {"answer": PASSWORD, "next": detail})
    client.post(revoke)
    grant.refresh_from_db()
    assert grant.state == Grant.State.REVOKED


def test_s1_another_tenant_still_gets_404_before_any_confirmation(customer, outsider):
    """The access decision comes first: a stale session of another tenant learns nothing."""
    client = client_as(outsider)
    stale(client)
    assert (
        client.get(reverse("accounts:invitation_create", args=[customer.number])).status_code == 404
    )


def test_foreign_next_is_not_followed(owner):
    client = client_as(owner)
    stale(client)
    response = client.post(confirm_url(), {"answer": PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == reverse("portal:home")


def test_s13_wrong_answers_are_limited(customer, owner, settings):
    settings.WRONG_KEY_LIMIT = "3/h"
    client = client_as(owner)
    stale(client)
    for _n in range(3):
        client.post(confirm_url(), {"answer": "wrong"})
    limited = client.post(confirm_url(), {"answer": PASSWORD}).content.decode()
    assert "Too many wrong tries" in limited
    assert (
        client.get(reverse("accounts:invitation_create", args=[customer.number])).status_code == 302
    )


@pytest.mark.parametrize(
    ("name", "method", "args"),
    [
        ("delegation:grant_create", "get", "customer"),
        ("accounts:invitation_create", "get", "customer"),
        ("accounts:member_edit", "get", "membership"),
        ("accounts:member_remove", "post", "membership"),
        ("accounts:invitation_cancel", "post", "invitation"),
        ("accounts:two_factor_disable", "get", None),
        ("accounts:backup_codes", "get", None),
    ],
)
def test_sensitive_changes_ask_for_recent_proof(customer, owner, member, name, method, args):
    """Delegations, users and two-factor: each asks a stale session to confirm first."""
    kwargs = {
        None: [],
        "customer": [customer.number],
        "membership": [customer.number, member.memberships.get().pk],
        "invitation": [
            customer.number,
            Invitation.objects.create(
                customer=customer,
                email="new@x.example",
                token_hash="h",
                invited_by=owner,
                expires_at=timezone.now() + timedelta(days=7),
            ).pk,
        ],
    }[args]
    client = client_as(owner)
    stale(client)
    response = getattr(client, method)(reverse(name, args=kwargs))
    assert response.status_code == 302
    assert response["Location"].startswith(confirm_url())
