"""Writes for contacts. Every change is audited (S27); rules that refuse a change raise
``ContactRuleError`` with a message that says what to do instead (K3, K10, K11).

``actor`` is the user acting in the portal. Rules that need an *authorised* person
(K10, K11) ask ``selectors.is_authorised_user``; staff working in the admin pass
``by_staff=True``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from accounts.audit import audit
from accounts.models import AuditEvent, Customer, User, hash_secret
from contacts import selectors, tokens
from contacts.models import (
    CATEGORY_SWITCHES,
    TYPE_FIELDS,
    Contact,
    ContactSettings,
    ContactType,
    RegisterExtract,
)
from portal import mail

NOTIFY_FIELDS = tuple(sorted(set(CATEGORY_SWITCHES.values())))
# Fields a portal form may set directly; the address, authorisation and primary mark go
# through their own rules below.
PLAIN_FIELDS = ("name", "phone", "language", "restrictions", "invoice_by_mail", *NOTIFY_FIELDS)

# K8: wrong phone-password answers per contact before checks pause.
PHONE_PASSWORD_TRIES = 5
PHONE_PASSWORD_WINDOW = timedelta(hours=1)
# K12: how long staff make a person named in a register extract authorised by default.
REGISTER_AUTHORISATION_DAYS = 30


class ContactRuleError(ValidationError):
    """A change that a contact rule refuses; the message tells the person what to do."""


def _refuse(message: str, field: str | None = None):
    raise ContactRuleError({field: message} if field else message)


def _require_authorised(actor: User | None, customer: Customer, by_staff: bool, message: str):
    if by_staff:
        return
    if actor is None or not selectors.is_authorised_user(actor, customer):
        _refuse(message)


def _msg_not_authorised() -> str:
    return _(
        "Only authorised people can name authorised contacts or change them. Ask one of "
        "your authorised contacts or a manager to do it."
    )


def _other_active_standard_exists(contact: Contact) -> bool:
    return (
        Contact.objects.active()
        .filter(customer_id=contact.customer_id, is_standard=True)
        .exclude(pk=contact.pk)
        .exists()
    )


def _changed_fields(before: dict, after: Contact) -> list[str]:
    return sorted(k for k, v in before.items() if getattr(after, k) != v)


def _snapshot(contact: Contact, fields) -> dict:
    return {f: getattr(contact, f) for f in fields}


# --- confirmation mail (K4, S10) ----------------------------------------------------


def _start_confirmation(contact: Contact, email: str, now) -> str:
    """Put ``email`` beside the current address as pending, with a new link (voiding any
    earlier one). Returns the token for the mail; it is never stored or logged."""
    nonce = tokens.new_nonce()
    contact.pending_email = email
    contact.pending_requested_at = now
    contact.pending_nonce_hash = hash_secret(nonce)
    return tokens.make(contact.pk, email, nonce)


def confirmation_url(token: str) -> str:
    # The token goes in the fragment: never sent to the server, never in its logs (S11).
    return settings.PORTAL_BASE_URL + reverse("contacts:email_confirm") + "#" + token


def _send_confirmation(contact: Contact, token: str) -> None:
    expires = timezone.localtime(contact.pending_expires_at())
    mail.queue(
        kind="contact_email_confirm",
        to=[contact.pending_email],
        template="contacts/mail/confirm_email",
        context={
            "contact": contact,
            "customer": contact.customer,
            "link": confirmation_url(token),
            "code": token,
            "expires": formats.date_format(expires, "DATETIME_FORMAT"),
        },
        language=contact.language,
    )


def _clear_pending(contact: Contact) -> None:
    contact.pending_email = ""
    contact.pending_requested_at = None
    contact.pending_nonce_hash = ""


# --- create, change, archive --------------------------------------------------------


@transaction.atomic
def contact_create(
    *,
    customer: Customer,
    actor: User | None,
    request=None,
    name: str,
    types,
    email: str = "",
    is_authorised: bool = False,
    email_confirmed: bool = False,
    by_staff: bool = False,
    **fields,
) -> Contact:
    """Record a contact (K1). A given address is pending until its owner confirms it
    through a mailed link (K4) — unless staff or sign-up already confirmed it
    (``email_confirmed``). The customer's first contact becomes its primary one (K11)."""
    now = timezone.now()
    contact = Contact(customer=customer, name=name, created_at=now, updated_at=now)
    contact.set_types(types)
    for key, value in fields.items():
        if key not in PLAIN_FIELDS:
            raise TypeError(f"contact_create() got an unexpected field {key!r}")
        setattr(contact, key, value)
    if ContactType.STANDARD not in types and not selectors.standard_contact_count(customer):
        _refuse(
            _(
                "A customer always needs a standard contact (K3). Make this contact a "
                "standard contact too, or add a standard contact first."
            ),
            "types",
        )
    if is_authorised:
        _require_authorised(actor, customer, by_staff, _msg_not_authorised())
        contact.is_authorised = True
    email = (email or "").strip().lower()
    if email and email_confirmed:
        contact.email = email
        contact.email_confirmed_at = now
    contact.is_primary = not Contact.objects.filter(customer=customer, is_primary=True).exists()
    if contact.is_primary and (contact.is_domain or contact.is_archived):
        contact.is_primary = False
    contact.full_clean()
    contact.save()
    token = None
    if email and not email_confirmed:
        token = _start_confirmation(contact, email, now)
        contact.full_clean()
        contact.save(update_fields=["pending_email", "pending_requested_at", "pending_nonce_hash"])
    audit(
        "contact.created",
        request=request,
        actor=actor,
        customer=customer,
        summary=_("Contact %(name)s added (%(types)s)")
        % {"name": contact.name, "types": ", ".join(contact.types)},
        contact_id=contact.pk,
        types=contact.types,
        authorised=contact.is_authorised,
        primary=contact.is_primary,
        pending_email=contact.pending_email,
    )
    if token:
        _send_confirmation(contact, token)
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    actor: User | None,
    request=None,
    types=None,
    email: str | None = None,
    is_authorised: bool | None = None,
    by_staff: bool = False,
    **fields,
) -> Contact:
    """Change a contact. Refused, with a message and nothing changed:
    taking the standard type from the last standard contact (K3); naming or un-naming an
    authorised contact, or changing an authorised contact's address, by someone who is not
    authorised (K10). A new address waits as pending until confirmed (K4); the old one
    stays in use meanwhile. Removing the address takes effect at once."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    customer = contact.customer
    if contact.is_archived:
        _refuse(_("This contact was deleted."))
    now = timezone.now()
    tracked = (*PLAIN_FIELDS, *TYPE_FIELDS.values(), "is_authorised", "email", "pending_email")
    before = _snapshot(contact, tracked)

    if types is not None:
        if (
            contact.is_standard
            and ContactType.STANDARD not in types
            and not _other_active_standard_exists(contact)
        ):
            _refuse(
                _(
                    "This is your last standard contact, and a customer always needs one "
                    "(K3). Add another standard contact first, then take the type away here."
                ),
                "types",
            )
        contact.set_types(types)
        if contact.is_primary and contact.is_domain:
            _refuse(_("The primary contact cannot be a domain contact."), "types")

    for key, value in fields.items():
        if key not in PLAIN_FIELDS:
            raise TypeError(f"contact_update() got an unexpected field {key!r}")
        setattr(contact, key, value)

    if is_authorised is not None and is_authorised != contact.is_authorised_now(now):
        _require_authorised(actor, customer, by_staff, _msg_not_authorised())
        contact.is_authorised = is_authorised
        contact.authorised_until = None

    token = None
    if email is not None:
        email = email.strip().lower()
        if email != contact.email and contact.is_authorised_now(now):
            # Otherwise anyone managing contacts could put their own address on an
            # authorised contact and become authorised (K10).
            _require_authorised(
                actor,
                customer,
                by_staff,
                _(
                    "Only authorised people can change an authorised contact's e-mail "
                    "address. Ask one of your authorised contacts or a manager."
                ),
            )
        if not email:
            contact.email = ""
            contact.email_confirmed_at = None
            contact.invoice_by_mail = False
            _clear_pending(contact)
        elif email == contact.email:
            _clear_pending(contact)  # back to the current address: nothing to confirm
        elif email == contact.pending_email and contact.has_live_pending(now):
            pass  # already waiting for confirmation; the link mailed earlier still works
        else:
            token = _start_confirmation(contact, email, now)

    if contact.invoice_by_mail and not contact.may_get_invoices_by_mail:
        _refuse(
            _(
                "Invoices by e-mail can be switched on only for standard and accounting "
                "contacts with a confirmed address (K7)."
            ),
            "invoice_by_mail",
        )
    contact.updated_at = now
    contact.full_clean()
    contact.save()
    changed = _changed_fields(before, contact)
    if changed:
        audit(
            "contact.changed",
            request=request,
            actor=actor,
            customer=customer,
            summary=_("Contact %(name)s changed: %(fields)s")
            % {"name": contact.name, "fields": ", ".join(changed)},
            contact_id=contact.pk,
            fields=changed,
            types=contact.types,
            authorised=contact.is_authorised,
            pending_email=contact.pending_email,
        )
    if "is_authorised" in changed:
        audit(
            "contact.authorised" if contact.is_authorised else "contact.unauthorised",
            request=request,
            actor=actor,
            customer=customer,
            summary=contact.name,
            contact_id=contact.pk,
        )
    if token:
        _send_confirmation(contact, token)
    return contact


@transaction.atomic
def contact_archive(
    *,
    contact: Contact,
    actor: User | None,
    request=None,
    successor: Contact | None = None,
    by_staff: bool = False,
) -> Contact:
    """Delete a contact from the customer's point of view: it is archived, never removed,
    so its history and tickets keep pointing at it. Refused: the last standard contact
    (K3); the primary contact without a successor, or with one named by someone not
    authorised (K11); an authorised contact by someone not authorised (K10)."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    customer = contact.customer
    if contact.is_archived:
        return contact
    if contact.is_standard and not _other_active_standard_exists(contact):
        _refuse(
            _(
                "This is your last standard contact, and a customer always needs one (K3). "
                "Edit this contact instead, or add another standard contact first and then "
                "delete this one."
            )
        )
    if contact.is_authorised_now():
        _require_authorised(
            actor,
            customer,
            by_staff,
            _(
                "Only authorised people can delete an authorised contact. Ask one of your "
                "authorised contacts or a manager."
            ),
        )
    if contact.is_primary:
        if successor is None:
            _refuse(
                _(
                    "This is your primary contact (K11). Name a successor below; it becomes "
                    "the primary contact when this one is deleted."
                ),
                "successor",
            )
        if successor.pk == contact.pk:
            _refuse(_("Choose another contact as the successor."), "successor")
        contact_make_primary(contact=successor, actor=actor, request=request, by_staff=by_staff)
        contact.refresh_from_db()
    now = timezone.now()
    _clear_pending(contact)  # voids an open confirmation link (S10)
    contact.archived_at = now
    contact.updated_at = now
    contact.invoice_by_mail = False
    contact.save()
    audit(
        "contact.deleted",
        request=request,
        actor=actor,
        customer=customer,
        summary=_("Contact %(name)s deleted") % {"name": contact.name},
        contact_id=contact.pk,
        successor_id=successor.pk if successor else None,
    )
    return contact


