"""Invitations (U2, U3) and their security rules (S8–S12, S27)."""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import AuditEvent, Invitation, Membership, User
from accounts.tasks import expire_invitations
from tests.accounts.factories import InvitationFactory
from tests.factories import PASSWORD, MembershipFactory, TOTPDeviceFactory, UserFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db

ACCEPT = reverse("accounts:invitation_accept")
# What differs between two renderings of one page: the CSRF token, and the current path
# in the language form.
VARIABLE = re.compile(rb'name="(csrfmiddlewaretoken|next)" value="[^"]+"')


def invite_url(customer):
    return reverse("accounts:invitation_create", kwargs={"customer": customer.number})


def list_url(customer):
    return reverse("accounts:member_list", kwargs={"customer": customer.number})


OPEN = reverse("accounts:invitation_open")


def open_invitation(client, token):
    """What the page the link opens does: post the code from the link's fragment."""
    return client.post(OPEN, {"token": token})


def invite(client, customer, email, *flags):
    data = {"email": email, **dict.fromkeys(flags, "on")}
    return client.post(invite_url(customer), data)


def token_in(message) -> str:
    return re.search(r"/invitations/#([A-Za-z0-9_-]{20,})\s", message.body).group(1)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def without_variable_parts(content: bytes) -> bytes:
    return VARIABLE.sub(b"", content)


# --- inviting ------------------------------------------------------------------------


def test_owner_invites_by_email_with_a_permission_set(
    client_for, owner, customer, django_capture_on_commit_callbacks
):
    """U2, U3: invite by e-mail with chosen permissions and notification mails; S9: the
    token is mailed, only its hash stored, valid seven days."""
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(
            client, customer, "New.Person@Example.com", "can_change_dns", "notify_invoices"
        )
    assert response.status_code == 302
    assert response["Location"] == list_url(customer)
    invitation = Invitation.objects.get()
    assert invitation.email == "new.person@example.com"
    assert invitation.can_change_dns and invitation.notify_invoices
    assert not invitation.can_view_invoices and not invitation.is_owner
    assert invitation.invited_by == owner
    assert timedelta(days=6, hours=23) < invitation.expires_at - timezone.now() <= timedelta(days=7)
    [message] = mail.outbox
    assert message.to == ["new.person@example.com"]
    token = token_in(message)
    assert len(token) >= 43  # 256 random bits
    assert invitation.token_hash == Invitation.hash_token(token)
    assert token not in invitation.token_hash
    assert "change domain and DNS settings" in message.body
    assert AuditEvent.objects.filter(action="invitation.created", customer=customer).exists()


def test_the_invite_answer_never_tells_whether_an_address_has_a_login(
    client_for, owner, customer, outsider
):
    """S12: inviting an address with a login and one without looks exactly the same."""
    known = invite(sign_in(Client(), owner), customer, outsider.email)
    unknown = invite(sign_in(Client(), owner), customer, "nobody-yet@example.com")
    client = client_for(owner)
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert [m.replace(outsider.email, "X") for m in messages_of(known)] == [
        m.replace("nobody-yet@example.com", "X") for m in messages_of(unknown)
    ]
    page = client.get(list_url(customer)).content.decode()
    assert "has a login" not in page and "already registered" not in page


def test_daily_cap_per_customer(client_for, owner, customer, other_customer, settings):
    """S9: at most INVITATIONS_PER_DAY invitations per customer in 24 hours."""
    settings.INVITATIONS_PER_DAY = 2
    client = client_for(owner)
    invite(client, customer, "one@example.com")
    invite(client, customer, "two@example.com")
    response = invite(client, customer, "three@example.com")
    assert response.status_code == 200
    assert "most allowed" in response.content.decode()
    assert Invitation.objects.filter(customer=customer).count() == 2
    # Another customer has its own cap.
    other_owner = MembershipFactory(customer=other_customer, owner=True).user
    other_client = sign_in(Client(), other_owner)
    assert invite(other_client, other_customer, "x@example.com").status_code == 302
    # A day later there is room again.
    Invitation.objects.filter(customer=customer).update(
        created_at=timezone.now() - timedelta(hours=25),
        expires_at=timezone.now() + timedelta(days=6),
    )
    assert invite(client, customer, "three@example.com").status_code == 302


