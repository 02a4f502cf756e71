"""Change requests that staff carry out (A2 packages, A3 server reboots)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import HostingAccount, User
from hosting import notifications
from hosting.models import AccountEvent, ChangeRequest
from hosting.services.history import check_changeable, event_record
from portal.policy import Access

SUPPORTED_PHP_VERSIONS = ("8.1", "8.2", "8.3", "8.4")
STORAGE_STEPS_GB = (10, 25, 50, 100, 200, 500, 1000)

_REQUEST_KINDS = {
    ChangeRequest.Kind.PHP_VERSION: (
        HostingAccount.Kind.PACKAGE,
        AccountEvent.Action.PHP_REQUESTED,
    ),
    ChangeRequest.Kind.STORAGE: (
        HostingAccount.Kind.PACKAGE,
        AccountEvent.Action.STORAGE_REQUESTED,
    ),
    ChangeRequest.Kind.REBOOT: (HostingAccount.Kind.SERVER, AccountEvent.Action.REBOOT_REQUESTED),
}


def _request_value(account: HostingAccount, kind: str, value: str) -> tuple[str, str]:
    """(requested, current) for a request, or ValidationError."""
    if kind == ChangeRequest.Kind.PHP_VERSION:
        if value not in SUPPORTED_PHP_VERSIONS:
            raise ValidationError(
                {
                    "value": _("Choose one of the supported PHP versions: %(versions)s.")
                    % {"versions": ", ".join(SUPPORTED_PHP_VERSIONS)}
                }
            )
        if value == account.php_version:
            raise ValidationError(
                {"value": _("The package runs PHP %(v)s already.") % {"v": value}}
            )
        return value, account.php_version or ""
    if kind == ChangeRequest.Kind.STORAGE:
        try:
            size = int(value)
        except (TypeError, ValueError):
            size = 0
        if size not in STORAGE_STEPS_GB:
            raise ValidationError({"value": _("Choose one of the storage sizes offered.")})
        if account.storage_gb and size <= account.storage_gb:
            raise ValidationError(
                {
                    "value": _("The package has %(n)d GB already; choose a larger size.")
                    % {"n": account.storage_gb}
                }
            )
        return str(size), str(account.storage_gb or "")
    return "", ""


@transaction.atomic
def change_request_create(
    *,
    account: HostingAccount,
    kind: str,
    value: str = "",
    note: str = "",
    actor: User | None,
    access: Access | None,
    request=None,
) -> ChangeRequest:
    """Record a request that staff carry out (A2, A3) and put it on their work list.

    The one place where change requests are made: the helpdesk opens a ticket for each
    one here once it exists. One open request of each kind per account."""
    check_changeable(account)
    if kind not in _REQUEST_KINDS or _REQUEST_KINDS[kind][0] != account.kind:
        raise ValidationError(_("This request does not apply to this kind of account."))
    requested, current = _request_value(account, kind, str(value or "").strip())
    HostingAccount.objects.select_for_update().filter(pk=account.pk).first()
    open_one = ChangeRequest.objects.filter(
        account=account, kind=kind, state=ChangeRequest.State.OPEN
    ).first()
    if open_one is not None:
        raise ValidationError(
            _(
                "A %(kind)s is already waiting for our staff (#%(id)s, %(what)s). Cancel it first "
                "if you want something else."
            )
            % {"kind": open_one.get_kind_display(), "id": open_one.pk, "what": open_one.description}
        )
    change_request = ChangeRequest(
        account=account,
        kind=kind,
        value=requested,
        previous=current,
        note=(note or "").strip(),
        created_by=actor,
    )
    change_request.full_clean()
    try:
        with transaction.atomic():
            change_request.save()
    except IntegrityError:
        raise ValidationError(_("A request of this kind is already waiting for our staff."))
    event_record(
        account=account,
        action=_REQUEST_KINDS[kind][1],
        summary=f"#{change_request.pk} {change_request.description}",
        actor=actor,
        access=access,
        change_request=change_request,
        request=request,
    )
    return change_request


def _close(change_request: ChangeRequest, state: str, by: User | None, note: str = "") -> bool:
    return bool(
        ChangeRequest.objects.filter(pk=change_request.pk, state=ChangeRequest.State.OPEN).update(
            state=state, handled_by=by, handled_at=timezone.now(), staff_note=note
        )
    )


@transaction.atomic
def change_request_cancel(
    *, change_request: ChangeRequest, actor: User, access: Access, request=None
) -> bool:
    """The customer withdraws an open request. False when staff got to it first."""
    if not _close(change_request, ChangeRequest.State.CANCELLED, actor):
        return False
    event_record(
        account=change_request.account,
        action=AccountEvent.Action.REQUEST_CANCELLED,
        summary=f"#{change_request.pk} {change_request.description}",
        actor=actor,
        access=access,
        change_request=change_request,
        request=request,
    )
    return True


@transaction.atomic
def change_request_complete(
    *, change_request: ChangeRequest, staff_user: User, note: str = "", request=None
) -> bool:
    """Staff carried the request out: the account shows the new setting from now on."""
    if not _close(change_request, ChangeRequest.State.DONE, staff_user, note):
        return False
    account = HostingAccount.objects.select_for_update().get(pk=change_request.account_id)
    if change_request.kind == ChangeRequest.Kind.PHP_VERSION:
        account.php_version = change_request.value
        account.save(update_fields=["php_version"])
    elif change_request.kind == ChangeRequest.Kind.STORAGE:
        account.storage_gb = int(change_request.value)
        account.save(update_fields=["storage_gb"])
    event_record(
        account=account,
        action=AccountEvent.Action.REQUEST_DONE,
        summary=f"#{change_request.pk} {change_request.description}",
        actor=staff_user,
        access=None,
        change_request=change_request,
        request=request,
    )
    _tell_customer(change_request)
    return True


def _tell_customer(change_request: ChangeRequest) -> None:
    """Mail the outcome (sent once the transaction commits)."""
    change_request.refresh_from_db(fields=["state", "staff_note", "handled_at"])
    notifications.change_request_handled(change_request)


@transaction.atomic
def change_request_reject(
    *, change_request: ChangeRequest, staff_user: User, note: str = "", request=None
) -> bool:
    if not _close(change_request, ChangeRequest.State.REJECTED, staff_user, note):
        return False
    event_record(
        account=change_request.account,
        action=AccountEvent.Action.REQUEST_REJECTED,
        summary=f"#{change_request.pk} {change_request.description}"
        + (f": {note}" if note else ""),
        actor=staff_user,
        access=None,
        change_request=change_request,
        request=request,
    )
    _tell_customer(change_request)
    return True
