"""Writing the audit trail (S27). Never pass a token or password in ``summary`` or ``data``."""

from __future__ import annotations

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