def test_resending_counts_against_the_daily_cap(client_for, owner, customer, settings):
    """S9: a resent invitation is a new mail, so it counts too."""
    settings.INVITATIONS_PER_DAY = 1
    invitation = InvitationFactory(customer=customer, invited_by=owner)
    client = client_for(owner)
    client.post(
        reverse(
            "accounts:invitation_resend",
            kwargs={"customer": customer.number, "invitation": invitation.pk},
        )
    )
    assert Invitation.objects.filter(customer=customer).count() == 1


def test_a_member_or_a_pending_invitee_is_not_invited_twice(client_for, owner, customer, member):
    """U2: a member is not invited again; a second invitation to a pending address is
    refused (resend it instead)."""
    client = client_for(owner)
    assert "already acts" in invite(client, customer, member.email).content.decode()
    invite(client, customer, "twice@example.com")
    assert "already invited" in invite(client, customer, "twice@example.com").content.decode()
    assert Invitation.objects.count() == 1


def test_a_manager_hands_out_only_permissions_they_hold(customer, client_for):
    """U3: a user who may manage users but not view invoices cannot give that away, and
    cannot make an owner (the fields are locked, posted values ignored)."""
    manager = MembershipFactory(customer=customer, can_manage_users=True).user
    response = invite(
        client_for(manager),
        customer,
        "helper@example.com",
        "is_owner",
        "can_view_invoices",
        "can_view_products",
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert not invitation.is_owner and not invitation.can_view_invoices
    assert invitation.can_view_products


def test_invite_needs_manage_users(client_for, member, customer):
    """U3: a member without "manage users" gets 403 on the users pages."""
    client = client_for(member)
    assert client.get(list_url(customer)).status_code == 403
    assert invite(client, customer, "x@example.com").status_code == 403
    assert not Invitation.objects.exists()


def test_anonymous_is_sent_to_login(client, customer):
    """S2."""
    for url in (list_url(customer), invite_url(customer)):
        response = client.get(url)
        assert response.status_code == 302
        assert reverse("accounts:login") in response["Location"]


def test_other_tenant_gets_404(client_for, outsider, owner, customer, other_customer):
    """S1: another customer's users pages and invitations are 404, also by id through the
    attacker's own customer."""
    invitation = InvitationFactory(customer=customer, invited_by=owner)
    client = client_for(outsider)
    assert client.get(list_url(customer)).status_code == 404
    for name in ("invitation_cancel", "invitation_resend"):
        url = reverse(
            f"accounts:{name}",
            kwargs={"customer": other_customer.number, "invitation": invitation.pk},
        )
        assert client.post(url).status_code == 404
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.PENDING


# --- opening and accepting -----------------------------------------------------------


def test_the_token_travels_in_the_fragment_and_by_post_only(
    client_for, owner, customer, django_capture_on_commit_callbacks
):
    """S11: the mailed link has the token in its fragment (never sent to the server, so
    never in an access log); the pages send Referrer-Policy same-origin and no-store;
    S10: opening the link (a GET) changes nothing, the code is posted."""
    with django_capture_on_commit_callbacks(execute=True):
        invite(client_for(owner), customer, "new@example.com")
    body = mail.outbox[0].body
    token = token_in(mail.outbox[0])
    link = re.search(r"https?://\S+", body).group(0)
    assert link.endswith(f"/invitations/#{token}")
    client = Client()
    page = client.get(OPEN)
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "same-origin"
    assert "no-store" in page["Cache-Control"]
    assert b"accounts/invitation.js" in page.content
    response = open_invitation(client, token)
    assert response.status_code == 302
    assert response["Location"] == ACCEPT
    accept = client.get(ACCEPT)
    assert accept.status_code == 200
    assert accept["Referrer-Policy"] == "same-origin"
    assert token.encode() not in accept.content
    assert customer.name.encode() in accept.content
    assert Invitation.objects.get().state == Invitation.State.PENDING


def test_a_person_with_a_login_accepts_and_the_switcher_offers_both(
    client_for, customer, other_customer, outsider, owner
):
    """U2: someone who already acts for another customer accepts with their login (a POST)
    and then picks the customer with the account switcher."""
    invitation = InvitationFactory(
        customer=customer, email=outsider.email, invited_by=owner, can_change_dns=True
    )
    client = client_for(outsider)
    open_invitation(client, invitation.token)
    assert client.get(ACCEPT).status_code == 200
    assert not Membership.objects.filter(user=outsider, customer=customer).exists()  # S10
    response = client.post(ACCEPT)
    assert response.status_code == 302
    assert response["Location"] == customer.get_absolute_url()
    membership = Membership.objects.get(user=outsider, customer=customer)
    assert membership.can_change_dns and not membership.is_owner
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.ACCEPTED
    assert invitation.accepted_by == outsider
    switcher = client.get(reverse("portal:home"))
    assert customer.name.encode() in switcher.content
    assert other_customer.name.encode() in switcher.content
    assert AuditEvent.objects.filter(action="invitation.accepted", customer=customer).exists()


def test_an_invitation_works_once(client_for, customer, outsider):
    """S9: single use — a second accept, and a second opening of the link, fail."""
    invitation = InvitationFactory(customer=customer, email=outsider.email)
    client = client_for(outsider)
    open_invitation(client, invitation.token)
    client.post(ACCEPT)
    assert client.post(ACCEPT).status_code == 404
    assert open_invitation(client, invitation.token).status_code == 404
    assert Membership.objects.filter(user=outsider, customer=customer).count() == 1


def test_two_parallel_accepts_only_one_wins(customer, outsider):
    """S9: the conditional UPDATE lets exactly one of two requests holding the same
    invitation accept it."""
    invitation = InvitationFactory(customer=customer, email=outsider.email)
    first = Invitation.objects.get(pk=invitation.pk)
    second = Invitation.objects.get(pk=invitation.pk)
    services.invitation_accept(invitation=first, user=outsider)
    with pytest.raises(services.InvitationNotUsable):
        services.invitation_accept(invitation=second, user=outsider)
    assert Membership.objects.filter(user=outsider, customer=customer).count() == 1


def test_only_the_invited_address_accepts(client_for, customer, outsider):
    """S9: signed in with another address, the person is told to sign in as the invited
    one, and a POST accepts nothing."""
    invitation = InvitationFactory(customer=customer, email="someone.else@example.com")
    client = client_for(outsider)
    open_invitation(client, invitation.token)
    page = client.get(ACCEPT)
    assert page.status_code == 403
    assert b"another e-mail address" in page.content
    assert b"someone.else@example.com" not in page.content
    assert client.post(ACCEPT).status_code == 403
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.PENDING
    assert not Membership.objects.filter(customer=customer, user=outsider).exists()


def test_every_failure_looks_the_same(client, customer, outsider):
    """S8: unknown, expired, cancelled and used links give the same answer."""
    expired = InvitationFactory(customer=customer, expired=True)
    cancelled = InvitationFactory(customer=customer, cancelled=True)
    used = InvitationFactory(customer=customer, state=Invitation.State.ACCEPTED)
    answers = [
        open_invitation(client, token)
        for token in ("x" * 43, expired.token, cancelled.token, used.token)
    ]
    assert {a.status_code for a in answers} == {404}
    assert len({without_variable_parts(a.content) for a in answers}) == 1
    assert b"does not work" in answers[0].content


def test_expiry_is_checked_on_every_request(client_for, customer, outsider):
    """U2, S5: an invitation that expires between opening and accepting is not accepted,
    whether or not the periodic job has run."""
    invitation = InvitationFactory(customer=customer, email=outsider.email)
    client = client_for(outsider)
    open_invitation(client, invitation.token)
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=7, seconds=1),
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert client.post(ACCEPT).status_code == 404
    assert not Membership.objects.filter(customer=customer, user=outsider).exists()