@transaction.atomic
def contact_restore(
    *, contact: Contact, actor: User | None, request=None, by_staff: bool = False
) -> Contact:
    """Bring a deleted (archived) contact back, with its types, switches, confirmed address
    and phone password as they were. It does not become the primary contact again (K11:
    that moved to its successor). An authorised contact comes back authorised only by an
    authorised person's hand (K10), as if it were named anew."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if not contact.is_archived:
        return contact
    if contact.is_authorised_now():
        _require_authorised(
            actor,
            contact.customer,
            by_staff,
            _(
                "Only authorised people can restore an authorised contact. Ask one of your "
                "authorised contacts or a manager."
            ),
        )
    contact.archived_at = None
    contact.updated_at = timezone.now()
    contact.save(update_fields=["archived_at", "updated_at"])
    audit(
        "contact.restored",
        request=request,
        actor=actor,
        customer=contact.customer,
        summary=_("Contact %(name)s restored") % {"name": contact.name},
        contact_id=contact.pk,
    )
    return contact


@transaction.atomic
def contact_make_primary(
    *, contact: Contact, actor: User | None, request=None, by_staff: bool = False
) -> Contact:
    """Make ``contact`` the customer's one primary contact (K11): only an authorised person
    changes it; the mark moves in one transaction, so there is never none and never two."""
    customer = contact.customer
    _require_authorised(
        actor,
        customer,
        by_staff,
        _(
            "Only authorised people can change the primary contact (K11). Ask one of your "
            "authorised contacts or a manager."
        ),
    )
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.customer_id != customer.pk or contact.is_archived:
        _refuse(_("Choose one of this customer's contacts."), "successor")
    if contact.is_domain:
        _refuse(_("A domain contact cannot be the primary contact."), "successor")
    if contact.is_primary:
        return contact
    previous = (
        Contact.objects.select_for_update()
        .filter(customer=customer, is_primary=True)
        .exclude(pk=contact.pk)
        .first()
    )
    now = timezone.now()
    if previous is not None:
        Contact.objects.filter(pk=previous.pk).update(is_primary=False, updated_at=now)
    Contact.objects.filter(pk=contact.pk).update(is_primary=True, updated_at=now)
    contact.is_primary = True
    audit(
        "contact.primary",
        request=request,
        actor=actor,
        customer=customer,
        summary=_("%(name)s is now the primary contact") % {"name": contact.name},
        contact_id=contact.pk,
        previous_id=previous.pk if previous else None,
    )
    return contact


@transaction.atomic
def contact_pending_cancel(*, contact: Contact, actor: User | None, request=None) -> Contact:
    """Cancel a pending address (K4); its link stops working."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if not contact.pending_email:
        return contact
    pending = contact.pending_email
    _clear_pending(contact)
    contact.updated_at = timezone.now()
    contact.save()
    audit(
        "contact.pending_cancelled",
        request=request,
        actor=actor,
        customer=contact.customer,
        summary=_("Pending address of %(name)s cancelled") % {"name": contact.name},
        contact_id=contact.pk,
        pending_email=pending,
    )
    return contact


