"""Writes for grants (D1–D7): making, mailing the key, approving, revoking, handing back,
expiring, reminding, and requests for an administrator's customer number (U5).

Every change of a grant's state is a conditional UPDATE from the states it may leave, so
that two requests or two workers never both do it (S7, S26): whoever changes the row does
the rest (guardian rows, history, audit, mail) in the same transaction.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.audit import audit, client_ip
from accounts.models import Customer, HostingAccount, User, hash_secret
from delegation.models import (
    KEY_VALID_FOR,
    Grant,
    GrantEvent,
    GrantRequest,
    key_dead_q,
    live_q,
    open_q,
    reminder_q,
)
from portal import mail, policy
from portal.models import OutgoingMail

KEY_BYTES = 20  # 160 random bits from `secrets` (S7 asks for at least 128)
KEY_PREFIX_LENGTH = 4  # 20 bits shown to recognise a key by; 140 bits stay secret
KEY_MAIL_KIND = "grant_key"
KEY_MAILS_PER_GRANT = 3  # the button cannot be used to flood the administrator
KEY_MAIL_REDACTED = (
    "[The grant key was removed from the stored copy of this message after sending.]"
)

Side = GrantEvent.Side
Kind = GrantEvent.Kind


class GrantError(Exception):
    """A grant cannot make the requested step (already ended, key not valid, ...)."""


# --- keys ---------------------------------------------------------------------------


def key_new() -> str:
    """A fresh grant key: 160 random bits as 32 base32 characters in groups of four."""
    raw = base64.b32encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def key_normalise(text: str) -> str:
    """The key as stored and compared: letters and digits only, upper case, so that
    spaces, dashes and case typed or pasted around it do not matter."""
    return "".join(ch for ch in (text or "")[:200].upper() if ch.isascii() and ch.isalnum())


def key_matches(grant: Grant, key: str) -> bool:
    """Whether ``key`` is the grant's key, compared in constant time (S7)."""
    if not grant.key_hash:
        return False
    return hmac.compare_digest(grant.key_hash, hash_secret(key_normalise(key)))


def _rate(text: str) -> tuple[int, timedelta]:
    """``"10/h"`` → (10, one hour). Units s, m, h, d, optionally with a count (``5/15m``)."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\w*\s*", text or "")
    if not match:
        raise ValueError(f"not a rate: {text!r}")
    count, multiplier, unit = match.groups()
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit] * int(multiplier or 1)
    return int(count), timedelta(seconds=seconds)


def key_attempts_exceeded(*, user: User, ip: str | None, at: datetime | None = None) -> bool:
    """Whether this user or this address has tried too many wrong keys lately (S8,
    ``settings.WRONG_KEY_LIMIT``). Counted from the history's wrong-key events, so the
    limit holds across processes and without Redis."""
    limit, window = _rate(settings.WRONG_KEY_LIMIT)
    at = at or timezone.now()
    recent = GrantEvent.objects.filter(kind=Kind.WRONG_KEY, at__gt=at - window)
    counters = {"by_user": Count("pk", filter=Q(actor=user))}
    if ip:
        counters["by_ip"] = Count("pk", filter=Q(ip=ip))
    counts = recent.aggregate(**counters)
    return max(counts.values()) >= limit


# --- helpers ------------------------------------------------------------------------


def _event(
    grant: Grant,
    kind: str,
    side: str,
    *,
    actor: User | None = None,
    request=None,
    at: datetime | None = None,
    note: str = "",
) -> GrantEvent:
    return GrantEvent.objects.create(
        grant=grant,
        kind=kind,
        side=side,
        actor=actor,
        ip=client_ip(request),
        at=at or timezone.now(),
        note=note[:200],
    )


def _audit_both(
    action: str, grant: Grant, *, side: str, request=None, actor=None, summary=""
) -> None:
    """The event in both customers' audit trails, each read by its own customer (S27).
    The acting person and their address go only into their own side's trail; the other
    side reads which customer acted, never who (D4: no grantor's users for a delegate,
    and the same courtesy the other way)."""
    own, other = (
        (grant.grantor, grant.agency) if side == Side.GRANTOR else (grant.agency, grant.grantor)
    )
    data = {"grant": grant.pk, "grantor": grant.grantor.number, "agency": grant.agency.number}
    audit(action, request=request, actor=actor, customer=own, summary=summary, **data)
    if side == Side.SYSTEM:
        audit(action, customer=other, summary=summary, **data)
    else:
        by = f"{summary} by {own.display_number}" if summary else own.display_number
        audit(action, customer=other, summary=by, **data)


def _link(name: str, **kwargs) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse(name, kwargs=kwargs)


def _notify(customer: Customer, *, kind: str, template: str, context: dict) -> int:
    """Mail the people who manage delegations for ``customer``, each in their language;
    the customer's account e-mail where there are none. Returns the number of messages."""
    users = list(policy.delegation_managers(customer))
    if not users:
        if not customer.email:
            return 0
        mail.queue(kind=kind, to=[customer.email], template=template, context=context)
        return 1
    for user in users:
        mail.queue(
            kind=kind,
            to=[user.email],
            template=template,
            context={**context, "recipient": user},
            language=user.language,
        )
    return len(users)


