"""The session store reads the session's UserSession row and its user with the session
(portal.sessions, make bench): the authentication and the session guard (S5, S15) then
decide without queries of their own, on what the database holds at this very request."""

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import UserSession
from portal.prepared import executed_sql
from portal.sessions import SessionStore
from tests.helpers import sign_in


def _reading(queries, table: str) -> list[str]:
    """The queries that read rows of ``table`` (its columns first in the SELECT); for a
    statement prepared on the server (portal.prepared), the SQL it runs."""
    ran = [executed_sql(q["sql"]) for q in queries]
    return [sql for sql in ran if sql.startswith(f'SELECT "{table}".')]


@pytest.mark.django_db
def test_s5_guard_reads_its_row_and_user_with_the_session(owner, customer):
    """S5: one query reads the session, its UserSession row and the user; nothing reads
    them again."""
    client = sign_in(Client(), owner)
    client.get(customer.get_absolute_url())
    with CaptureQueriesContext(connection) as queries:
        assert client.get(customer.get_absolute_url()).status_code == 200
    first = _reading(queries.captured_queries, "accounts_usersession")
    assert len(first) == 1
    assert '"django_session"' in first[0] and '"accounts_user"' in first[0]
    assert _reading(queries.captured_queries, "django_session") == []
    assert _reading(queries.captured_queries, "accounts_user") == []


@pytest.mark.django_db
def test_s5_session_ended_elsewhere_ends_on_the_next_request(owner, customer):
    """S5: the row read with the session is this request's: deleting it (the person ended
    the session on another device) signs this one out at once."""
    client = sign_in(Client(), owner)
    assert client.get(customer.get_absolute_url()).status_code == 200
    UserSession.objects.filter(user=owner).delete()
    response = client.get(customer.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.django_db
def test_s5_row_of_another_user_does_not_count(owner, member, customer):
    """S5: a UserSession row for the key but another user is no proof for this session."""
    client = sign_in(Client(), owner)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    UserSession.objects.filter(session_key=key).update(user=member)
    response = client.get(customer.get_absolute_url())
    assert response.status_code == 302


@pytest.mark.django_db
def test_guard_row_is_unknown_after_the_key_changed(owner):
    """S15: after the key rotates (sign-in, two-factor step) the row read for the old key
    is not used; the guard looks the new key up."""
    store = SessionStore()
    store["x"] = 1
    store.create()
    UserSession.objects.create(user=owner, session_key=store.session_key)
    loaded = SessionStore(store.session_key)
    assert loaded["x"] == 1
    known, row = loaded.guard_row()
    assert known and row.user == owner
    loaded.cycle_key()
    assert loaded.guard_row() == (False, None)


@pytest.mark.django_db
def test_guard_row_without_a_row_is_known_to_be_missing():
    """S5: a session without its UserSession row is read as "no row", not "unknown"."""
    store = SessionStore()
    store["x"] = 1
    store.create()
    loaded = SessionStore(store.session_key)
    assert loaded["x"] == 1
    assert loaded.guard_row() == (True, None)
    assert SessionStore("no-such-session-key-0123456789abcdef").load() == {}


@pytest.mark.django_db
def test_s15_password_change_elsewhere_signs_out(owner, customer):
    """S15: the user read with the session still has to match the session's password hash:
    after a password change elsewhere the session ends (Django's own check decides)."""
    client = sign_in(Client(), owner)
    assert client.get(customer.get_absolute_url()).status_code == 200
    owner.set_password("another-password-2026")
    owner.save()
    assert client.get(customer.get_absolute_url()).status_code == 302


@pytest.mark.django_db
def test_s5_deactivated_user_is_signed_out(owner, customer):
    """S5: deactivation takes effect on the next request, with the user read with the
    session."""
    client = sign_in(Client(), owner)
    assert client.get(customer.get_absolute_url()).status_code == 200
    type(owner).objects.filter(pk=owner.pk).update(status="inactive")
    assert client.get(customer.get_absolute_url()).status_code == 302


@pytest.mark.django_db
def test_session_of_another_backend_is_left_to_django(owner, customer, settings):
    """S15: a session signed in through a backend that is no longer configured is not
    signed in, whatever the store read with it."""
    client = sign_in(Client(), owner)
    session = client.session
    session[BACKEND_SESSION_KEY] = "tests.no.such.Backend"
    session.save()
    response = client.get(customer.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def _two_factor_customer(customer):
    customer.requires_two_factor = True
    customer.save(update_fields=["requires_two_factor"])
    return customer


@pytest.mark.django_db
def test_u1_device_of_a_verified_session_is_read_with_the_session(owner, customer, totp_device):
    """U1: a session verified with the owner's device reaches a customer that requires
    two-factor; the device was read with the session, so no query looks it up again."""
    _two_factor_customer(customer)
    client = sign_in(Client(), owner, totp_device)
    client.get(customer.get_absolute_url())
    with CaptureQueriesContext(connection) as queries:
        assert client.get(customer.get_absolute_url()).status_code == 200
    assert _reading(queries.captured_queries, "otp_totp_totpdevice") == []
    first = _reading(queries.captured_queries, "accounts_usersession")[0]
    assert '"otp_totp_totpdevice"' in first


@pytest.mark.django_db
def test_u1_removed_device_ends_the_verification_on_the_next_request(owner, customer, totp_device):
    """U1, S5: when the device is removed (staff reset two-factor) or unconfirmed, the
    session is no longer verified on its very next request."""
    _two_factor_customer(customer)
    client = sign_in(Client(), owner, totp_device)
    assert client.get(customer.get_absolute_url()).status_code == 200
    type(totp_device).objects.filter(pk=totp_device.pk).update(confirmed=False)
    response = client.get(customer.get_absolute_url())
    assert response.status_code == 302
    assert "two-factor" in response["Location"] or "otp" in response["Location"]
    type(totp_device).objects.filter(pk=totp_device.pk).delete()
    assert client.get(customer.get_absolute_url()).status_code == 302


@pytest.mark.django_db
def test_u1_device_of_another_user_does_not_verify(owner, member, customer):
    """U1: a device id in the session that belongs to someone else verifies nothing, even
    though the store read a confirmed device of this user."""
    from tests.factories import TOTPDeviceFactory

    _two_factor_customer(customer)
    TOTPDeviceFactory(user=owner)
    other_device = TOTPDeviceFactory(user=member)
    client = sign_in(Client(), owner, other_device)
    assert client.get(customer.get_absolute_url()).status_code == 302


@pytest.mark.django_db
def test_u1_views_get_the_user_itself_with_its_verification(owner, customer, totp_device):
    """U1, S5: past the session guard ``request.user`` is the user itself, not the lazy
    objects of the authentication and two-factor middleware (make bench), and it is
    still the session's user with the device it verified with; anonymous requests get
    Django's anonymous user."""
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import LazyObject

    _two_factor_customer(customer)
    client = sign_in(Client(), owner, totp_device)
    response = client.get(customer.get_absolute_url())
    assert response.status_code == 200
    user = response.wsgi_request.user
    assert type(user) is type(owner) and not isinstance(user, LazyObject)
    assert user.pk == owner.pk and user.is_verified()
    assert user.otp_device.pk == totp_device.pk
    anonymous = Client().get(reverse("accounts:login")).wsgi_request.user
    assert type(anonymous) is AnonymousUser