@transaction.atomic
def contact_confirmation_resend(*, contact: Contact, actor: User | None, request=None) -> Contact:
    """A new link for the pending address, with 7 new days; earlier links stop working."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if not contact.pending_email or contact.is_archived:
        return contact
    token = _start_confirmation(contact, contact.pending_email, timezone.now())
    contact.save()
    audit(
        "contact.confirmation_sent",
        request=request,
        actor=actor,
        customer=contact.customer,
        summary=contact.name,
        contact_id=contact.pk,
        pending_email=contact.pending_email,
    )
    _send_confirmation(contact, token)
    return contact


@transaction.atomic
def contact_email_confirm(*, token: str, request=None) -> Contact | None:
    """Confirm a pending address with the link's token (K4, S10): within 7 days, once, and
    only for the address the link was made for. None for every kind of failure alike."""
    data = tokens.read(token)
    if data is None:
        return None
    contact = (
        Contact.objects.select_for_update()
        .select_related("customer")
        .filter(pk=data["c"], archived_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if contact is None or not contact.pending_nonce_hash or not contact.has_live_pending(now):
        return None
    if not hmac.compare_digest(contact.pending_nonce_hash, hash_secret(data["n"])):
        return None
    if not hmac.compare_digest(tokens.address_digest(contact.pending_email), str(data["e"])):
        return None
    address = contact.pending_email
    # Conditional update: of two parallel confirmations only one succeeds (single use).
    done = Contact.objects.filter(
        pk=contact.pk, pending_nonce_hash=contact.pending_nonce_hash, pending_email=address
    ).update(
        email=address,
        email_confirmed_at=now,
        pending_email="",
        pending_requested_at=None,
        pending_nonce_hash="",
        updated_at=now,
    )
    if not done:
        return None
    contact.refresh_from_db()
    audit(
        "contact.email_confirmed",
        request=request,
        actor=None,
        customer=contact.customer,
        summary=_("%(name)s confirmed %(email)s") % {"name": contact.name, "email": address},
        contact_id=contact.pk,
        email=address,
    )
    return contact


# --- settings (K6) ------------------------------------------------------------------


@transaction.atomic
def contact_settings_update(
    *, customer: Customer, actor: User | None, request=None, list_contacts_on_invoice: bool
) -> ContactSettings:
    """K6: whether contacts are named on the invoice address at all."""
    obj, _created = ContactSettings.objects.select_for_update().get_or_create(customer=customer)
    if obj.list_contacts_on_invoice != list_contacts_on_invoice:
        obj.list_contacts_on_invoice = list_contacts_on_invoice
        obj.save()
        audit(
            "contact.invoice_naming",
            request=request,
            actor=actor,
            customer=customer,
            summary=_("Contacts on invoices: %(state)s")
            % {"state": _("named") if list_contacts_on_invoice else _("not named")},
            list_contacts_on_invoice=list_contacts_on_invoice,
        )
    return obj


# --- phone password (K8) ------------------------------------------------------------


@transaction.atomic
def contact_phone_password_set(
    *, contact: Contact, password: str, actor: User | None, request=None
) -> None:
    """Store a phone password, as a hash only (K8)."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    had = contact.has_phone_password
    contact.phone_password_hash = make_password(password)
    contact.updated_at = timezone.now()
    contact.save(update_fields=["phone_password_hash", "updated_at"])
    audit(
        "contact.phone_password_changed" if had else "contact.phone_password_set",
        request=request,
        actor=actor,
        customer=contact.customer,
        summary=_("Phone password of %(name)s set") % {"name": contact.name},
        contact_id=contact.pk,
    )