def test_wrong_links_are_limited_per_address(client, customer):
    """S8: after WRONG_KEY_LIMIT wrong links even a right one is refused for a while."""
    invitation = InvitationFactory(customer=customer)
    for _i in range(10):
        assert open_invitation(client, f"wrong-{_i}-" + "x" * 40).status_code == 404
    assert open_invitation(client, invitation.token).status_code == 429


def test_two_factor_comes_first_where_the_customer_requires_it(customer, outsider):
    """S9, U1: the invitee sets up or confirms two-factor before the invitation is
    accepted; afterwards accepting works."""
    customer.requires_two_factor = True
    customer.save()
    invitation = InvitationFactory(customer=customer, email=outsider.email)
    client = sign_in(Client(), outsider)
    open_invitation(client, invitation.token)
    response = client.post(ACCEPT)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:two_factor_setup"))
    assert f"next={ACCEPT}" in response["Location"]
    assert not Membership.objects.filter(customer=customer, user=outsider).exists()
    # With a confirmed device the person confirms a code first, then accepts.
    device = TOTPDeviceFactory(user=outsider)
    response = client.post(ACCEPT)
    assert response["Location"].startswith(reverse("accounts:otp_verify"))
    verified = sign_in(Client(), outsider, device)
    open_invitation(verified, invitation.token)
    assert verified.post(ACCEPT).status_code == 302
    assert Membership.objects.filter(customer=customer, user=outsider).exists()


