"""S5, S6, S15: access ends on the very next request, in every session of the person,
with no worker running; guardian rows never outlive the policy; sessions end idle and at
their absolute lifetime. (Per-feature tests: tests/accounts/test_members.py for removal,
tests/delegation/test_policy.py and test_browser.py for revocation in one browser.)"""

import re
import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm, get_objects_for_user

from accounts.models import HostingAccount, User, UserSession
from portal import policy
from portal.middleware import LOGIN_AT
from tests.factories import PASSWORD, HostingAccountFactory, MembershipFactory, TOTPDeviceFactory
from tests.helpers import sign_in, totp_code

pytestmark = [pytest.mark.security, pytest.mark.django_db]


def signed_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        reverse("accounts:login")
    )


def two_browsers(user, device=None) -> tuple[Client, Client]:
    return sign_in(Client(), user, device), sign_in(Client(), user, device)


def test_s5_deactivation_by_staff_ends_every_session_on_the_next_request():
    """S5, U4: staff set a person inactive in the admin; both of that person's browsers are
    signed out on their next request, and the server-side sessions are gone."""
    member = MembershipFactory(owner=True)
    first, second = two_browsers(member.user)
    dashboard = member.customer.get_absolute_url()
    assert first.get(dashboard).status_code == second.get(dashboard).status_code == 200
    staff = MembershipFactory().user
    User.objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True)
    admin = sign_in(Client(), staff, TOTPDeviceFactory(user=staff))
    response = admin.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate", "_selected_action": [member.user.pk]},
    )
    assert response.status_code == 302
    assert not UserSession.objects.filter(user=member.user).exists()
    assert signed_out(first.get(dashboard)) and signed_out(second.get(dashboard))
    # And signing in again does not work.
    again = Client()
    again.post(reverse("accounts:login"), {"username": member.user.email, "password": PASSWORD})
    assert signed_out(again.get(dashboard))


def test_s5_a_status_changed_behind_the_services_back_still_signs_out():
    """S5: even a status set directly in the database (no service, no session clean-up)
    ends access on the next request: the session guard checks the user every time."""
    member = MembershipFactory(owner=True)
    first, second = two_browsers(member.user)
    User.objects.filter(pk=member.user.pk).update(status=User.Status.UNVERIFIED)
    dashboard = member.customer.get_absolute_url()
    assert signed_out(first.get(dashboard)) and signed_out(second.get(dashboard))


def test_s5_grant_end_time_counts_on_the_next_request_in_every_session(world):
    """S5, D6: a grant ends at its end time exactly, checked on every request, with no job
    run: both of the delegate's sessions reach the account until then and get 404 after."""
    from delegation.models import Grant
    from tests.delegation.factories import clock

    ends = timezone.now() + timezone.timedelta(hours=1)
    Grant.objects.filter(pk=world.grant.pk).update(ends_at=ends)
    first, second = two_browsers(world.delegate)
    url = world.granted.get_absolute_url()
    with clock(ends - timezone.timedelta(seconds=1)):
        assert first.get(url).status_code == second.get(url).status_code == 200
    with clock(ends):
        assert first.get(url).status_code == second.get(url).status_code == 404
    assert Grant.objects.get(pk=world.grant.pk).state == Grant.State.ACTIVE  # no job ran


def test_s5_revocation_ends_access_in_every_session(world):
    """S5, D2: the grantor revokes; each of the delegate's sessions is refused on its next
    request, with no worker running."""
    from delegation import services

    first, second = two_browsers(world.delegate)
    url = world.granted.get_absolute_url()
    assert first.get(url).status_code == second.get(url).status_code == 200
    assert services.grant_revoke(grant=world.grant, actor=world.targets["A"].owner)
    assert first.get(url).status_code == second.get(url).status_code == 404


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_s5_revocation_reaches_the_delegates_second_browser(live_server, browser):
    """S5, D2 in real browsers: the delegate has the granted account open in two browsers;
    the grantor revokes in a third; both of the delegate's browsers get "Not found" on
    their next page load."""
    from tests.security.world import build_world

    world = build_world()
    delegate, owner = world.delegate, world.targets["A"].owner
    account_url = live_server.url + world.granted.get_absolute_url()

    def open_browser(user, device=None, offset=0):
        context = browser.new_context(locale="en-US")
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        if device is not None:
            page.fill("input[name=code]", totp_code(device, offset=offset))
            page.get_by_role("button", name="Confirm").click()
        page.wait_for_url(re.compile(r"/c/\d+/$|/$"))
        return context, page

    contexts = []
    try:
        for _ in range(2):
            context, page = open_browser(delegate)
            contexts.append(context)
            assert page.goto(account_url).status == 200
            assert world.granted.name in page.content()
        pages = [c.pages[0] for c in contexts]
        grantor_context, grantor = open_browser(owner, world.targets["A"].owner_device)
        contexts.append(grantor_context)
        detail = reverse("delegation:grant_detail", args=[world.a.number, world.grant.pk])
        grantor.goto(live_server.url + detail)
        grantor.get_by_role("button", name=re.compile("Revoke")).click()
        grantor.wait_for_load_state()
        world.grant.refresh_from_db()
        assert world.grant.state == world.grant.State.REVOKED
        for page in pages:
            response = page.goto(account_url)
            assert response.status == 404
            assert world.granted.name not in page.content()
    finally:
        for context in contexts:
            context.close()


