"""Main and sub-accounts: order, link with the other owner's consent, collective invoice
(C1–C4)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit
from accounts.models import Customer, Membership, SubAccountLinkRequest, User
from accounts.services.core import customer_create
from accounts.services.members import lock_customer
from portal import mail

# --- main and sub-accounts (C1–C4) ---------------------------------------------------


def _c1_refusal(main: Customer, sub: Customer) -> str | None:
    """Why ``sub`` cannot become a sub-account of ``main`` (C1), or None."""
    if main.pk == sub.pk:
        return "self"
    if main.parent_id is not None:
        return "main_is_sub"
    if sub.parent_id is not None:
        return "already_sub"
    if Customer.objects.filter(parent=sub).exists():
        return "has_subs"
    return None


@transaction.atomic
def sub_account_order(
    *,
    main: Customer,
    name: str,
    email: str = "",
    on_collective_invoice: bool = False,
    by: User,
    request=None,
) -> Customer:
    """Order a new sub-account: a new customer linked to ``main`` at once (C2). The person
    who ordered it owns it and is its standard contact; the main account's users reach it
    through the link (C3)."""
    main = lock_customer(main)
    if main.parent_id is not None:
        raise ValidationError(_("A sub-account cannot have sub-accounts (C1)."), code="c1")
    sub = customer_create(
        name=name,
        email=email,
        parent=main,
        owner=by,
        on_collective_invoice=on_collective_invoice,
    )
    # The person who ordered it is its first standard contact (K3), with the address
    # they sign in with. Contacts build on accounts: imported here, not at the top.
    from contacts.services import contacts_for_new_customer

    contacts_for_new_customer(
        customer=sub,
        commercial={"name": by.get_full_name() or by.email, "email": by.email},
        actor=by,
        request=request,
        confirmed=True,
    )
    audit(
        "sub_account.ordered",
        request=request,
        actor=by,
        customer=main,
        summary=f"{sub.display_number} {sub.name}",
        sub=sub.pk,
    )
    audit(
        "sub_account.linked",
        request=request,
        actor=by,
        customer=sub,
        summary=f"sub-account of {main.display_number}",
        main=main.pk,
    )
    return sub


@transaction.atomic
def sub_account_link_request(
    *,
    main: Customer,
    number: int,
    on_collective_invoice: bool = False,
    by: User,
    request=None,
) -> SubAccountLinkRequest:
    """Ask the owners of customer ``number`` to become a sub-account of ``main`` (C2).
    Nothing is linked until one of them confirms. A number that does not exist and one that
    cannot be linked get the same answer."""
    main = lock_customer(main)
    sub = Customer.objects.filter(number=number).first()
    if sub is None or _c1_refusal(main, sub) is not None:
        raise ValidationError(
            _(
                "This customer number cannot be linked. Check the number: a customer that "
                "is already a sub-account, or has sub-accounts of its own, cannot become one "
                "(C1)."
            ),
            code="c1",
        )
    if SubAccountLinkRequest.objects.filter(
        main=main, sub=sub, state=SubAccountLinkRequest.State.PENDING
    ).exists():
        raise ValidationError(
            _("A request to link this customer is already waiting."), code="pending"
        )
    link = SubAccountLinkRequest(
        main=main, sub=sub, on_collective_invoice=on_collective_invoice, requested_by=by
    )
    link.full_clean()
    link.save()
    owners = Membership.objects.filter(
        customer=sub, is_owner=True, user__status=User.Status.ACTIVE
    ).select_related("user")
    for owner in owners:
        mail.queue(
            kind="sub_account_link_request",
            to=[owner.user.email],
            template="accounts/mail/link_request",
            context={
                "link": link,
                "main": main,
                "sub": sub,
                "url": settings.PORTAL_BASE_URL
                + reverse("accounts:sub_account_list", kwargs={"customer": sub.number}),
            },
            language=owner.user.language,
        )
    audit(
        "sub_account.link_requested",
        request=request,
        actor=by,
        customer=main,
        summary=sub.display_number,
        link_request=link.pk,
    )
    audit(
        "sub_account.link_requested",
        request=request,
        actor=by,
        customer=sub,
        summary=f"by {main.display_number} {main.name}",
        link_request=link.pk,
    )
    return link


@transaction.atomic
def sub_account_link_answer(
    *, link_request: SubAccountLinkRequest, confirm: bool, by: User, request=None
) -> SubAccountLinkRequest:
    """An owner of the customer to be linked confirms or declines (C2). Confirming links it
    at once, if C1 still allows it; other waiting requests for it are then cancelled."""
    # Lock both customers in a fixed order, then the request itself.
    for pk in sorted((link_request.main_id, link_request.sub_id)):
        Customer.objects.select_for_update().get(pk=pk)
    link = (
        SubAccountLinkRequest.objects.select_for_update()
        .select_related("main", "sub")
        .get(pk=link_request.pk)
    )
    if link.state != SubAccountLinkRequest.State.PENDING:
        raise ValidationError(_("This request has already been answered."), code="state")
    now = timezone.now()
    if confirm:
        if _c1_refusal(link.main, link.sub) is not None:
            raise ValidationError(
                _("This customer can no longer be linked as a sub-account (C1)."), code="c1"
            )
        sub = link.sub
        sub.parent = link.main
        sub.on_collective_invoice = link.on_collective_invoice
        sub.full_clean()
        sub.save(update_fields=["parent", "on_collective_invoice"])
        link.state = SubAccountLinkRequest.State.CONFIRMED
        SubAccountLinkRequest.objects.filter(
            sub=sub, state=SubAccountLinkRequest.State.PENDING
        ).exclude(pk=link.pk).update(state=SubAccountLinkRequest.State.CANCELLED, decided_at=now)
    else:
        link.state = SubAccountLinkRequest.State.DECLINED
    link.decided_by = by
    link.decided_at = now
    link.save(update_fields=["state", "decided_by", "decided_at"])
    action = "sub_account.linked" if confirm else "sub_account.link_declined"
    for customer, other in ((link.sub, link.main), (link.main, link.sub)):
        audit(
            action,
            request=request,
            actor=by,
            customer=customer,
            summary=f"{link.sub.display_number} → {link.main.display_number}",
            link_request=link.pk,
            other=other.pk,
        )
    mail.queue(
        kind="sub_account_link_answer",
        to=[link.requested_by.email],
        template="accounts/mail/link_answer",
        context={"link": link, "confirmed": confirm},
        language=link.requested_by.language,
    )
    return link


@transaction.atomic
def sub_account_link_cancel(*, link_request: SubAccountLinkRequest, by: User, request=None) -> None:
    """The main account withdraws a request that is still waiting."""
    cancelled = SubAccountLinkRequest.objects.filter(
        pk=link_request.pk, state=SubAccountLinkRequest.State.PENDING
    ).update(state=SubAccountLinkRequest.State.CANCELLED, decided_by=by, decided_at=timezone.now())
    if not cancelled:
        raise ValidationError(_("This request has already been answered."), code="state")
    audit(
        "sub_account.link_cancelled",
        request=request,
        actor=by,
        customer=link_request.main,
        summary=link_request.sub.display_number,
        link_request=link_request.pk,
    )


@transaction.atomic
def sub_account_set_collective_invoice(
    *, sub: Customer, on: bool, by: User, request=None
) -> Customer:
    """Put a sub-account on its main account's collective invoice, or take it off (C4)."""
    sub = lock_customer(sub)
    if sub.parent_id is None:
        raise ValidationError(
            _("Only a sub-account can be on a collective invoice (C4)."), code="c4"
        )
    if sub.on_collective_invoice != on:
        sub.on_collective_invoice = on
        sub.full_clean()
        sub.save(update_fields=["on_collective_invoice"])
        for customer in (sub.parent, sub):
            audit(
                "sub_account.collective_invoice_on" if on else "sub_account.collective_invoice_off",
                request=request,
                actor=by,
                customer=customer,
                summary=f"{sub.display_number} on {sub.parent.display_number}",
                sub=sub.pk,
            )
    return sub