@transaction.atomic
def contact_phone_password_clear(*, contact: Contact, actor: User | None, request=None) -> None:
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if not contact.has_phone_password:
        return
    contact.phone_password_hash = ""
    contact.updated_at = timezone.now()
    contact.save(update_fields=["phone_password_hash", "updated_at"])
    audit(
        "contact.phone_password_cleared",
        request=request,
        actor=actor,
        customer=contact.customer,
        summary=_("Phone password of %(name)s removed") % {"name": contact.name},
        contact_id=contact.pk,
    )


@dataclass(frozen=True)
class PhoneCheck:
    """What staff see after checking a caller's answer: yes/no, never the password."""

    result: str  # "match", "no_match", "locked", "none_set"
    restrictions: str
    tries_left: int

    @property
    def matches(self) -> bool:
        return self.result == "match"


def _wrong_tries(contact: Contact, now) -> int:
    return AuditEvent.objects.filter(
        action="contact.phone_password_wrong",
        customer_id=contact.customer_id,
        data__contact_id=contact.pk,
        at__gte=now - PHONE_PASSWORD_WINDOW,
    ).count()


def phone_password_check(*, contact: Contact, answer: str, staff: User, request=None) -> PhoneCheck:
    """Staff check what a caller said against the stored hash (K8). After
    ``PHONE_PASSWORD_TRIES`` wrong answers within an hour the check pauses for that
    contact; every try is in the audit trail (the answer never is)."""
    now = timezone.now()
    restrictions = contact.restrictions
    if not contact.has_phone_password:
        return PhoneCheck("none_set", restrictions, 0)
    wrong = _wrong_tries(contact, now)
    if wrong >= PHONE_PASSWORD_TRIES:
        audit(
            "contact.phone_password_locked",
            request=request,
            actor=staff,
            customer=contact.customer,
            summary=contact.name,
            contact_id=contact.pk,
        )
        return PhoneCheck("locked", restrictions, 0)
    if check_password(answer or "", contact.phone_password_hash):
        audit(
            "contact.phone_password_ok",
            request=request,
            actor=staff,
            customer=contact.customer,
            summary=contact.name,
            contact_id=contact.pk,
        )
        return PhoneCheck("match", restrictions, PHONE_PASSWORD_TRIES - wrong)
    audit(
        "contact.phone_password_wrong",
        request=request,
        actor=staff,
        customer=contact.customer,
        summary=contact.name,
        contact_id=contact.pk,
    )
    return PhoneCheck("no_match", restrictions, max(0, PHONE_PASSWORD_TRIES - wrong - 1))


