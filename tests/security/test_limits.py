"""Abuse limits (S8, S9, S12, S13, S21): every guessable or floodable door is limited, and
each limit is tested — here, or by the feature's own tests listed in ``LIMITS`` (checked
to exist, so a renamed or deleted test shows up here)."""

import importlib
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, MembershipFactory, TOTPDeviceFactory
from tests.helpers import totp_code

pytestmark = [pytest.mark.security, pytest.mark.django_db]

# What is limited, how, and the tests that prove it ("module::function").
LIMITS = {
    "sign-in (S12): django-axes, per account and address": [
        "tests.accounts.test_signin::test_login_is_throttled_per_account_and_address",
        "tests.security.test_limits::test_s12_lockout_looks_the_same_for_unknown_addresses",
        "tests.security.test_limits::test_s12_an_attacker_locks_only_the_pair_it_tried",
    ],
    "two-factor codes (S13): device throttling, doubling delay": [
        "tests.accounts.test_signin::test_wrong_codes_are_throttled",
        "tests.security.test_limits::test_s13_code_throttling_survives_a_new_sign_in",
        "tests.security.test_limits::test_s13_backup_codes_are_throttled_too",
    ],
    "confirming identity before a sensitive change (S13): per user, and the device's own "
    "throttling": [
        "tests.accounts.test_recent_auth::test_s13_wrong_answers_are_limited",
        "tests.accounts.test_recent_auth::test_stale_session_confirms_with_a_code_and_goes_back",
    ],
    "grant keys (S7, S8): per user and per address, single use": [
        "tests.delegation.test_services::test_s8_wrong_keys_are_limited_per_user",
        "tests.delegation.test_services::test_s8_wrong_keys_are_limited_per_address",
        "tests.delegation.test_concurrency::test_s7_two_parallel_redemptions_approve_once",
        "tests.delegation.test_services::test_d3_key_mail_is_capped_per_grant",
    ],
    "confirmation links (S8, S10): per address": [
        "tests.contacts.test_confirmation::test_s8_wrong_tokens_are_limited_per_ip",
    ],
    "invitation links (S8): per address": [
        "tests.accounts.test_invitations::test_wrong_links_are_limited_per_address",
    ],
    "invitation sending (S9): a daily cap per customer": [
        "tests.accounts.test_invitations::test_daily_cap_per_customer",
        "tests.accounts.test_invitations::test_resending_counts_against_the_daily_cap",
    ],
    "acknowledgements to mail (S21): per sender and hour": [
        "tests.helpdesk.test_intake::test_acknowledgements_are_capped_per_sender_and_hour",
    ],
    "tickets opened by mail (S21): per sender and hour, the rest quarantined": [
        "tests.helpdesk.test_intake::test_s21_new_tickets_by_mail_are_capped_per_sender_and_hour",
        "tests.security.test_limits::test_s21_ticket_creation_by_mail_is_limited_per_sender",
    ],
    "phone passwords checked by staff (K8)": [
        "tests.contacts.test_staff::test_k8_wrong_tries_are_limited",
    ],
}


def test_every_limit_names_tests_that_exist():
    """S8, S9, S12, S13: the table of limits points at real tests."""
    missing = []
    for what, tests in LIMITS.items():
        assert tests, what
        for nodeid in tests:
            module, _, function = nodeid.partition("::")
            try:
                found = callable(getattr(importlib.import_module(module), function, None))
            except ImportError:
                found = False
            if not found:
                missing.append(f"{what}: {nodeid}")
    assert not missing, "limits whose tests are gone:\n  " + "\n  ".join(missing)


def login(client, email, password):
    return client.post(reverse("accounts:login"), {"username": email, "password": password})