# --- S6 ----------------------------------------------------------------------------------


def test_s6_guardian_alone_would_let_an_inactive_user_in_the_policy_does_not():
    """S6: django-guardian's get_objects_for_user does not look at is_active: an inactive
    (or unverified) user with an object permission still gets the object from guardian.
    Through the policy the same user reaches nothing."""
    membership = MembershipFactory(restricted_to_accounts=True)
    account = HostingAccountFactory(customer=membership.customer)
    HostingAccountFactory(customer=membership.customer)
    user = membership.user
    assign_perm(policy.MANAGE_ACCOUNT_PERM, user, account)
    assert policy.account_access(user, account) is not None
    assert list(policy.visible_accounts(user, membership.customer)) == [account]
    for status in (User.Status.INACTIVE, User.Status.UNVERIFIED):
        User.objects.filter(pk=user.pk).update(status=status)
        user = User.objects.get(pk=user.pk)
        policy.forget(user)
        # The hazard, shown: guardian hands the object out regardless.
        raw = get_objects_for_user(user, policy.MANAGE_ACCOUNT_PERM, klass=HostingAccount,
                                   use_groups=False, with_superuser=False)  # fmt: skip
        assert list(raw) == [account]
        # The policy: nothing at all.
        assert policy.account_access(user, account) is None
        assert list(policy.visible_accounts(user, membership.customer)) == []
        assert policy.actable_customers(user) == []
        assert not policy.can(user, policy.Action.VIEW_CUSTOMER, membership.customer)


def test_s6_inactive_superuser_gets_nothing_from_the_portal():
    """S6: guardian's superuser shortcut does not apply in the policy: an inactive staff
    superuser (with a membership) reaches no customer."""
    membership = MembershipFactory(owner=True)
    User.objects.filter(pk=membership.user.pk).update(
        is_superuser=True, is_staff=True, status=User.Status.INACTIVE
    )
    user = User.objects.get(pk=membership.user.pk)
    assert policy.customer_access(user, membership.customer) is None
    assert policy.actable_customers(user) == []


# --- S15 ---------------------------------------------------------------------------------


def test_s15_idle_session_ends(settings):
    """S15: a session idle for longer than SESSION_IDLE_SECONDS is ended server-side."""
    member = MembershipFactory(owner=True)
    client = sign_in(Client(), member.user)
    url = member.customer.get_absolute_url()
    assert client.get(url).status_code == 200
    key = client.session.session_key
    UserSession.objects.filter(session_key=key).update(
        last_seen=timezone.now() - timezone.timedelta(seconds=settings.SESSION_IDLE_SECONDS + 5)
    )
    assert signed_out(client.get(url))
    assert not UserSession.objects.filter(session_key=key).exists()
    assert not Session.objects.filter(session_key=key).exists()


def test_s15_absolute_lifetime_ends_even_a_busy_session(settings):
    """S15: past its absolute lifetime a session ends however active it was."""
    member = MembershipFactory(owner=True)
    client = sign_in(Client(), member.user)
    session = client.session
    session[LOGIN_AT] = time.time() - settings.SESSION_ABSOLUTE_SECONDS - 5
    session.save()
    assert signed_out(client.get(member.customer.get_absolute_url()))


def test_s15_session_cookie_lifetime_matches_the_absolute_lifetime(settings):
    """S15: the browser drops the cookie no later than the server ends the session."""
    assert settings.SESSION_COOKIE_AGE <= settings.SESSION_ABSOLUTE_SECONDS
    assert settings.SESSION_IDLE_SECONDS < settings.SESSION_ABSOLUTE_SECONDS
    assert settings.SESSION_ENGINE == "portal.sessions"  # the database store (S26)