# --- sign-up (K10, K11) -------------------------------------------------------------


@transaction.atomic
def contacts_for_new_customer(
    *,
    customer: Customer,
    commercial: dict,
    technical: dict | None = None,
    actor: User | None = None,
    request=None,
    confirmed: bool = False,
) -> list[Contact]:
    """The contacts named in a new customer's order: the commercial contact (standard) and
    the technical contact, both authorised (K10); the technical one is the primary contact
    (K11), the commercial one if there is no technical one. Each dict holds ``name`` and
    optionally ``email``, ``phone``, ``language``."""
    created = []
    commercial_contact = contact_create(
        customer=customer,
        actor=actor,
        request=request,
        types=[ContactType.STANDARD],
        is_authorised=True,
        email_confirmed=confirmed,
        by_staff=True,
        **commercial,
    )
    created.append(commercial_contact)
    if technical:
        technical_contact = contact_create(
            customer=customer,
            actor=actor,
            request=request,
            types=[ContactType.TECHNICAL],
            is_authorised=True,
            email_confirmed=confirmed,
            by_staff=True,
            **technical,
        )
        contact_make_primary(contact=technical_contact, actor=actor, request=request, by_staff=True)
        created.append(technical_contact)
    for contact in created:
        contact.refresh_from_db()
    return created