def _mail_context(grant: Grant) -> dict:
    """What mails about a grant may say: the two customers' names and numbers, the
    accounts, the end. Nothing of the grantor's contract data or users (D4, S3)."""
    return {
        "grant": grant,
        "grantor": grant.grantor,
        "agency": grant.agency,
        "accounts": list(grant.accounts.order_by("kind", "name")),
        "grantor_link": _link(
            "delegation:grant_detail", customer=grant.grantor.number, grant=grant.pk
        ),
        "agency_link": _link(
            "delegation:request_detail", customer=grant.agency.number, grant=grant.pk
        ),
    }


def _claim(grant_id: int, condition: Q, **changes) -> Grant | None:
    """Change a grant's row only if it still meets ``condition``; the one caller whose
    UPDATE changed it gets the fresh grant, everyone else None."""
    changed = Grant.objects.filter(condition, pk=grant_id).update(**changes)
    if not changed:
        return None
    return Grant.objects.select_related("grantor", "agency").get(pk=grant_id)


# --- the grantor's side -------------------------------------------------------------


@transaction.atomic
def grant_create(
    *,
    grantor: Customer,
    agency: Customer,
    accounts: list[HostingAccount],
    ends_at: datetime | None,
    created_by: User,
    request=None,
) -> tuple[Grant, str]:
    """Make a pending grant of the grantor's own hosting accounts to ``agency`` and return
    it with its key, which is shown once and never stored (D1–D3, S7)."""
    accounts = list(accounts)
    now = timezone.now()
    if not accounts:
        raise ValidationError(_("Choose at least one hosting account."))
    if any(account.customer_id != grantor.pk for account in accounts):
        # D4: no passing on a grant; S4: never another tenant's account.
        raise ValidationError(_("Only your own hosting accounts can be granted."))
    if agency.pk == grantor.pk:
        raise ValidationError(_("You cannot grant access to yourself."))
    if ends_at is not None and ends_at <= now:
        raise ValidationError(_("The end must be in the future."))
    key = key_new()
    normalised = key_normalise(key)
    grant = Grant(
        grantor=grantor,
        agency=agency,
        state=Grant.State.PENDING,
        key_prefix=normalised[:KEY_PREFIX_LENGTH],
        key_hash=hash_secret(normalised),
        key_expires_at=now + KEY_VALID_FOR,
        created_by=created_by,
        created_at=now,
        ends_at=ends_at,
    )
    grant.full_clean()
    grant.save()
    grant.accounts.set(accounts)
    _event(grant, Kind.MADE, Side.GRANTOR, actor=created_by, request=request, at=now)
    audit(
        "grant.created",
        request=request,
        actor=created_by,
        customer=grantor,
        summary=f"grant #{grant.pk} to {agency.display_number}, {len(accounts)} hosting accounts",
        grant=grant.pk,
        agency=agency.number,
        accounts=sorted(a.pk for a in accounts),
        ends_at=ends_at.isoformat() if ends_at else None,
    )
    return grant, key