def test_a_new_person_chooses_a_login_signs_in_and_accepts(client, customer):
    """U2: someone without a login creates one for the invited address, signs in with it
    and accepts (two steps, so the page is the same for everyone, S12)."""
    invitation = InvitationFactory(customer=customer, email="newbie@example.com")
    open_invitation(client, invitation.token)
    page = client.get(ACCEPT)
    assert b"Sign in to accept" in page.content and b"Create my login" in page.content
    response = client.post(
        ACCEPT,
        {
            "first_name": "Nina",
            "last_name": "Neu",
            "password1": "a-long-new-password-1",
            "password2": "a-long-new-password-1",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={ACCEPT}"
    user = User.objects.get(email="newbie@example.com")
    assert user.status == User.Status.ACTIVE and user.first_name == "Nina"
    invitation.refresh_from_db()
    assert invitation.state == Invitation.State.PENDING
    signed_in = client.post(
        response["Location"],
        {"username": "newbie@example.com", "password": "a-long-new-password-1", "next": ACCEPT},
    )
    assert signed_in["Location"] == ACCEPT
    assert client.post(ACCEPT)["Location"] == customer.get_absolute_url()
    assert Membership.objects.filter(customer=customer, user=user).exists()


def test_choosing_a_login_for_an_address_that_has_one_changes_nothing(
    customer, outsider, django_capture_on_commit_callbacks
):
    """S12: for an address with a login, the same answer as for a new person, the
    password unchanged, and a mail to that address explaining what happened."""
    known = InvitationFactory(customer=customer, email=outsider.email)
    unknown = InvitationFactory(customer=customer, email="fresh@example.com")
    data = {
        "first_name": "Eve",
        "last_name": "Mallory",
        "password1": "another-long-password-2",
        "password2": "another-long-password-2",
    }
    answers = []
    for invitation in (known, unknown):
        client = Client()
        open_invitation(client, invitation.token)
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(ACCEPT, data)
        answers.append(
            (
                response.status_code,
                response["Location"],
                [m.replace(invitation.email, "X") for m in messages_of(response)],
            )
        )
    assert answers[0] == answers[1]
    outsider.refresh_from_db()
    assert outsider.check_password(PASSWORD)
    assert outsider.first_name != "Eve"
    assert [m.to for m in mail.outbox] == [[outsider.email]]
    assert "already has a login" in mail.outbox[0].body


def test_cancelled_and_expired_invitations_stay_visible_as_such(client_for, owner, customer):
    """U2: the list keeps cancelled and expired invitations with their state; a cancelled
    link no longer works."""
    pending = InvitationFactory(customer=customer, email="pending@example.com")
    InvitationFactory(customer=customer, email="late@example.com", expired=True)
    client = client_for(owner)
    client.post(
        reverse(
            "accounts:invitation_cancel",
            kwargs={"customer": customer.number, "invitation": pending.pk},
        )
    )
    pending.refresh_from_db()
    assert pending.state == Invitation.State.CANCELLED
    page = client.get(list_url(customer)).content.decode()
    assert re.search(r"pending@example\.com.*?cancelled", page, re.S)
    assert re.search(r"late@example\.com.*?expired", page, re.S)
    assert open_invitation(Client(), pending.token).status_code == 404


def test_resending_mails_a_new_link_and_voids_the_old(
    client_for, owner, customer, outsider, django_capture_on_commit_callbacks
):
    """U2: resend gives a new token and seven new days; the old link stops working."""
    old = InvitationFactory(customer=customer, email=outsider.email, invited_by=owner)
    with django_capture_on_commit_callbacks(execute=True):
        client_for(owner).post(
            reverse(
                "accounts:invitation_resend",
                kwargs={"customer": customer.number, "invitation": old.pk},
            )
        )
    new_token = token_in(mail.outbox[-1])
    assert new_token != old.token
    assert open_invitation(Client(), old.token).status_code == 404
    assert open_invitation(Client(), new_token).status_code == 302
    new = Invitation.objects.get(state=Invitation.State.PENDING)
    assert new.pk != old.pk and new.permission_values() == old.permission_values()


def test_an_expired_invitation_can_be_resent(client_for, owner, customer):
    """U2: an expired invitation is sent again with a new seven days."""
    old = InvitationFactory(customer=customer, invited_by=owner, expired=True)
    client_for(owner).post(
        reverse(
            "accounts:invitation_resend",
            kwargs={"customer": customer.number, "invitation": old.pk},
        )
    )
    assert Invitation.objects.usable().filter(email=old.email).count() == 1
    old.refresh_from_db()
    assert old.shown_state == Invitation.State.EXPIRED


def test_a_manager_cannot_resend_an_owner_invitation(customer, client_for):
    """U3: resending hands out the invitation's permissions again, so only someone who may
    give all of them can."""
    owner_invite = InvitationFactory(customer=customer, is_owner=True)
    manager = MembershipFactory(customer=customer, can_manage_users=True).user
    response = client_for(manager).post(
        reverse(
            "accounts:invitation_resend",
            kwargs={"customer": customer.number, "invitation": owner_invite.pk},
        )
    )
    assert response.status_code == 403


def test_the_periodic_job_marks_expired_invitations(customer):
    """U2: the beat job marks pending invitations past their end; it is safe to run twice."""
    late = InvitationFactory(customer=customer, expired=True)
    fresh = InvitationFactory(customer=customer)
    assert expire_invitations() == 1
    assert expire_invitations() == 0
    late.refresh_from_db()
    fresh.refresh_from_db()
    assert late.state == Invitation.State.EXPIRED
    assert fresh.state == Invitation.State.PENDING


def test_the_audit_trail_records_invitations_but_never_a_token(
    client_for, owner, customer, outsider, django_capture_on_commit_callbacks
):
    """S27: invitations sent, resent, cancelled and accepted are recorded; no token."""
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        invite(client, customer, outsider.email)
        first = Invitation.objects.get()
        client.post(
            reverse(
                "accounts:invitation_resend",
                kwargs={"customer": customer.number, "invitation": first.pk},
            )
        )
    tokens = [token_in(m) for m in mail.outbox]
    invitee = sign_in(Client(), outsider)
    open_invitation(invitee, tokens[-1])
    invitee.post(ACCEPT)
    actions = set(AuditEvent.objects.filter(customer=customer).values_list("action", flat=True))
    assert {"invitation.created", "invitation.resent", "invitation.accepted"} <= actions
    for event in AuditEvent.objects.all():
        text = f"{event.summary} {event.data}"
        assert not any(token in text for token in tokens)
        assert not any(Invitation.hash_token(token) in text for token in tokens)


def test_an_unverified_or_inactive_user_cannot_accept(customer):
    """U6: only active users accept."""
    for status in (User.Status.UNVERIFIED, User.Status.INACTIVE):
        user = UserFactory(status=status)
        invitation = InvitationFactory(customer=customer, email=user.email)
        with pytest.raises(services.InvitationNotUsable):
            services.invitation_accept(invitation=invitation, user=user)
    assert not Membership.objects.filter(customer=customer).exists()