# --- register extracts (K12) --------------------------------------------------------


@transaction.atomic
def register_extract_submit(
    *,
    customer: Customer,
    actor: User,
    request=None,
    file,
    content_type: str,
    person_name: str,
    person_email: str,
    person_phone: str = "",
) -> RegisterExtract:
    """K12: the customer uploads a register extract naming its managing director or board
    chair, for staff to verify."""
    extract = RegisterExtract(
        customer=customer,
        file=file,
        original_name=(getattr(file, "name", "") or "")[:200],
        content_type=content_type,
        person_name=person_name,
        person_email=person_email.strip().lower(),
        person_phone=person_phone,
        uploaded_by=actor,
    )
    extract.full_clean()
    extract.save()
    audit(
        "contact.register_extract_uploaded",
        request=request,
        actor=actor,
        customer=customer,
        summary=_("Register extract naming %(name)s uploaded") % {"name": person_name},
        extract_id=extract.pk,
    )
    return extract


@transaction.atomic
def register_extract_verify(
    *, extract: RegisterExtract, staff: User, request=None, days: int = REGISTER_AUTHORISATION_DAYS
) -> Contact:
    """K12: staff verified the extract; the named person becomes authorised for ``days``,
    to name new contacts. An existing contact with that confirmed address is used, else a
    new signatory contact is added whose address still needs confirming (K4)."""
    extract = RegisterExtract.objects.select_for_update().get(pk=extract.pk)
    if extract.state != RegisterExtract.State.SUBMITTED:
        _refuse(_("This register extract was already decided."))
    now = timezone.now()
    until = now + timedelta(days=days)
    customer = extract.customer
    contact = (
        Contact.objects.active()
        .not_domain()
        .filter(customer=customer, email__iexact=extract.person_email)
        .first()
    )
    if contact is None:
        types = [ContactType.SIGNATORY]
        if not selectors.standard_contact_count(customer):
            types.append(ContactType.STANDARD)
        contact = contact_create(
            customer=customer,
            actor=staff,
            request=request,
            name=extract.person_name,
            email=extract.person_email,
            phone=extract.person_phone,
            types=types,
            by_staff=True,
        )
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if not (contact.is_authorised and contact.authorised_until is None):
        contact.is_authorised = True
        contact.authorised_until = until
        contact.updated_at = now
        contact.save(update_fields=["is_authorised", "authorised_until", "updated_at"])
    extract.state = RegisterExtract.State.VERIFIED
    extract.decided_by = staff
    extract.decided_at = now
    extract.contact = contact
    extract.authorised_until = contact.authorised_until
    extract.save()
    audit(
        "contact.authorised",
        request=request,
        actor=staff,
        customer=customer,
        summary=_("%(name)s authorised until %(until)s from a register extract")
        % {
            "name": contact.name,
            "until": formats.date_format(timezone.localtime(until), "DATE_FORMAT"),
        },
        contact_id=contact.pk,
        extract_id=extract.pk,
        until=until.isoformat(),
    )
    return contact


