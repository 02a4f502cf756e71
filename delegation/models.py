"""Grants: a customer delegates chosen hosting accounts to another customer (D1–D7).

- ``Grant``: the delegation itself, with its grant key stored only as prefix + keyed hash
  (S7) and its end time (D2, D6).
- ``GrantEvent``: the grant's history that both sides read (D7); wrong-key events double
  as the counter that limits key guessing per user and address (S8).
- ``GrantRequest``: a grantor asks support to create a customer number for an
  administrator who is not a customer yet (seed 000, U5).
"""

from datetime import timedelta

from django.db import models
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, HostingAccount, User
from portal.choices import ChoiceLabels, choice_labels

KEY_VALID_FOR = timedelta(days=14)
REMIND_BEFORE = timedelta(days=7)


def live_q(at) -> Q:
    """Approved and not past the end (D6)."""
    return Q(state=Grant.State.ACTIVE) & (Q(ends_at__isnull=True) | Q(ends_at__gt=at))


def open_q(at) -> Q:
    """Pending with a usable key: not expired, not used, end not passed (D3)."""
    return (
        Q(state=Grant.State.PENDING, key_expires_at__gt=at)
        & ~Q(key_hash="")
        & (Q(ends_at__isnull=True) | Q(ends_at__gt=at))
    )


def key_dead_q(at) -> Q:
    """Pending, but the key can no longer be used (14 days passed, or the end did)."""
    return Q(state=Grant.State.PENDING) & (
        Q(key_expires_at__lte=at)
        | Q(key_expires_at__isnull=True)
        | Q(key_hash="")
        | Q(ends_at__lte=at)
    )


def reminder_q(at) -> Q:
    """Live, ending within a week, not reminded yet, and approved more than a week before
    its end (a grant made for three days gets no "one week left" the moment it starts)."""
    return live_q(at) & Q(
        reminded_at__isnull=True,
        ends_at__lte=at + REMIND_BEFORE,
        approved_at__lte=F("ends_at") - REMIND_BEFORE,
    )


class GrantQuerySet(models.QuerySet):
    def live(self, at=None):
        """Grants that give access right now: approved and not past their end (D6)."""
        return self.filter(live_q(at or timezone.now()))

    def open(self, at=None):
        """Grants that may still be approved: pending with a usable key (D3)."""
        return self.filter(open_q(at or timezone.now()))

    def given_by(self, customer):
        return self.filter(grantor=customer)

    def addressed_to(self, customer):
        return self.filter(agency=customer)

    def due_to_expire(self, at=None):
        """Approved grants past their end time that the job has not marked yet (D6)."""
        return self.filter(state=Grant.State.ACTIVE, ends_at__lte=at or timezone.now())

    def keys_due_to_expire(self, at=None):
        """Pending grants whose key can no longer be used (D3)."""
        return self.filter(key_dead_q(at or timezone.now()))

    def due_for_reminder(self, at=None):
        return self.filter(reminder_q(at or timezone.now()))


def pending_first():
    """0 for a pending grant, 1 for any other: an agency's list of grants shows the ones
    waiting for it first. The same expression is in the index that serves that order."""
    return Case(When(state="pending", then=Value(0)), default=Value(1), output_field=IntegerField())


