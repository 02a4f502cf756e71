"""Contacts of a customer: people with typed roles and no login (K1–K12).

A contact's ``email`` is always a *confirmed* address or empty: a new or changed address
waits in ``pending_email`` until its owner confirms it through the mailed link (K4, S10).
So every reader that uses ``email`` uses a confirmed address without further checks.
Contacts are never hard-deleted; deleting archives them (``archived_at``).
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, User
from portal.choices import choice_labels

# K4: a pending address must be confirmed within 7 days.
CONFIRMATION_DAYS = 7

# The contacts who may be listed in the access overview (issue 7): possibly authorised
# (K10), the primary contact (K11) or with a phone password (K8). A superset of the
# section's rows (the policy decides who is authorised now); the index of that section
# has it as its condition, so PostgreSQL reads only these contacts of a customer.
OVERVIEW_CONTACT_Q = (
    Q(is_authorised=True, is_domain=False) | Q(is_primary=True) | ~Q(phone_password_hash="")
)


class Category(models.TextChoices):
    """What a notification is about; the routing function picks recipients by it (K5)."""

    INVOICES = "invoices", _("invoices and payment reminders")
    ORDERS = "orders", _("orders and access data")
    SUPPORT = "support", _("support")
    SECURITY = "security", _("security notices")
    MAINTENANCE = "maintenance", _("maintenance announcements")
    OUTAGES = "outages", _("outage reports")


# The contact's switch that narrows each category (K5). Security notices and maintenance
# announcements share one switch, as the seed lists them ("security and maintenance").
CATEGORY_SWITCHES: dict[str, str] = {
    Category.INVOICES: "notify_invoices",
    Category.ORDERS: "notify_orders",
    Category.SUPPORT: "notify_support",
    Category.SECURITY: "notify_security",
    Category.MAINTENANCE: "notify_security",
    Category.OUTAGES: "notify_outages",
}


class ContactType(models.TextChoices):
    """The roles of K2; a contact has several. Owner and signatory only describe the person."""

    STANDARD = "standard", _("standard")
    ACCOUNTING = "accounting", _("accounting")
    TECHNICAL = "technical", _("technical")
    DOMAIN = "domain", _("domain")
    MONITORING = "monitoring", _("monitoring")
    OWNER = "owner", _("owner")
    SIGNATORY = "signatory", _("authorised signatory")


# Each type is a boolean column, so that routing and K3 are plain indexed filters.
TYPE_FIELDS: dict[str, str] = {
    ContactType.STANDARD: "is_standard",
    ContactType.ACCOUNTING: "is_accounting",
    ContactType.TECHNICAL: "is_technical",
    ContactType.DOMAIN: "is_domain",
    ContactType.MONITORING: "is_monitoring",
    ContactType.OWNER: "is_owner",
    ContactType.SIGNATORY: "is_signatory",
}
# Types a domain contact may carry besides "domain": those that only describe the person.
DESCRIPTIVE_TYPES = (ContactType.OWNER, ContactType.SIGNATORY)


def digits_of(phone: str) -> str:
    """The digits of a phone number, with a leading 00 read as +, for look-ups (K8)."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    return digits


class ContactQuerySet(models.QuerySet):
    def active(self):
        """Contacts that are not archived."""
        return self.filter(archived_at__isnull=True)

    def archived(self):
        """Deleted contacts: archived, never removed."""
        return self.filter(archived_at__isnull=False)

    def for_customer(self, customer):
        return self.filter(customer=customer)

    def confirmed(self):
        """Contacts with a confirmed address (``email`` is only ever a confirmed one)."""
        return self.exclude(email="")

    def authorised(self, at=None):
        """Authorised now (K10); a time-limited authorisation (K12) ends by itself."""
        at = at or timezone.now()
        return self.filter(is_authorised=True).filter(
            Q(authorised_until__isnull=True) | Q(authorised_until__gt=at)
        )

    def not_domain(self):
        return self.filter(is_domain=False)