@transaction.atomic
def register_extract_reject(
    *, extract: RegisterExtract, staff: User, request=None, note: str = ""
) -> RegisterExtract:
    extract = RegisterExtract.objects.select_for_update().get(pk=extract.pk)
    if extract.state != RegisterExtract.State.SUBMITTED:
        _refuse(_("This register extract was already decided."))
    extract.state = RegisterExtract.State.REJECTED
    extract.decided_by = staff
    extract.decided_at = timezone.now()
    extract.staff_note = note[:300]
    extract.save()
    audit(
        "contact.register_extract_rejected",
        request=request,
        actor=staff,
        customer=extract.customer,
        summary=note[:200],
        extract_id=extract.pk,
    )
    return extract


# --- jobs ---------------------------------------------------------------------------


def pending_addresses_clear_expired(now=None) -> int:
    """K4: clear pending addresses whose 7 days are over. One conditional UPDATE, so two
    workers running it at once clear each row once."""
    from contacts.models import CONFIRMATION_DAYS

    now = now or timezone.now()
    cutoff = now - timedelta(days=CONFIRMATION_DAYS)
    return (
        Contact.objects.exclude(pending_email="")
        .filter(pending_requested_at__lte=cutoff)
        .update(pending_email="", pending_requested_at=None, pending_nonce_hash="")
    )


def authorisations_end_expired(now=None) -> int:
    """K12: end time-limited authorisations that are over. Access already ended at the
    time itself (checked on read); this marks the row and records it. Each row is claimed
    with a conditional UPDATE, so a second worker finds nothing to do."""
    now = now or timezone.now()
    ended = 0
    due = Contact.objects.filter(is_authorised=True, authorised_until__lte=now).values_list(
        "pk", "customer_id", "name"
    )
    for pk, customer_id, name in list(due):
        claimed = Contact.objects.filter(
            pk=pk, is_authorised=True, authorised_until__lte=now
        ).update(is_authorised=False, updated_at=now)
        if claimed:
            ended += 1
            audit(
                "contact.authorisation_ended",
                customer=Customer.objects.get(pk=customer_id),
                summary=_("Time-limited authorisation of %(name)s ended") % {"name": name},
                contact_id=pk,
            )
    return ended
