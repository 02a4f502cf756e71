"""The account history (A4): every change records who made it and through which access."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.models import HostingAccount, User
from hosting.models import AccountEvent, ChangeRequest
from portal.policy import Access


def _access_fields(access: Access | None) -> dict:
    if access is None:
        return {"via": AccountEvent.Via.STAFF, "reason": "provider"}
    fields = {"via": str(access.via), "reason": str(access.reason)[:200]}
    if access.grant is not None:
        fields["grant"] = access.grant
        fields["via_customer"] = access.grant.agency
    elif access.membership is not None:
        fields["via_customer"] = access.membership.customer
    return fields


def event_record(
    *,
    account: HostingAccount,
    action: str,
    summary: str,
    actor: User | None,
    access: Access | None,
    change_request: ChangeRequest | None = None,
    request=None,
) -> AccountEvent:
    """Append one entry to the account's history and the customer's audit trail (A4, S27)."""
    event = AccountEvent.objects.create(
        account=account,
        actor=actor,
        action=action,
        summary=summary[:500],
        change_request=change_request,
        **_access_fields(access),
    )
    audit(
        f"hosting.{action}",
        request=request,
        actor=actor,
        customer=account.customer,
        summary=f"{account.name}: {summary}",
        account=account.pk,
        via=event.via,
        grant=event.grant_id,
    )
    return event


def check_changeable(account: HostingAccount) -> None:
    if account.status == HostingAccount.Status.CANCELLED:
        raise ValidationError(_("This hosting account is cancelled; it can no longer be changed."))
