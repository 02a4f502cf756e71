"""Sign-in with e-mail, password and TOTP two-factor (U1, S12–S15)."""

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY

from accounts.models import AuditEvent, BackupCode, UserSession
from accounts.services import backup_codes_regenerate
from tests.factories import PASSWORD, MembershipFactory, TOTPDeviceFactory, UserFactory
from tests.helpers import totp_code

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
CODE = "/login/code/"


def password_step(client, email, password=PASSWORD):
    return client.post(LOGIN, {"username": email, "password": password})


def test_login_with_password_only_when_no_two_factor(client, owner, customer):
    """U1: a user without two-factor signs in with e-mail and password."""
    response = password_step(client, owner.email)
    assert response.status_code == 302
    assert client.get(reverse("portal:home")).status_code in (200, 302)
    assert UserSession.objects.filter(user=owner).count() == 1


def test_login_is_case_insensitive_on_email(client, owner):
    response = password_step(client, owner.email.upper())
    assert response.status_code == 302


def test_wrong_password_does_not_reveal_whether_account_exists(client, owner):
    """S12: the same answer for a wrong password and an unknown address."""
    wrong = password_step(client, owner.email, "nope-nope-nope")
    unknown = password_step(client, "nobody@example.com", "nope-nope-nope")
    assert wrong.status_code == unknown.status_code == 200
    assert wrong.context["form"].errors == unknown.context["form"].errors


def test_two_factor_code_required_after_password(client, owner, totp_device):
    """U1, S14: with TOTP set up the password alone does not sign in, and no password is
    kept in the session between the steps."""
    response = password_step(client, owner.email)
    assert response["Location"].startswith(CODE)
    assert "_auth_user_id" not in client.session
    session_values = str(dict(client.session.items()))
    assert PASSWORD not in session_values
    response = client.post(CODE, {"code": totp_code(totp_device)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)
    assert client.session[DEVICE_ID_SESSION_KEY] == totp_device.persistent_id


def test_session_key_rotates_at_password_and_otp_step(client, owner, totp_device):
    """S15: a new session key at login and at the OTP step."""
    client.get(LOGIN)
    password_step(client, owner.email)
    key_after_password = client.session.session_key
    client.post(CODE, {"code": totp_code(totp_device)})
    assert client.session.session_key != key_after_password


def test_totp_code_is_single_use(client, owner, totp_device):
    """S13: a TOTP code is accepted once."""
    code = totp_code(totp_device)
    password_step(client, owner.email)
    assert client.post(CODE, {"code": code}).status_code == 302
    other = client.__class__()
    password_step(other, owner.email)
    totp_device.refresh_from_db()
    totp_device.throttle_reset()
    response = other.post(CODE, {"code": code})
    assert response.status_code == 200
    assert "_auth_user_id" not in other.session


def test_totp_allows_one_step_of_drift_only(client, owner, totp_device):
    """S13: at most one step of drift."""
    password_step(client, owner.email)
    assert client.post(CODE, {"code": totp_code(totp_device, offset=3)}).status_code == 200
    totp_device.refresh_from_db()
    totp_device.throttle_reset()
    assert client.post(CODE, {"code": totp_code(totp_device, offset=1)}).status_code == 302


def test_wrong_codes_are_throttled(client, owner, totp_device):
    """S13: after a wrong code the device refuses even the right one for a while."""
    password_step(client, owner.email)
    client.post(CODE, {"code": "000000"})
    response = client.post(CODE, {"code": totp_code(totp_device)})
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="two_factor.failed", actor=owner).exists()


def test_backup_codes_are_stored_hashed_and_work_once(client, owner, totp_device):
    """S13: backup codes are stored only as hashes and are single use."""
    codes = backup_codes_regenerate(owner)
    stored = list(BackupCode.objects.values_list("code_hash", flat=True))
    assert len(stored) == 10
    for code in codes:
        assert code.replace("-", "") not in "".join(stored)
    password_step(client, owner.email)
    assert client.post(CODE, {"code": codes[0]}).status_code == 302
    other = client.__class__()
    password_step(other, owner.email)
    assert other.post(CODE, {"code": codes[0]}).status_code == 200


def test_logout_deletes_the_session_server_side(client_for, owner):
    """S15: logout kills the session on the server, not just the cookie."""
    client = client_for(owner)
    key = client.session.session_key
    client.post(reverse("accounts:logout"))
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()


def test_logout_requires_post(client_for, owner):
    assert client_for(owner).get(reverse("accounts:logout")).status_code == 405


def test_user_can_end_other_sessions(client, owner):
    """S15: a user ends their other sessions; the other browser is signed out at once."""
    first = client.__class__()
    password_step(first, owner.email)
    password_step(client, owner.email)
    client.post(reverse("accounts:sessions_end_others"))
    response = first.get(reverse("accounts:security"))
    assert response.status_code == 302
    assert client.get(reverse("accounts:security")).status_code == 200


def test_customer_requiring_two_factor_sends_user_to_setup(client_for, owner, customer):
    """U1: a customer can require two-factor for everyone acting in it."""
    customer.requires_two_factor = True
    customer.save()
    response = client_for(owner).get(reverse("portal:dashboard", args=[customer.number]))
    assert response.status_code == 302
    assert reverse("accounts:two_factor_setup") in response["Location"]


