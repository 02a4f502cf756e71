"""Contract data: contracts, invoices and payment data of a customer.

The grantor's alone: a delegate never sees any of it (seed 000, S3). Only users whose
membership allows "view and pay invoices" reach it (U3), through the policy.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, HostingAccount
from portal.choices import ChoiceLabels
from portal.links import reverse  # rows of lists link to these (make bench)

# Every model and field that holds contract data, for the S3 test that puts marker
# strings into each of them and looks for the markers on every page a delegate reaches.
CONTRACT_DATA_FIELDS = {
    "billing.Contract": ["number", "product", "notice_period"],
    "billing.Invoice": ["number"],
    "billing.InvoiceLine": ["description"],
    "billing.PaymentMethod": ["account_holder", "reference", "mandate_reference"],
}


class Contract(ChoiceLabels, models.Model):
    """A product contract of a customer, optionally for one hosting account."""

    class Period(models.TextChoices):
        MONTHLY = "monthly", _("monthly")
        YEARLY = "yearly", _("yearly")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="contracts"
    )
    number = models.CharField(_("contract number"), max_length=40, unique=True)
    product = models.CharField(_("product"), max_length=200)
    hosting_account = models.ForeignKey(
        HostingAccount,
        verbose_name=_("hosting account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="contracts",
    )
    starts_on = models.DateField(_("start"))
    ends_on = models.DateField(_("end"), null=True, blank=True)
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    period = models.CharField(
        _("billing period"), max_length=10, choices=Period.choices, default=Period.MONTHLY
    )
    notice_period = models.CharField(_("notice period"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")
        ordering = ["-starts_on", "number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gt=F("starts_on")),
                name="contract_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["customer", "-starts_on"])]

    def __str__(self):
        return f"{self.number} {self.product}"

    def get_absolute_url(self):
        return reverse(
            "accounts:contract_detail",
            kwargs={"customer": self.customer.number, "contract": self.pk},
        )

    def clean(self):
        super().clean()
        if self.hosting_account_id and self.hosting_account.customer_id != self.customer_id:
            raise ValidationError(
                {"hosting_account": _("The hosting account belongs to another customer.")}
            )

    def is_running(self, on=None) -> bool:
        on = on or timezone.localdate()
        return self.starts_on <= on and (self.ends_on is None or self.ends_on > on)


class Invoice(ChoiceLabels, models.Model):
    """An invoice to a customer. A collective invoice (C4) of a main account carries lines
    for its sub-accounts' customer numbers."""

    class State(models.TextChoices):
        OPEN = "open", _("open")
        PAID = "paid", _("paid")
        CANCELLED = "cancelled", _("cancelled")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="invoices"
    )
    number = models.CharField(_("invoice number"), max_length=40, unique=True)
    issued_on = models.DateField(_("date"))
    due_on = models.DateField(_("due"))
    period_start = models.DateField(_("period from"), null=True, blank=True)
    period_end = models.DateField(_("period to"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal(0))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.OPEN, db_index=True
    )
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    is_collective = models.BooleanField(_("collective invoice"), default=False)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_on__gte=F("issued_on")), name="invoice_due_not_before_issue"
            ),
            models.CheckConstraint(
                condition=Q(period_end__isnull=True)
                | Q(period_start__isnull=True)
                | Q(period_end__gte=F("period_start")),
                name="invoice_period_in_order",
            ),
        ]
        indexes = [models.Index(fields=["customer", "-issued_on"])]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse(
            "accounts:invoice_detail",
            kwargs={"customer": self.customer.number, "invoice": self.pk},
        )

    def is_overdue(self, on=None) -> bool:
        return self.state == self.State.OPEN and self.due_on < (on or timezone.localdate())


class InvoiceLine(models.Model):
    """One line of an invoice, for one customer number (the invoice's own customer, or on a
    collective invoice one of its sub-accounts)."""

    invoice = models.ForeignKey(
        Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE, related_name="lines"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    contract = models.ForeignKey(
        Contract,
        verbose_name=_("contract"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    description = models.CharField(_("description"), max_length=300)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2, default=1)
    unit_price = models.DecimalField(_("unit price"), max_digits=10, decimal_places=2)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["invoice", "customer", "id"]

    def __str__(self):
        return self.description


class PaymentMethod(models.Model):
    """How a customer pays. Only a masked reference is kept, never a full account or card
    number."""

    class Kind(models.TextChoices):
        SEPA_DEBIT = "sepa_debit", _("SEPA direct debit")
        BANK_TRANSFER = "bank_transfer", _("bank transfer")
        CARD = "card", _("credit card")

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="payment_method",
    )
    kind = models.CharField(_("payment method"), max_length=20, choices=Kind.choices)
    account_holder = models.CharField(_("account holder"), max_length=200, blank=True)
    reference = models.CharField(
        _("account"), max_length=40, blank=True, help_text=_("Masked, e.g. DE89 **** 3000.")
    )
    mandate_reference = models.CharField(_("mandate reference"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("payment method")
        verbose_name_plural = _("payment methods")

    def __str__(self):
        return f"{self.get_kind_display()} {self.reference}".strip()