class Grant(models.Model):
    """A delegation of chosen hosting accounts from a grantor to an agency."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        ACTIVE = "active", _("active")
        EXPIRED = "expired", _("expired")
        REVOKED = "revoked", _("revoked")
        HANDED_BACK = "handed_back", _("handed back")

    ENDED_STATES = (State.EXPIRED, State.REVOKED, State.HANDED_BACK)

    grantor = models.ForeignKey(
        Customer, verbose_name=_("grantor"), on_delete=models.PROTECT, related_name="grants_given"
    )
    agency = models.ForeignKey(
        Customer,
        verbose_name=_("technical administrator"),
        on_delete=models.PROTECT,
        related_name="grants_received",
    )
    accounts = models.ManyToManyField(
        HostingAccount, verbose_name=_("hosting accounts"), related_name="grants"
    )
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.PENDING, db_index=True
    )
    # The key itself is never stored (S7): a short prefix to recognise it by, and a keyed
    # hash (accounts.models.hash_secret) that is emptied once the key is used or dead.
    key_prefix = models.CharField(_("key begins with"), max_length=8, blank=True)
    key_hash = models.CharField(max_length=64, blank=True)
    key_expires_at = models.DateTimeField(_("key expires"), null=True, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    ended_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Set by the one job run that sends the reminder a week before the end (D6).
    reminded_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)

    objects = GrantQuerySet.as_manager()

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(grantor=F("agency")), name="grant_not_to_self"),
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=F("created_at")),
                name="grant_ends_after_creation",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "state", "ends_at"]),
            models.Index(fields=["grantor", "state"]),
            # The agency's list (delegation.selectors.grants_received) in its own order:
            # a page is 25 index entries, not a sort of all 6,000 grants (make bench).
            models.Index(
                F("agency"),
                pending_first(),
                F("created_at").desc(),
                F("id").desc(),
                name="grant_agency_list",
            ),
            # The grantor's live grants in the access overview's order (issue 7, D4): a
            # page checks the pairs of its own grants, not of all 270 (make bench). An
            # ascending index keeps NULLs last in PostgreSQL, which is the order's "no end
            # last"; SQLite (make run) refuses NULLS LAST in an index.
            models.Index(
                F("grantor"),
                F("ends_at"),
                F("id").desc(),
                name="grant_live_order",
                condition=Q(state="active"),
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.grantor.display_number} → {self.agency.display_number}"

    def is_live(self, at=None) -> bool:
        at = at or timezone.now()
        return self.state == self.State.ACTIVE and (self.ends_at is None or self.ends_at > at)

    def is_open(self, at=None) -> bool:
        """Pending and still approvable: the key has not expired, the end not passed."""
        at = at or timezone.now()
        return (
            self.state == self.State.PENDING
            and bool(self.key_hash)
            and self.key_expires_at is not None
            and self.key_expires_at > at
            and (self.ends_at is None or self.ends_at > at)
        )

    def effective_state(self, at=None) -> str:
        """The state as of now, even before the job has marked it (D6: a late job never
        shows a dead grant as active)."""
        at = at or timezone.now()
        if self.state == self.State.ACTIVE and not self.is_live(at):
            return self.State.EXPIRED
        if self.state == self.State.PENDING and not self.is_open(at):
            return self.State.EXPIRED
        return self.state

    def get_effective_state_display(self) -> str:
        return self.State(self.effective_state()).label

    @classmethod
    def state_labels(cls) -> dict[str, str]:
        """Each state's label in the active language, looked up once for a list of grants:
        ``state_labels()[grant.effective_state()]`` is ``get_effective_state_display()``."""
        return choice_labels(cls.State)

    @property
    def key_display_prefix(self) -> str:
        return f"{self.key_prefix}-…" if self.key_prefix else ""


class GrantEvent(ChoiceLabels, models.Model):
    """One entry of a grant's history (D7). Append-only; never holds the key."""

    class Kind(models.TextChoices):
        MADE = "made", _("grant made")
        KEY_MAILED = "key_mailed", _("key e-mailed to the administrator")
        APPROVED = "approved", _("approved with the key")
        WRONG_KEY = "wrong_key", _("wrong key tried")
        REVOKED = "revoked", _("revoked")
        HANDED_BACK = "handed_back", _("handed back")
        EXPIRED = "expired", _("expired")
        KEY_EXPIRED = "key_expired", _("key expired unused")
        REMINDER = "reminder", _("reminder sent: ends within a week")

    class Side(models.TextChoices):
        GRANTOR = "grantor", _("grantor")
        AGENCY = "agency", _("technical administrator")
        SYSTEM = "system", _("portal")

    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(_("event"), max_length=12, choices=Kind.choices)
    side = models.CharField(_("by"), max_length=8, choices=Side.choices)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    # Kept for limiting wrong keys per address (S8); never shown to the other side.
    ip = models.GenericIPAddressField(null=True, blank=True)
    note = models.CharField(_("details"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("grant event")
        verbose_name_plural = _("grant events")
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["grant", "at"]),
            models.Index(fields=["kind", "actor", "at"]),
            models.Index(fields=["kind", "ip", "at"]),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} grant #{self.grant_id} {self.kind}"


class GrantRequest(models.Model):
    """A grantor asks support to create a customer number for its technical administrator,
    who is not a customer yet (seed 000). Staff create the customer and login (U5); the
    grantor is told the new number and then makes the grant as usual."""

    class State(models.TextChoices):
        OPEN = "open", _("waiting for support")
        DONE = "done", _("customer number created")
        CANCELLED = "cancelled", _("cancelled")

    grantor = models.ForeignKey(
        Customer,
        verbose_name=_("grantor"),
        on_delete=models.PROTECT,
        related_name="grant_requests",
    )
    requested_by = models.ForeignKey(
        User, verbose_name=_("asked by"), on_delete=models.PROTECT, related_name="+"
    )
    company = models.CharField(_("company"), max_length=200)
    first_name = models.CharField(_("first name"), max_length=150)
    last_name = models.CharField(_("last name"), max_length=150)
    # The postal address as the users issue's newcomer service takes it (U5).
    street = models.CharField(_("street and number"), max_length=200)
    postal_code = models.CharField(_("postal code"), max_length=20)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=100)
    phone = models.CharField(_("phone"), max_length=50)
    email = models.EmailField(_("e-mail address"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.OPEN, db_index=True
    )
    created_at = models.DateTimeField(_("asked"), default=timezone.now)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_customer = models.ForeignKey(
        Customer,
        verbose_name=_("new customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("request for an administrator's customer number")
        verbose_name_plural = _("requests for administrators' customer numbers")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="done") | Q(created_customer__isnull=False),
                name="grantrequest_done_has_customer",
            ),
        ]

    def __str__(self):
        return f"{self.company} ({self.first_name} {self.last_name}) for {self.grantor_id}"


class DelegatedAccount(models.Model):
    """The agency dashboard's list of delegated hosting accounts in its order (customer
    name, account name), kept by the database (migration ``0004``): one row per agency
    and hosting account that an approved grant delegates, the account still the grantor's
    and the agency's guardian group holding the manage permission on it, with the
    longest-running such grant and its end. Nothing in Python writes it.

    It is an index for the list, not a source of truth: ``portal.policy`` still checks
    the end time and the grant, owner and guardian row of every listed account on every
    request (make bench: sorting the 5,000 live grants' accounts by customer name took
    25–40 ms of PostgreSQL per view)."""

    agency = models.ForeignKey(
        Customer,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # delegated_account_order leads with it
        related_name="+",
    )
    account = models.ForeignKey(
        HostingAccount,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="delegated_rows",
    )
    grant = models.ForeignKey(
        Grant, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    ends_at = models.DateTimeField(null=True)
    customer_name = models.CharField(max_length=200)
    account_name = models.CharField(max_length=253)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "account"], name="delegated_account_once"),
        ]
        indexes = [
            # The page: the agency's rows in the list's order, walked until 25 pass the
            # checks; the count: the same entries with their end (index only).
            models.Index(
                fields=["agency", "customer_name", "account_name", "account"],
                include=["ends_at"],
                name="delegated_account_order",
            ),
        ]

    def __str__(self):
        return f"{self.account_name} → {self.agency_id}"