@transaction.atomic
def grant_key_mail(*, grant: Grant, key: str, actor: User, request=None) -> int:
    """Mail the key to the administrator's owners and delegation managers (D3).

    The key is not stored, so the grantor's page posts it back; it is checked against the
    hash and must still be usable. The copy in the outbox is blanked once sent
    (``key_mails_redact``). Returns how many messages were queued."""
    if not grant.is_open() or not key_matches(grant, key):
        raise GrantError(_("The key can no longer be e-mailed: the request is not pending."))
    Grant.objects.select_for_update().filter(pk=grant.pk).first()  # one mailing at a time
    if grant.events.filter(kind=Kind.KEY_MAILED).count() >= KEY_MAILS_PER_GRANT:
        raise GrantError(
            _("The key was already e-mailed %(n)s times. Pass it on another way.")
            % {"n": KEY_MAILS_PER_GRANT}
        )
    context = {**_mail_context(grant), "key": key_new_display(key)}
    sent = _notify(
        grant.agency,
        kind=f"{KEY_MAIL_KIND}:{grant.pk}",
        template="delegation/mail/grant_key",
        context=context,
    )
    if not sent:
        raise GrantError(_("The administrator has nobody to receive the key by e-mail."))
    _event(
        grant,
        Kind.KEY_MAILED,
        Side.GRANTOR,
        actor=actor,
        request=request,
        note=f"{sent} recipients",
    )
    audit(
        "grant.key_mailed",
        request=request,
        actor=actor,
        customer=grant.grantor,
        summary=f"grant #{grant.pk}: key e-mailed to {grant.agency.display_number}",
        grant=grant.pk,
        recipients=sent,
    )
    return sent


def key_new_display(key: str) -> str:
    """The key in its groups of four, however it was typed."""
    normalised = key_normalise(key)
    return "-".join(normalised[i : i + 4] for i in range(0, len(normalised), 4))


@transaction.atomic
def grant_revoke(*, grant: Grant, actor: User, request=None) -> bool:
    """The grantor ends a pending or live grant at once (D2, S5)."""
    return _grant_end(
        grant,
        actor=actor,
        request=request,
        state=Grant.State.REVOKED,
        kind=Kind.REVOKED,
        side=Side.GRANTOR,
        action="grant.revoked",
        tell="agency",
    )


def _grant_end(grant, *, actor, request, state, kind, side, action, tell) -> bool:
    """End a pending or live grant by one side: claim it, release the guardian rows, keep
    the history and the audit trail, and tell the other side (``tell``: its field name)."""
    now = timezone.now()
    fresh = _claim(
        grant.pk,
        live_q(now) | open_q(now),
        state=state,
        ended_at=now,
        ended_by=actor,
        key_hash="",
    )
    if fresh is None:
        return False
    policy.grant_accounts_release(fresh)
    _event(fresh, kind, side, actor=actor, request=request, at=now)
    _audit_both(
        action,
        fresh,
        side=side,
        request=request,
        actor=actor,
        summary=f"grant #{fresh.pk} {action.split('.', 1)[1].replace('_', ' ')}",
    )
    mail_kind = action.replace(".", "_")
    _notify(
        getattr(fresh, tell),
        kind=mail_kind,
        template=f"delegation/mail/{mail_kind}",
        context=_mail_context(fresh),
    )
    key_mails_redact(fresh)
    return True


# --- the administrator's side -------------------------------------------------------


def grant_approve(*, grant: Grant, key: str, user: User, request=None) -> bool:
    """The administrator enters the key: the grant becomes active and the agency's guardian
    group gets the accounts (D3, D4).

    Single use even when two requests race (S7): the row changes from pending only if it
    is still pending with the same hash, in one conditional UPDATE; the loser changes
    nothing. Every failure — wrong, expired, used key, too many tries — is recorded the
    same way and answered the same way by the caller (S8)."""
    now = timezone.now()
    ip = client_ip(request)
    if not key_attempts_exceeded(user=user, ip=ip, at=now):
        digest = hash_secret(key_normalise(key))
        stored = Grant.objects.filter(pk=grant.pk).values_list("key_hash", flat=True).first()
        if stored and hmac.compare_digest(stored, digest):
            with transaction.atomic():
                fresh = _claim(
                    grant.pk,
                    open_q(now) & Q(key_hash=digest),
                    state=Grant.State.ACTIVE,
                    approved_by=user,
                    approved_at=now,
                    key_hash="",
                )
                if fresh is not None:
                    policy.grant_accounts_assign(fresh)
                    _event(fresh, Kind.APPROVED, Side.AGENCY, actor=user, request=request, at=now)
                    _audit_both(
                        "grant.approved",
                        fresh,
                        side=Side.AGENCY,
                        request=request,
                        actor=user,
                        summary=f"grant #{fresh.pk} approved",
                    )
                    _notify(
                        fresh.grantor,
                        kind="grant_approved",
                        template="delegation/mail/grant_approved",
                        context=_mail_context(fresh),
                    )
                    key_mails_redact(fresh)
                    return True
    with transaction.atomic():
        _event(grant, Kind.WRONG_KEY, Side.AGENCY, actor=user, request=request, at=now)
        audit(
            "grant.key_failed",
            request=request,
            actor=user,
            customer=grant.agency,
            summary=f"grant #{grant.pk}: key not accepted",
            grant=grant.pk,
        )
    return False