def test_s12_lockout_looks_the_same_for_unknown_addresses(settings):
    """S12: a lockout does not tell whether an address has an account: an unknown address
    is locked after the same number of tries, with the same answer."""
    user = MembershipFactory(owner=True).user
    answers = {}
    for email in (user.email, "nobody-here@example.com"):
        client = Client(REMOTE_ADDR="198.51.100.20")
        for _ in range(settings.AXES_FAILURE_LIMIT):
            login(client, email, "wrong-password-1")
        response = login(client, email, "wrong-password-1")
        answers[email] = (response.status_code, response.content.count(b"<form"))
    assert answers[user.email] == answers["nobody-here@example.com"]
    assert answers[user.email][0] == 429


def test_s12_an_attacker_locks_only_the_pair_it_tried(settings):
    """S12: failures for one account from one address lock that pair only: the same person
    signs in from elsewhere, and others sign in from the attacker's address."""
    victim = MembershipFactory(owner=True).user
    other = MembershipFactory(owner=True).user
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(settings.AXES_FAILURE_LIMIT + 2):
        login(attacker, victim.email, "guess-guess-guess")
    assert login(attacker, victim.email, PASSWORD).status_code == 429
    assert login(Client(REMOTE_ADDR="192.0.2.44"), victim.email, PASSWORD).status_code == 302
    assert login(Client(REMOTE_ADDR="203.0.113.66"), other.email, PASSWORD).status_code == 302


def test_s13_code_throttling_survives_a_new_sign_in():
    """S13: the two-factor throttle belongs to the device, not the session: starting a new
    sign-in does not reset it; once the delay passed, the right code works."""
    user = MembershipFactory(owner=True).user
    device = TOTPDeviceFactory(user=user)
    first = Client()
    login(first, user.email, PASSWORD)
    for _ in range(3):
        first.post(reverse("accounts:otp_verify"), {"code": "000000"})
    second = Client()
    login(second, user.email, PASSWORD)
    response = second.post(reverse("accounts:otp_verify"), {"code": totp_code(device)})
    assert response.status_code == 200 and "_auth_user_id" not in second.session
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1  # tries while throttled are not counted
    later = timezone.now() + timezone.timedelta(seconds=2**device.throttling_failure_count + 1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = second.post(reverse("accounts:otp_verify"), {"code": totp_code(device, 1)})
    assert response.status_code == 302


def test_s13_backup_codes_are_throttled_too():
    """S13: wrong backup codes throttle the backup-code device: right after them even a
    valid code is refused."""
    from accounts.services import backup_codes_regenerate

    user = MembershipFactory(owner=True).user
    TOTPDeviceFactory(user=user)
    codes = backup_codes_regenerate(user)
    client = Client()
    login(client, user.email, PASSWORD)
    client.post(reverse("accounts:otp_verify"), {"code": "aaaaa-bbbbb"})
    response = client.post(reverse("accounts:otp_verify"), {"code": codes[0]})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


# --- mail intake --------------------------------------------------------------------------

FLOOD = 40


def flood_mail(n: int, sender: str) -> bytes:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["From"] = sender
    message["To"] = "support@provider.example"
    message["Subject"] = f"Question number {n}"
    message["Date"] = formatdate()
    message["Message-ID"] = make_msgid(domain="flood.example")
    message.set_content(f"Hello, question {n}.\n")
    return message.as_bytes()


def test_s21_ticket_creation_by_mail_is_limited_per_sender(django_capture_on_commit_callbacks):
    """S21, limits: a flood of mail from one sender does not open a ticket per message: past
    the cap per sender and hour, further mail is quarantined, not a new ticket. (The caps'
    own tests: tests/helpdesk/test_intake.py.)"""
    intake = pytest.importorskip("helpdesk.intake")
    from helpdesk.models import Ticket

    with django_capture_on_commit_callbacks(execute=True):
        for n in range(FLOOD):
            intake.mail_ingest(flood_mail(n, "flooder@spam.example"), source="test")
    from django.conf import settings

    from helpdesk.models import InboundMail

    cap = settings.HELPDESK_TICKETS_PER_SENDER_PER_HOUR
    assert cap < FLOOD // 2
    assert Ticket.objects.count() == cap
    assert InboundMail.objects.filter(outcome=InboundMail.Outcome.QUARANTINED).count() == (
        FLOOD - cap
    )
