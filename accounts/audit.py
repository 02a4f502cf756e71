"""Writing the audit trail (S27). Never pass a token or password in ``summary`` or ``data``."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent, Customer, User


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit(
    action: str,
    *,
    request=None,
    actor: User | None = None,
    customer: Customer | None = None,
    summary: str = "",
    **data,
) -> AuditEvent:
    """Append one event: who, for which customer, what, when (UTC), from which IP and request."""
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        if request.user.is_authenticated:
            actor = request.user
    return AuditEvent.objects.create(
        actor=actor,
        customer=customer,
        action=action,
        summary=summary[:500],
        ip=client_ip(request),
        request_id=getattr(request, "request_id", "") if request is not None else "",
        data=data,
    )


# What customers read in their own trail. Actions of other apps not listed here show
# their code made readable ("contact.phone_password_set" → "contact: phone password set").
LABELS = {
    "login": _("signed in"),
    "login.failed": _("sign-in failed"),
    "logout": _("signed out"),
    "invitation.created": _("invitation sent"),
    "invitation.resent": _("invitation sent again"),
    "invitation.cancelled": _("invitation cancelled"),
    "invitation.accepted": _("invitation accepted"),
    "invitation.link_failed": _("invalid invitation link used"),
    "user.created_by_invitation": _("login created for an invitation"),
    "user.left_reported": _("support told a user has left"),
    "membership.changed": _("permissions changed"),
    "membership.removed": _("user removed"),
    "customer.created_for_newcomer": _("customer created by support"),
    "sub_account.ordered": _("sub-account ordered"),
    "sub_account.link_requested": _("sub-account link requested"),
    "sub_account.linked": _("sub-account linked"),
    "sub_account.link_declined": _("sub-account link declined"),
    "sub_account.link_cancelled": _("sub-account link request withdrawn"),
    "sub_account.collective_invoice_on": _("put on the collective invoice"),
    "sub_account.collective_invoice_off": _("taken off the collective invoice"),
    "two_factor.enabled": _("two-factor sign-in switched on"),
    "two_factor.disabled": _("two-factor sign-in switched off"),
    "two_factor.failed": _("wrong two-factor code"),
    "two_factor.verified": _("two-factor code confirmed"),
    "two_factor.backup_codes": _("new backup codes made"),
    "sessions.ended": _("other sessions ended"),
    "password.reset": _("password reset"),
    "grant.created": _("technical administrator grant made"),
    "grant.key_mailed": _("grant key mailed"),
    "grant.approved": _("grant approved"),
    "grant.key_failed": _("wrong grant key tried"),
    "grant.revoked": _("grant revoked"),
    "grant.handed_back": _("grant handed back"),
    "grant.expired": _("grant expired"),
    "grant.key_expired": _("grant key expired unused"),
    "access.denied": _("access denied"),
    "access_overview.exported": _("who can act for us exported"),
    "access_review.requested": _("owners asked to review who can act"),
    "access_review.confirmed": _("access review confirmed"),
    "access_review.interval_changed": _("access review interval changed"),
}


def label(action: str) -> str:
    if action in LABELS:
        return LABELS[action]
    return action.replace(".", ": ", 1).replace("_", " ").replace(".", " ")