class Contact(models.Model):
    """A person (or a department) recorded for one customer, with typed roles (K1, K2)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(
        _("confirmed e-mail address"),
        blank=True,
        db_index=True,
        help_text=_("Only ever an address its owner confirmed (K4)."),
    )
    email_confirmed_at = models.DateTimeField(_("address confirmed"), null=True, blank=True)
    pending_email = models.EmailField(_("pending e-mail address"), blank=True)
    pending_requested_at = models.DateTimeField(_("confirmation requested"), null=True, blank=True)
    # A hash of the random part of the current confirmation link: a new link (or a
    # changed, cancelled or confirmed address) voids the old one (S10).
    pending_nonce_hash = models.CharField(max_length=64, blank=True, editable=False)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    phone_digits = models.CharField(max_length=40, blank=True, db_index=True, editable=False)
    language = models.CharField(
        _("language for mail"), max_length=8, choices=settings.LANGUAGES, default="en"
    )

    is_standard = models.BooleanField(_("standard"), default=False)
    is_accounting = models.BooleanField(_("accounting"), default=False)
    is_technical = models.BooleanField(_("technical"), default=False)
    is_domain = models.BooleanField(_("domain"), default=False)
    is_monitoring = models.BooleanField(_("monitoring"), default=False)
    is_owner = models.BooleanField(_("owner"), default=False)
    is_signatory = models.BooleanField(_("authorised signatory"), default=False)

    notify_invoices = models.BooleanField(_("invoices and payment reminders"), default=True)
    notify_orders = models.BooleanField(_("orders and access data"), default=True)
    notify_support = models.BooleanField(_("support"), default=True)
    notify_security = models.BooleanField(_("security and maintenance"), default=True)
    notify_outages = models.BooleanField(_("outages"), default=True)

    invoice_by_mail = models.BooleanField(_("send invoices by e-mail"), default=False)

    is_authorised = models.BooleanField(
        _("authorised to instruct"),
        default=False,
        help_text=_("May instruct the provider without limit (weisungsberechtigt)."),
    )
    authorised_until = models.DateTimeField(
        _("authorised until"),
        null=True,
        blank=True,
        help_text=_("Set for a time-limited authorisation from a register extract (K12)."),
    )
    is_primary = models.BooleanField(_("primary contact"), default=False)

    phone_password_hash = models.CharField(max_length=128, blank=True, editable=False)
    restrictions = models.TextField(
        _("restrictions for phone orders"),
        blank=True,
        help_text=_('What this person may not order by phone, e.g. "server reboots only".'),
    )

    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)
    archived_at = models.DateTimeField(_("deleted"), null=True, blank=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "name", "pk"]
        constraints = [
            # K11: at most one primary contact per customer; the services keep "at least
            # one" by moving the mark in one transaction and refusing to archive it.
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_primary=True),
                name="contact_one_primary_per_customer",
            ),
            models.CheckConstraint(
                condition=~Q(is_primary=True, archived_at__isnull=False),
                name="contact_primary_not_archived",
            ),
            # K7: invoices by mail only to standard or accounting contacts with a
            # confirmed address.
            models.CheckConstraint(
                condition=Q(invoice_by_mail=False)
                | (Q(is_standard=True) | Q(is_accounting=True)) & ~Q(email=""),
                name="contact_invoice_by_mail_eligible",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "archived_at"]),
            # Orders an index serves, so that a page of a customer with thousands of
            # contacts reads its rows instead of sorting them all (make bench): the
            # contacts page, and the invoice's Attn. line (accounting contacts first).
            models.Index(
                F("customer"),
                F("is_primary").desc(),
                F("name"),
                name="contact_list_order",
                condition=Q(archived_at__isnull=True),
            ),
            models.Index(
                F("customer"),
                F("is_accounting").desc(),
                F("is_primary").desc(),
                F("name"),
                F("id"),
                name="contact_attention_order",
                condition=Q(archived_at__isnull=True)
                & (Q(is_standard=True) | Q(is_accounting=True)),
            ),
            # The access overview (issue 7): its contacts section, counted and paged in
            # its order (K8, K10, K11), and the authorised contacts it asks about for
            # every member (K10, H3). Of a customer's 2,000 contacts it read all to find
            # the 131 that instruct or order (make bench).
            models.Index(
                F("customer"),
                F("is_primary").desc(),
                F("name"),
                F("id"),
                name="contact_overview_order",
                condition=Q(archived_at__isnull=True) & OVERVIEW_CONTACT_Q,
            ),
            models.Index(
                F("customer"),
                name="contact_authorised",
                condition=Q(archived_at__isnull=True, is_authorised=True, is_domain=False),
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.email:
            self.email = self.email.strip().lower()
        if self.pending_email:
            self.pending_email = self.pending_email.strip().lower()
        self.phone_digits = digits_of(self.phone)
        if not any(getattr(self, f) for f in TYPE_FIELDS.values()):
            raise ValidationError({"types": _("Choose at least one type.")})
        if self.is_domain:
            others = [
                t
                for t, f in TYPE_FIELDS.items()
                if getattr(self, f) and t != ContactType.DOMAIN and t not in DESCRIPTIVE_TYPES
            ]
            if others:
                raise ValidationError(
                    {
                        "types": _(
                            "A domain contact is used for domain registration only and gets "
                            "no notifications (K5): add the person a second time as a "
                            "standard, accounting or technical contact instead."
                        )
                    }
                )
            if self.is_authorised:
                raise ValidationError(
                    {"is_authorised": _("Domain contacts cannot instruct the provider.")}
                )
        if self.invoice_by_mail and not self.may_get_invoices_by_mail:
            raise ValidationError(
                {
                    "invoice_by_mail": _(
                        "Invoices by e-mail can be switched on only for standard and "
                        "accounting contacts with a confirmed address (K7)."
                    )
                }
            )

    # --- roles -----------------------------------------------------------------------

    @property
    def types(self) -> list[str]:
        return [t for t, f in TYPE_FIELDS.items() if getattr(self, f)]

    def type_labels(self) -> list[str]:
        labels = choice_labels(ContactType)  # translated once per language (make bench)
        return [labels[t] for t in self.types]

    def set_types(self, types) -> None:
        chosen = set(types)
        for t, f in TYPE_FIELDS.items():
            setattr(self, f, t in chosen)

    def wants(self, category: str) -> bool:
        return bool(getattr(self, CATEGORY_SWITCHES[category]))

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def is_authorised_now(self, at=None) -> bool:
        """K10, K12: a time-limited authorisation is over at its end, whatever a job did."""
        at = at or timezone.now()
        return self.is_authorised and (self.authorised_until is None or self.authorised_until > at)

    @property
    def may_get_invoices_by_mail(self) -> bool:
        """K7: standard or accounting, with a confirmed address."""
        return bool((self.is_standard or self.is_accounting) and self.email)

    @property
    def has_phone_password(self) -> bool:
        return bool(self.phone_password_hash)

    # --- pending address (K4) ---------------------------------------------------------

    def pending_expires_at(self):
        if not self.pending_requested_at:
            return None
        return self.pending_requested_at + timedelta(days=CONFIRMATION_DAYS)

    def has_live_pending(self, at=None) -> bool:
        """A pending address that can still be confirmed; expiry is checked on read."""
        at = at or timezone.now()
        return bool(self.pending_email and self.pending_requested_at) and (
            self.pending_expires_at() > at
        )


class ContactSettings(models.Model):
    """Per-customer choices about contacts that are not a contact's own (K6)."""

    customer = models.OneToOneField(
        Customer, on_delete=models.PROTECT, related_name="contact_settings"
    )
    list_contacts_on_invoice = models.BooleanField(
        _("name contacts on invoices"),
        default=True,
        help_text=_(
            'Lists the standard contacts "Attn." on the invoice address, or the accounting '
            "contacts if there are any."
        ),
    )

    class Meta:
        verbose_name = _("contact settings")
        verbose_name_plural = _("contact settings")

    def __str__(self):
        return f"contact settings of {self.customer_id}"


