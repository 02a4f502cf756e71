"""Memberships, staff requests and staff actions on users, newcomers (U3–U6, S5)."""

from __future__ import annotations

from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit
from accounts.models import Customer, HostingAccount, Membership, StaffRequest, User
from accounts.services.core import (
    customer_create,
    membership_create,
    send_set_password_mail,
    sessions_end_all,
)
from portal import mail, policy

# --- memberships (U3, U4, S5) ------------------------------------------------------


def lock_customer(customer: Customer) -> Customer:
    """Serialise changes to one customer's memberships and invitations (the last-owner
    rule and the daily invitation cap hold even under parallel requests)."""
    return Customer.objects.select_for_update().get(pk=customer.pk)


def _other_owner_exists(membership: Membership) -> bool:
    return (
        Membership.objects.filter(customer_id=membership.customer_id, is_owner=True)
        .exclude(pk=membership.pk)
        .exists()
    )


def _describe_changes(old: dict[str, bool], new: dict[str, bool]) -> tuple[list, list]:
    added = [name for name, value in new.items() if value and not old.get(name)]
    removed = [name for name, value in new.items() if not value and old.get(name)]
    return added, removed


@transaction.atomic
def membership_update(
    *, membership: Membership, changes: dict[str, bool], by: User, request=None
) -> Membership:
    """Change a member's permissions and notification choices (U3).

    Effective on the person's next request. When anything is taken away, every session of
    that person ends too (S5). The last owner stays an owner (U4).
    """
    lock_customer(membership.customer)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    old = membership.permission_values()
    for name, value in changes.items():
        if name not in Membership.choice_fields():
            raise ValueError(f"not a permission field: {name}")
        setattr(membership, name, bool(value))
    if old["is_owner"] and not membership.is_owner and not _other_owner_exists(membership):
        raise ValidationError(
            _("This is the only owner. Make someone else an owner first."), code="last_owner"
        )
    membership.full_clean()
    membership.save()
    added, removed = _describe_changes(old, membership.permission_values())
    access_fields = ("is_owner", *Membership.PERMISSION_FIELDS)
    if any(name in access_fields for name in removed):
        # Notification choices are no access: only a permission taken away ends sessions.
        sessions_end_all(membership.user)
    if added or removed:
        audit(
            "membership.changed",
            request=request,
            actor=by,
            customer=membership.customer,
            summary=f"{membership.user.email}: +{','.join(added) or '-'} -{','.join(removed) or '-'}",
            user=membership.user_id,
            added=added,
            removed=removed,
        )
    return membership


@transaction.atomic
def membership_limit_accounts(
    *, membership: Membership, limited: bool, by: User, request=None
) -> Membership:
    """Limit a member's product permissions to hosting accounts chosen one by one, or lift
    the limit (U3). Owners act for every account and are never limited. Limiting takes
    access away, so the person's sessions end (S5); it applies from their next request."""
    lock_customer(membership.customer)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if limited and membership.is_owner:
        raise ValidationError(
            _("Owners act for every hosting account; they cannot be limited to some."),
            code="owner",
        )
    if membership.restricted_to_accounts == limited:
        return membership
    membership.restricted_to_accounts = limited
    membership.save(update_fields=["restricted_to_accounts"])
    if limited:
        sessions_end_all(membership.user)
    audit(
        "membership.accounts_limited" if limited else "membership.accounts_unlimited",
        request=request,
        actor=by,
        customer=membership.customer,
        summary=membership.user.email,
        user=membership.user_id,
    )
    return membership


@transaction.atomic
def membership_account_choose(
    *, membership: Membership, account: HostingAccount, chosen: bool, by: User, request=None
) -> None:
    """Give a limited member one of the customer's hosting accounts, or take it back (U3);
    taking it back ends the person's sessions (S5)."""
    lock_customer(membership.customer)
    if account.customer_id != membership.customer_id:
        raise ValidationError(_("Choose one of this customer's hosting accounts."))
    if chosen:
        policy.member_account_give(membership, account)
    else:
        policy.member_account_take(membership, account)
        sessions_end_all(membership.user)
    audit(
        "membership.account_given" if chosen else "membership.account_taken",
        request=request,
        actor=by,
        customer=membership.customer,
        summary=f"{membership.user.email}: {account.name}",
        user=membership.user_id,
        account=account.pk,
    )


@transaction.atomic
def membership_remove(*, membership: Membership, by: User, request=None) -> None:
    """Remove a person's membership at once (U4): the user stays (users are never deleted),
    their tickets stay with the organisation, every session of theirs ends (S5)."""
    from guardian.models import UserObjectPermission

    lock_customer(membership.customer)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user", "customer")
        .get(pk=membership.pk)
    )
    if membership.is_owner and not _other_owner_exists(membership):
        raise ValidationError(
            _("This is the only owner and cannot be removed. Make someone else an owner first."),
            code="last_owner",
        )
    user, customer = membership.user, membership.customer
    membership.delete()
    # Object permissions on this customer's hosting accounts go too, so that a stale row
    # never counts if the person is invited again (S6).
    account_ids = [
        str(pk)
        for pk in HostingAccount.objects.filter(customer=customer).values_list("pk", flat=True)
    ]
    UserObjectPermission.objects.filter(
        user=user,
        content_type__app_label="accounts",
        content_type__model="hostingaccount",
        object_pk__in=account_ids,
    ).delete()
    sessions_end_all(user)
    audit(
        "membership.removed",
        request=request,
        actor=by,
        customer=customer,
        summary=user.email,
        user=user.pk,
    )


# --- staff requests and staff actions (U4, U5, U6) -----------------------------------


