"""Tickets, their conversation and attachments, and every message the mail intake saw.

A ticket belongs to the organisation (customer) it was opened for, never to the person
who opened it: when someone leaves, their tickets stay with the organisation (U4).
Who may see which ticket is decided by portal/policy.py ("Tickets"), nowhere else.
"""

import secrets
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, HostingAccount, User
from portal.choices import ChoiceLabels
from portal.links import reverse  # rows of lists link to these (make bench)

REPLY_TOKEN_SALT = "helpdesk.ticket-reply-token"  # noqa: S105 - a salt, not a secret


def _new_token_seed() -> str:
    return secrets.token_urlsafe(16)


class TicketQuerySet(models.QuerySet):
    def for_list(self):
        """What a ticket list row shows, in one query."""
        return self.select_related("customer", "account", "requester")

    def open(self):
        return self.exclude(status=Ticket.Status.CLOSED)


class Ticket(ChoiceLabels, models.Model):
    """One topic a customer raised with support (H1), by web or by mail (H2)."""

    class Status(models.TextChoices):
        NEW = "new", _("new")
        OPEN = "open", _("in progress")
        WAITING = "waiting", _("waiting for your reply")
        CLOSED = "closed", _("closed")

    class Source(models.TextChoices):
        WEB = "web", _("portal")
        MAIL = "mail", _("e-mail")
        STAFF = "staff", _("staff")

    number = models.PositiveBigIntegerField(_("ticket number"), unique=True, editable=False)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
        help_text=_("Empty while the sender is not known to belong to a customer (H2)."),
    )
    account = models.ForeignKey(
        HostingAccount,
        verbose_name=_("hosting account or server"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    # The agency whose technical administrator opened the ticket about a granted account (D5).
    agency = models.ForeignKey(
        Customer,
        verbose_name=_("opened through technical administrator"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets_opened_as_agency",
    )
    requester = models.ForeignKey(
        User,
        verbose_name=_("requester"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets_requested",
    )
    requester_email = models.EmailField(_("requester e-mail"), db_index=True)
    subject = models.CharField(_("subject"), max_length=200)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.NEW
    )
    source = models.CharField(_("opened by"), max_length=8, choices=Source.choices)
    assignee = models.ForeignKey(
        User,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tickets_assigned",
        limit_choices_to={"is_staff": True},
    )
    # Seed of the reply token (S22); changing it voids every token mailed so far.
    token_seed = models.CharField(max_length=32, default=_new_token_seed, editable=False)
    created_at = models.DateTimeField(_("opened"), default=timezone.now)
    updated_at = models.DateTimeField(_("last activity"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-updated_at", "-id"]
        indexes = [
            # The staff changelist and the portal lists: newest activity first, filtered
            # by status, customer or assignee (H4, fast at a million tickets).
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated"),
            models.Index(fields=["status", "-updated_at"], name="ticket_status_updated"),
            models.Index(fields=["customer", "-updated_at"], name="ticket_customer_updated"),
            # A customer's open tickets in the list's order, the managers' default list
            # (H3): its capped count reads the index alone, its page no sort (make bench:
            # 0.5 ms of PostgreSQL for the count, reading 1,668 tickets for 1,001 open).
            models.Index(
                fields=["customer", "-updated_at", "-id"],
                condition=~Q(status="closed"),
                name="ticket_customer_open",
            ),
            models.Index(
                fields=["assignee", "status", "-updated_at"], name="ticket_assignee_updated"
            ),
            models.Index(fields=["requester", "-updated_at"], name="ticket_requester_updated"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(agency__isnull=True) | Q(account__isnull=False),
                name="ticket_agency_needs_account",
            ),
        ]

    def __str__(self):
        return f"{self.display_number} {self.subject}"

    def get_absolute_url(self):
        return reverse(
            "helpdesk:ticket_detail",
            kwargs={"customer": self.customer.number, "ticket": self.pk},
        )

    @property
    def display_number(self) -> str:
        return f"T-{self.number}"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED

    def clean(self):
        super().clean()
        # A ticket's account is one of its customer's (S4), also when staff edit it.
        if self.account_id is not None:
            if self.customer_id is None or self.account.customer_id != self.customer_id:
                raise ValidationError(
                    {"account": _("The hosting account must belong to the ticket's customer.")}
                )

    def reply_token(self, secret: str | None = None) -> str:
        """The ticket's reply token (S22): who quotes it in a reply has received our mail
        about this ticket. Derived from SECRET_KEY and the ticket's seed; never stored."""
        return salted_hmac(
            REPLY_TOKEN_SALT,
            f"{self.number}:{self.token_seed}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()[:32]

    def check_reply_token(self, token: str) -> bool:
        """Constant-time check against the current key and the rotation fallbacks."""
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]:
            if constant_time_compare(self.reply_token(secret), token or ""):
                return True
        return False


class Participant(models.Model):
    """An address copied on a ticket (H2, H3). The requester is not listed here."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="participants")
    email = models.EmailField(_("e-mail address"))
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ticket_participations",
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("copied address")
        verbose_name_plural = _("copied addresses")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "email"], name="participant_unique"),
        ]
        indexes = [models.Index(fields=["email"])]

    def __str__(self):
        return self.email


class Message(ChoiceLabels, models.Model):
    """One entry of a ticket's conversation. Internal notes are for staff only (H4)."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("customer")
        STAFF = "staff", _("support")
        NOTE = "note", _("internal note")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    author = models.ForeignKey(
        User,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ticket_messages",
    )
    author_email = models.EmailField(_("author e-mail"), blank=True)
    body = models.TextField(_("text"))
    source = models.CharField(max_length=8, choices=Ticket.Source.choices)
    # Message-ID of the mail this message came in as or went out as, for threading (H2).
    message_id = models.CharField(max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(_("written"), default=timezone.now)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self):
        return f"{self.get_kind_display()}, {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_internal(self) -> bool:
        return self.kind == self.Kind.NOTE


def attachment_path(instance, filename) -> str:
    """A random name: the original file name is kept only in the database (S24)."""
    return f"helpdesk/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file on a message, stored under a random name and served only through an
    access-checked download (S24)."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=200)
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.filename


def inbound_path(instance, filename) -> str:
    return f"helpdesk/inbound/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.eml"


class InboundMail(models.Model):
    """Every message the mail intake received and what became of it (S19): a ticket, a
    reply, a quarantined message kept for staff, or a drop."""

    class Outcome(models.TextChoices):
        TICKET = "ticket", _("new ticket")
        REPLY = "reply", _("reply")
        QUARANTINED = "quarantined", _("quarantined")
        DROPPED = "dropped", _("dropped")

    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)
    source = models.CharField(_("via"), max_length=10)
    outcome = models.CharField(_("outcome"), max_length=12, choices=Outcome.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    sha256 = models.CharField(max_length=64, unique=True, null=True, blank=True)
    size = models.PositiveBigIntegerField(_("size"))
    message_id = models.CharField(max_length=255, blank=True)
    from_address = models.CharField(_("from"), max_length=254, blank=True, db_index=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    raw = models.FileField(_("original message"), upload_to=inbound_path, blank=True)
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_mails"
    )
    acknowledged = models.BooleanField(_("acknowledged"), default=False)

    class Meta:
        verbose_name = _("inbound mail")
        verbose_name_plural = _("inbound mail")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["outcome", "-received_at"]),
            models.Index(fields=["from_address", "acknowledged", "received_at"]),
        ]

    def __str__(self):
        return f"{self.received_at:%Y-%m-%d %H:%M} {self.from_address} {self.get_outcome_display()}"