def test_customer_requiring_two_factor_admits_verified_session(client_for, owner, customer):
    """U1: a session verified with TOTP acts in a customer that requires two-factor."""
    customer.requires_two_factor = True
    customer.save()
    device = TOTPDeviceFactory(user=owner)
    response = client_for(owner, device).get(reverse("portal:dashboard", args=[customer.number]))
    assert response.status_code == 200


def test_two_factor_required_by_main_account_applies_to_sub_account(
    client_for, main_user, main_customer, sub_customer
):
    """U1, C3: the main account's requirement reaches its sub-accounts."""
    main_customer.requires_two_factor = True
    main_customer.save()
    response = client_for(main_user).get(reverse("portal:dashboard", args=[sub_customer.number]))
    assert response.status_code == 302


def test_two_factor_enrolment_needs_password_and_code(client_for, owner):
    """U1, S15: enrolment asks for the password again; shows backup codes once."""
    client = client_for(owner)
    page = client.get(reverse("accounts:two_factor_setup"))
    assert page.status_code == 200
    assert b"<svg" in page.content
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=owner, confirmed=False)
    bad = client.post(
        reverse("accounts:two_factor_setup"),
        {"password": "wrong-password", "code": totp_code(device)},
    )
    assert bad.status_code == 200
    device.refresh_from_db()
    assert not device.confirmed
    good = client.post(
        reverse("accounts:two_factor_setup"),
        {"password": PASSWORD, "code": totp_code(device, offset=1)},
    )
    assert good.status_code == 200
    assert len(good.context["codes"]) == 10
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action="two_factor.enabled", actor=owner).exists()


def test_password_reset_mail_and_no_login_after_reset(
    client, owner, django_capture_on_commit_callbacks
):
    """S14: choosing a new password does not sign in: two-factor still comes first."""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:password_reset"), {"email": owner.email})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Auto-Submitted"] == "auto-generated"
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path, follow=True)
    form_url = response.redirect_chain[-1][0]
    response = client.post(
        form_url, {"new_password1": "A-new-Passw0rd!x", "new_password2": "A-new-Passw0rd!x"}
    )
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
    owner.refresh_from_db()
    assert owner.check_password("A-new-Passw0rd!x")


def test_password_reset_for_unknown_address_looks_the_same(
    client, django_capture_on_commit_callbacks
):
    """S12: the reset flow never reveals whether an address has an account."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:password_reset"), {"email": "ghost@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_staff_created_login_gets_set_password_mail(django_capture_on_commit_callbacks, client):
    """U5: staff create logins; the person sets a password through an e-mailed link."""
    from accounts.services import send_set_password_mail

    user = UserFactory(email="new@example.com", password=None)
    user.set_unusable_password()
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        send_set_password_mail(user)
    body = mail.outbox[0].body
    link = next(line for line in body.splitlines() if "/password/set/" in line)
    response = client.get("/" + link.split("://", 1)[1].split("/", 1)[1], follow=True)
    assert response.status_code == 200
    assert response.context["validlink"]


def test_login_is_throttled_per_account_and_address(client, owner, settings):
    """S12: repeated failures lock that account from that address, not from others."""
    for _i in range(settings.AXES_FAILURE_LIMIT):
        password_step(client, owner.email, "wrong-password-x")
    locked = password_step(client, owner.email)
    assert locked.status_code == 429
    elsewhere = client.__class__(REMOTE_ADDR="198.51.100.9")
    assert password_step(elsewhere, owner.email).status_code == 302


def test_unverified_and_inactive_users_cannot_sign_in(client):
    """U6: unverified and inactive users cannot act: they cannot sign in."""
    for user in (UserFactory(unverified=True), UserFactory(inactive=True)):
        assert password_step(client, user.email).status_code == 200


def test_admin_requires_two_factor(client_for, staff_user):
    """S14: the Django admin (OTPAdminSite) refuses staff without a verified device."""
    response = client_for(staff_user).get("/admin/")
    assert response.status_code == 302
    device = TOTPDeviceFactory(user=staff_user)
    from django.test import Client

    verified = Client()
    from tests.helpers import sign_in

    sign_in(verified, staff_user, device)
    assert verified.get("/admin/").status_code == 200


def test_signed_in_pages_are_not_cached(client_for, owner, customer):
    """S16: Cache-Control no-store on signed-in pages."""
    response = client_for(owner).get(reverse("portal:dashboard", args=[customer.number]))
    assert response["Cache-Control"] == "no-store"


def test_account_switcher_lists_every_customer(client_for, owner, customer, other_customer):
    """U2: a user with several memberships picks the customer to act in."""
    MembershipFactory(user=owner, customer=other_customer)
    response = client_for(owner).get(reverse("portal:home"))
    assert response.status_code == 200
    assert customer.name.encode() in response.content
    assert other_customer.name.encode() in response.content


def test_admin_login_page_sends_staff_to_the_portal_sign_in(client):
    """S14: the admin's login leads to the portal's sign-in with two-factor."""
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    assert "next=%2Fadmin%2F" in response["Location"]