def _extract_path(instance, filename: str) -> str:
    # Random stored name; the uploaded name is kept only as text (S24).
    suffix = Path(filename).suffix.lower()[:8]
    return f"register-extracts/{secrets.token_hex(16)}{suffix}"


class RegisterExtract(models.Model):
    """K12: a commercial or association register extract naming the managing director or
    board chair, uploaded when a customer has no authorised contact left. Staff verify it
    and make the named person authorised for a limited time."""

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("waiting for staff")
        VERIFIED = "verified", _("verified")
        REJECTED = "rejected", _("rejected")

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="register_extracts"
    )
    file = models.FileField(_("register extract"), upload_to=_extract_path)
    original_name = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=60, blank=True)
    person_name = models.CharField(_("managing director or board chair"), max_length=200)
    person_email = models.EmailField(_("their e-mail address"))
    person_phone = models.CharField(_("their phone"), max_length=40, blank=True)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.SUBMITTED, db_index=True
    )
    uploaded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="register_extracts"
    )
    authorised_until = models.DateTimeField(_("authorised until"), null=True, blank=True)
    staff_note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("register extract")
        verbose_name_plural = _("register extracts")
        ordering = ["-uploaded_at"]

    def __str__(self):
        return f"{self.person_name} ({self.get_state_display()})"