@transaction.atomic
def staff_request_user_left(
    *, customer: Customer, user: User, by: User, note: str = "", request=None
) -> StaffRequest:
    """Tell support that a person has left the organisation (U4). Staff then set the user
    inactive; the customer does not delete anyone. Asking twice keeps one open request."""
    existing = StaffRequest.objects.filter(
        kind=StaffRequest.Kind.USER_LEFT,
        customer=customer,
        user=user,
        state=StaffRequest.State.OPEN,
    ).first()
    if existing is not None:
        return existing
    staff_request = StaffRequest(
        kind=StaffRequest.Kind.USER_LEFT,
        customer=customer,
        user=user,
        requested_by=by,
        note=note,
    )
    staff_request.full_clean()
    staff_request.save()
    mail.queue(
        kind="staff_request",
        to=[settings.SUPPORT_EMAIL],
        template="accounts/mail/staff_request_user_left",
        context={
            "staff_request": staff_request,
            "admin_link": settings.PORTAL_BASE_URL
            + reverse("admin:accounts_staffrequest_change", args=[staff_request.pk]),
        },
        language=settings.LANGUAGE_CODE,
        headers={"Reply-To": by.email},
    )
    audit(
        "user.left_reported",
        request=request,
        actor=by,
        customer=customer,
        summary=user.email,
        user=user.pk,
        staff_request=staff_request.pk,
    )
    return staff_request


def staff_request_done(*, staff_request: StaffRequest, by: User) -> bool:
    return bool(
        StaffRequest.objects.filter(pk=staff_request.pk, state=StaffRequest.State.OPEN).update(
            state=StaffRequest.State.DONE, handled_by=by, handled_at=timezone.now()
        )
    )


@transaction.atomic
def user_set_status(*, user: User, status: str, by: User | None, request=None) -> bool:
    """Staff change a user's status (U6). Inactive: no sign-in and no access anywhere, and
    every session ends at once (S5); memberships and tickets stay with the organisation
    (U4). Recorded without a customer: only staff see a status (U4)."""
    status = User.Status(status)
    previous = User.objects.filter(pk=user.pk).values_list("status", flat=True).first()
    changed = User.objects.filter(pk=user.pk).exclude(status=status).update(status=status)
    if status != User.Status.ACTIVE:
        sessions_end_all(user)
    if changed:
        action = {
            User.Status.INACTIVE: "user.deactivated",
            User.Status.ACTIVE: "user.verified" if previous == "unverified" else "user.activated",
            User.Status.UNVERIFIED: "user.unverified",
        }[status]
        audit(action, request=request, actor=by, summary=user.email, user=user.pk)
    user.status = status
    return bool(changed)


def user_deactivate(*, user: User, by: User | None, request=None) -> bool:
    """Staff set a user inactive (U4, U6); their sessions end at once (S5)."""
    return user_set_status(user=user, status=User.Status.INACTIVE, by=by, request=request)


def user_verify(*, user: User, by: User | None, request=None) -> bool:
    """Staff verify an unverified user (U6, H2): from now on they can be given access.
    Only an unverified user is changed; an inactive one stays inactive."""
    if User.objects.filter(pk=user.pk, status=User.Status.UNVERIFIED).exists():
        return user_set_status(user=user, status=User.Status.ACTIVE, by=by, request=request)
    return False


@transaction.atomic
def user_create_by_staff(
    *, email: str, first_name: str = "", last_name: str = "", language: str = "", by: User | None
) -> User:
    """Staff create a login; the person chooses a password through a mailed link (U5)."""
    user = User(
        email=User.objects.normalize_email(email).strip().lower(),
        first_name=first_name,
        last_name=last_name,
        language=language or settings.LANGUAGE_CODE,
    )
    user.set_unusable_password()
    user.full_clean()
    user.save()
    send_set_password_mail(user)
    audit("user.created_by_staff", actor=by, summary=user.email, user=user.pk)
    return user


class Newcomer(NamedTuple):
    customer: Customer
    user: User
    login_created: bool


@transaction.atomic
def customer_create_for_newcomer(
    *,
    company: str,
    first_name: str,
    last_name: str,
    street: str,
    postal_code: str,
    city: str,
    country: str,
    phone: str,
    email: str,
    created_by: User | None = None,
    request=None,
) -> Newcomer:
    """A customer number and a login for someone who is not yet a customer (U5, seed 000:
    company, first and last name, postal address, phone, e-mail).

    The person becomes the new customer's owner and its standard contact. A new login
    gets a mail with a link to choose a password; an address that already has a login
    keeps it and only gains the membership (staff see which in the result).
    """
    email = User.objects.normalize_email(email).strip().lower()
    customer = customer_create(
        name=company,
        email=email,
        street=street,
        postal_code=postal_code,
        city=city,
        country=country,
        phone=phone,
    )
    user = User.objects.filter(email__iexact=email).first()
    login_created = user is None
    if login_created:
        user = User.objects.create_user(email, None, first_name=first_name, last_name=last_name)
    membership_create(user=user, customer=customer, is_owner=True)
    # The person is also the customer's standard (commercial, authorised, primary) contact
    # (K3, K10, K11); their address is used once they confirm it (K4). Contacts build on
    # accounts, so they are imported here rather than at the top.
    from contacts.services import contacts_for_new_customer

    contacts_for_new_customer(
        customer=customer,
        commercial={"name": f"{first_name} {last_name}".strip(), "email": email, "phone": phone},
        actor=created_by,
        request=request,
    )
    if login_created:
        send_set_password_mail(user)
    audit(
        "customer.created_for_newcomer",
        request=request,
        actor=created_by,
        customer=customer,
        summary=f"{company}, {first_name} {last_name} <{email}>",
        user=user.pk,
        login_created=login_created,
    )
    return Newcomer(customer, user, login_created)
