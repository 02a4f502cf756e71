"""Invitations: invite by e-mail with a permission set, accept once (U2, S9, S12)."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit
from accounts.models import INVITATION_DAYS, Customer, Invitation, Membership, User
from accounts.services.core import membership_create
from accounts.services.members import lock_customer
from portal import mail

# --- invitations (U2, S9, S12) -----------------------------------------------------


INVITATION_TOKEN_BYTES = 32  # 256 random bits


def invitation_url(token: str) -> str:
    """The link in the invitation mail. The token goes in the fragment: never sent to the
    server, never in its access logs or in Referer headers (S11)."""
    return settings.PORTAL_BASE_URL + reverse("accounts:invitation_open") + "#" + token


def _invitation_mail(invitation: Invitation, token: str) -> None:
    existing = User.objects.filter(email__iexact=invitation.email).only("language").first()
    language = existing.language if existing else (invitation.invited_by or User()).language
    mail.queue(
        kind="invitation",
        to=[invitation.email],
        template="accounts/mail/invitation",
        context={
            "invitation": invitation,
            "customer": invitation.customer,
            "inviter": invitation.invited_by,
            "link": invitation_url(token),
            "token": token,
        },
        language=language,
    )


def _invitations_sent_today(customer: Customer, now) -> int:
    return Invitation.objects.filter(
        customer=customer, created_at__gt=now - timedelta(days=1)
    ).count()


def _check_cap(customer: Customer, now) -> None:
    if _invitations_sent_today(customer, now) >= settings.INVITATIONS_PER_DAY:
        raise ValidationError(
            _(
                "This customer has sent %(n)s invitations in the last 24 hours, the most "
                "allowed. Please try again later."
            )
            % {"n": settings.INVITATIONS_PER_DAY},
            code="cap",
        )


def _new_invitation(*, customer, email, permissions, by, now) -> tuple[Invitation, str]:
    token = secrets.token_urlsafe(INVITATION_TOKEN_BYTES)
    invitation = Invitation(
        customer=customer,
        email=email,
        token_hash=Invitation.hash_token(token),
        invited_by=by,
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
        **permissions,
    )
    invitation.full_clean()
    invitation.save()
    return invitation, token


def invitations_expire(*, customer: Customer | None = None, at=None) -> int:
    """Mark pending invitations past their end as expired; one conditional UPDATE, safe on
    several workers. Access never depends on it: acceptance checks the end time itself."""
    at = at or timezone.now()
    qs = Invitation.objects.filter(state=Invitation.State.PENDING, expires_at__lte=at)
    if customer is not None:
        qs = qs.filter(customer=customer)
    return qs.update(state=Invitation.State.EXPIRED)


@transaction.atomic
def invitation_create(
    *, customer: Customer, email: str, permissions: dict[str, bool], by: User, request=None
) -> Invitation:
    """Invite a person by e-mail with a permission set (U2, U3).

    The answer never depends on whether the address has a login (S12). At most
    ``settings.INVITATIONS_PER_DAY`` invitation mails per customer in 24 hours (S9); the
    token is mailed and only its hash stored.
    """
    email = User.objects.normalize_email(email).strip().lower()
    now = timezone.now()
    lock_customer(customer)
    invitations_expire(customer=customer, at=now)
    if Membership.objects.filter(customer=customer, user__email__iexact=email).exists():
        raise ValidationError(
            _("%(email)s already acts for this customer: change their permissions instead.")
            % {"email": email},
            code="member",
        )
    if Invitation.objects.usable(now).filter(customer=customer, email=email).exists():
        raise ValidationError(
            _("%(email)s is already invited. Resend that invitation if the mail was lost.")
            % {"email": email},
            code="pending",
        )
    _check_cap(customer, now)
    invitation, token = _new_invitation(
        customer=customer, email=email, permissions=permissions, by=by, now=now
    )
    _invitation_mail(invitation, token)
    audit(
        "invitation.created",
        request=request,
        actor=by,
        customer=customer,
        summary=f"{email}: {', '.join(invitation.permission_labels()) or '-'}",
        invitation=invitation.pk,
    )
    return invitation


@transaction.atomic
def invitation_resend(*, invitation: Invitation, by: User, request=None) -> Invitation:
    """Send a pending or expired invitation again with a new token and seven new days.

    The old one stays in the list as replaced (or expired) and its link stops working.
    Counts against the daily cap like a new invitation.
    """
    now = timezone.now()
    lock_customer(invitation.customer)
    invitations_expire(customer=invitation.customer, at=now)
    old = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if old.state not in (Invitation.State.PENDING, Invitation.State.EXPIRED):
        raise ValidationError(
            _("Only pending or expired invitations can be sent again."), code="state"
        )
    if Membership.objects.filter(customer=old.customer, user__email__iexact=old.email).exists():
        raise ValidationError(_("That person already acts for this customer."), code="member")
    if (
        Invitation.objects.usable(now)
        .filter(customer=old.customer, email=old.email)
        .exclude(pk=old.pk)
        .exists()
    ):
        raise ValidationError(_("A newer invitation to this address is pending."), code="pending")
    _check_cap(old.customer, now)
    if old.state == Invitation.State.PENDING:
        Invitation.objects.filter(pk=old.pk).update(
            state=Invitation.State.CANCELLED, cancelled_at=now, cancelled_by=by
        )
    new, token = _new_invitation(
        customer=old.customer,
        email=old.email,
        permissions=old.permission_values(),
        by=by,
        now=now,
    )
    _invitation_mail(new, token)
    audit(
        "invitation.resent",
        request=request,
        actor=by,
        customer=old.customer,
        summary=old.email,
        invitation=new.pk,
        replaces=old.pk,
    )
    return new


@transaction.atomic
def invitation_cancel(*, invitation: Invitation, by: User, request=None) -> None:
    """Cancel a pending invitation; it stays listed as cancelled and its link is void."""
    now = timezone.now()
    cancelled = Invitation.objects.filter(
        pk=invitation.pk, state=Invitation.State.PENDING, expires_at__gt=now
    ).update(state=Invitation.State.CANCELLED, cancelled_at=now, cancelled_by=by)
    if not cancelled:
        raise ValidationError(_("This invitation is no longer pending."), code="state")
    audit(
        "invitation.cancelled",
        request=request,
        actor=by,
        customer=invitation.customer,
        summary=invitation.email,
        invitation=invitation.pk,
    )


def invitation_by_token(token: str) -> Invitation | None:
    """The usable invitation a token opens, or None (unknown, used, cancelled, expired:
    callers answer every failure alike, S8)."""
    if not token or len(token) > 100:
        return None
    return invitation_by_hash(Invitation.hash_token(token))


def invitation_by_hash(token_hash: str) -> Invitation | None:
    invitation = (
        Invitation.objects.select_related("customer", "customer__parent", "invited_by")
        .filter(token_hash=token_hash or "-")
        .first()
    )
    if invitation is None or not invitation.is_usable():
        return None
    return invitation


class InvitationNotUsable(Exception):
    """The invitation was used, cancelled or expired in the meantime."""


class InvitationWrongAddress(Exception):
    """The signed-in user is not the invited address (S9)."""


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User, request=None) -> Membership:
    """Accept an invitation as the signed-in ``user``: only the invited address (S9), only
    once even under two parallel requests (conditional UPDATE), only before its end.

    A person who already acts for the customer keeps their permissions as they are.
    Two-factor, where the customer requires it, is the view's check (policy).
    """
    if user.status != User.Status.ACTIVE:
        raise InvitationNotUsable
    if user.email.lower() != invitation.email.lower():
        raise InvitationWrongAddress
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation.pk,
        token_hash=invitation.token_hash,
        state=Invitation.State.PENDING,
        expires_at__gt=now,
    ).update(state=Invitation.State.ACCEPTED, accepted_at=now, accepted_by=user)
    if not claimed:
        raise InvitationNotUsable
    membership = Membership.objects.filter(user=user, customer=invitation.customer).first()
    if membership is None:
        membership = membership_create(
            user=user, customer=invitation.customer, **invitation.permission_values()
        )
    audit(
        "invitation.accepted",
        request=request,
        actor=user,
        customer=invitation.customer,
        summary=f"{user.email}: {', '.join(membership.permission_labels()) or '-'}",
        invitation=invitation.pk,
        user=user.pk,
    )
    return membership


def invitation_signup(
    *, invitation: Invitation, first_name: str, last_name: str, password: str, language: str
) -> None:
    """A new person chooses a login for the invited address; they then sign in with it and
    accept. Holding the mailed token shows they receive mail at that address.

    When the address already has a login nothing changes and that address gets a mail
    saying so: the page looks the same either way (S12).
    """
    with transaction.atomic():
        existing = User.objects.filter(email__iexact=invitation.email).first()
        if existing is None:
            user = User.objects.create_user(
                invitation.email,
                password,
                first_name=first_name,
                last_name=last_name,
                language=language,
            )
            audit(
                "user.created_by_invitation",
                actor=user,
                customer=invitation.customer,
                summary=user.email,
                invitation=invitation.pk,
            )
            return
        make_password(password)  # the same work as above, so timing tells nothing either
        mail.queue(
            kind="invitation_login_exists",
            to=[existing.email],
            template="accounts/mail/invitation_login_exists",
            context={"user": existing, "customer": invitation.customer},
            language=existing.language,
        )