@transaction.atomic
def grant_hand_back(*, grant: Grant, actor: User, request=None) -> bool:
    """The administrator gives a live grant back, or declines a pending request (D2)."""
    return _grant_end(
        grant,
        actor=actor,
        request=request,
        state=Grant.State.HANDED_BACK,
        kind=Kind.HANDED_BACK,
        side=Side.AGENCY,
        action="grant.handed_back",
        tell="grantor",
    )


# --- time: jobs call these (D6, S5, S26) ---------------------------------------------


@transaction.atomic
def grant_expire(*, grant_id: int, at: datetime | None = None) -> bool:
    """Mark a live grant whose end has passed as expired, remove the guardian rows and
    tell both sides. Access already ended at ``ends_at`` (the policy checks it on every
    request); this only records it. Safe to run twice or on two workers."""
    at = at or timezone.now()
    fresh = _claim(
        grant_id,
        Q(state=Grant.State.ACTIVE, ends_at__lte=at),
        state=Grant.State.EXPIRED,
        ended_at=F("ends_at"),
    )
    if fresh is None:
        return False
    policy.grant_accounts_release(fresh)
    _event(fresh, Kind.EXPIRED, Side.SYSTEM, at=fresh.ends_at)
    _audit_both("grant.expired", fresh, side=Side.SYSTEM, summary=f"grant #{fresh.pk} expired")
    for customer, template in (
        (fresh.grantor, "delegation/mail/grant_expired_grantor"),
        (fresh.agency, "delegation/mail/grant_expired_agency"),
    ):
        _notify(customer, kind="grant_expired", template=template, context=_mail_context(fresh))
    return True


@transaction.atomic
def grant_key_expire(*, grant_id: int, at: datetime | None = None) -> bool:
    """A pending grant whose key was not used within 14 days (or whose end passed before
    approval) expires; the grantor is told (D3)."""
    at = at or timezone.now()
    fresh = _claim(
        grant_id,
        key_dead_q(at),
        state=Grant.State.EXPIRED,
        ended_at=at,
        key_hash="",
    )
    if fresh is None:
        return False
    _event(fresh, Kind.KEY_EXPIRED, Side.SYSTEM, at=at)
    audit(
        "grant.key_expired",
        customer=fresh.grantor,
        summary=f"grant #{fresh.pk}: key expired unused",
        grant=fresh.pk,
    )
    _notify(
        fresh.grantor,
        kind="grant_key_expired",
        template="delegation/mail/grant_key_expired",
        context=_mail_context(fresh),
    )
    key_mails_redact(fresh)
    return True


@transaction.atomic
def grant_remind(*, grant_id: int, at: datetime | None = None) -> bool:
    """Remind both sides a week before a grant ends — once: the one run that sets
    ``reminded_at`` sends it (D6)."""
    at = at or timezone.now()
    fresh = _claim(grant_id, reminder_q(at), reminded_at=at)
    if fresh is None:
        return False
    _event(fresh, Kind.REMINDER, Side.SYSTEM, at=at)
    for customer, template in (
        (fresh.grantor, "delegation/mail/grant_reminder_grantor"),
        (fresh.agency, "delegation/mail/grant_reminder_agency"),
    ):
        _notify(customer, kind="grant_reminder", template=template, context=_mail_context(fresh))
    return True


BATCH = 500


def grants_expire_due(at: datetime | None = None) -> int:
    """Expire every grant past its end and every unused key past 14 days; returns how many
    this run changed (another worker may have done the rest)."""
    at = at or timezone.now()
    done = 0
    for grant_id in Grant.objects.due_to_expire(at).values_list("pk", flat=True)[:BATCH]:
        done += grant_expire(grant_id=grant_id, at=at)
    for grant_id in Grant.objects.keys_due_to_expire(at).values_list("pk", flat=True)[:BATCH]:
        done += grant_key_expire(grant_id=grant_id, at=at)
    return done


def grants_remind_due(at: datetime | None = None) -> int:
    at = at or timezone.now()
    ids = list(Grant.objects.due_for_reminder(at).values_list("pk", flat=True)[:BATCH])
    return sum(grant_remind(grant_id=grant_id, at=at) for grant_id in ids)


def key_mails_redact(grant: Grant | None = None) -> int:
    """Blank the key in stored copies of key mails (S7: the key is not kept in clear).

    For one grant whose key is dead: every copy, sent or not. Otherwise (the periodic
    job): every copy that has been sent or has failed for good."""
    mails = OutgoingMail.objects.filter(kind__startswith=f"{KEY_MAIL_KIND}:")
    if grant is not None:
        mails = mails.filter(kind=f"{KEY_MAIL_KIND}:{grant.pk}")
    else:
        mails = mails.filter(state__in=[OutgoingMail.State.SENT, OutgoingMail.State.FAILED])
    return mails.exclude(body=KEY_MAIL_REDACTED).update(body=KEY_MAIL_REDACTED, html="")


# --- an administrator who is not a customer yet (seed 000, U5) ------------------------


@transaction.atomic
def grant_request_create(*, grantor: Customer, requested_by: User, request=None, **fields):
    """The grantor asks support to create a customer number for its administrator."""
    grant_request = GrantRequest(grantor=grantor, requested_by=requested_by, **fields)
    grant_request.full_clean()
    grant_request.save()
    audit(
        "grant_request.created",
        request=request,
        actor=requested_by,
        customer=grantor,
        summary=f"asked support for a customer number for {grant_request.company}"[:500],
        grant_request=grant_request.pk,
    )
    return grant_request


@transaction.atomic
def grant_request_complete(
    *, grant_request: GrantRequest, customer: Customer, staff: User, request=None
) -> bool:
    """Staff created (or found) the administrator's customer: the request is done and the
    grantor is told the new customer number by mail (seed 000)."""
    if customer.pk == grant_request.grantor_id:
        raise ValidationError(_("The administrator cannot be the grantor itself."))
    changed = GrantRequest.objects.filter(
        pk=grant_request.pk, state=GrantRequest.State.OPEN
    ).update(
        state=GrantRequest.State.DONE,
        created_customer=customer,
        done_by=staff,
        done_at=timezone.now(),
    )
    if not changed:
        return False
    grant_request.refresh_from_db()
    audit(
        "grant_request.done",
        request=request,
        actor=staff,
        customer=grant_request.grantor,
        summary=f"customer number {customer.display_number} created for the administrator",
        grant_request=grant_request.pk,
        agency=customer.number,
    )
    _notify(
        grant_request.grantor,
        kind="grant_request_done",
        template="delegation/mail/grant_request_done",
        context={
            "grant_request": grant_request,
            "agency": customer,
            "grantor": grant_request.grantor,
            "new_grant_link": _link(
                "delegation:grant_create", customer=grant_request.grantor.number
            ),
        },
    )
    return True


def grant_request_create_newcomer(
    *, grant_request: GrantRequest, staff: User, request=None
) -> Customer:
    """Create the administrator's customer number and login with the users issue's service
    (the person gets a set-password mail there), then tell the grantor the number."""
    from accounts.services import customer_create_for_newcomer

    with transaction.atomic():
        result = customer_create_for_newcomer(
            company=grant_request.company,
            first_name=grant_request.first_name,
            last_name=grant_request.last_name,
            street=grant_request.street,
            postal_code=grant_request.postal_code,
            city=grant_request.city,
            country=grant_request.country,
            phone=grant_request.phone,
            email=grant_request.email,
            created_by=staff,
            request=request,
        )
        customer = result.customer
        grant_request_complete(
            grant_request=grant_request, customer=customer, staff=staff, request=request
        )
    return customer


@transaction.atomic
def grant_request_cancel(*, grant_request: GrantRequest, actor: User, request=None) -> bool:
    changed = GrantRequest.objects.filter(
        pk=grant_request.pk, state=GrantRequest.State.OPEN
    ).update(state=GrantRequest.State.CANCELLED, done_by=actor, done_at=timezone.now())
    if changed:
        audit(
            "grant_request.cancelled",
            request=request,
            actor=actor,
            customer=grant_request.grantor,
            summary=f"request for an administrator's customer number #{grant_request.pk} cancelled",
            grant_request=grant_request.pk,
        )
    return bool(changed)
