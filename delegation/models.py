"""Grants: a customer delegates chosen hosting accounts to another customer (D1–D7)."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, HostingAccount, User


class GrantQuerySet(models.QuerySet):
    def live(self, at=None):
        """Grants that give access right now: approved and not past their end (D6)."""
        at = at or timezone.now()
        return self.filter(state=Grant.State.ACTIVE).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=at)
        )


class Grant(models.Model):
    """A delegation of chosen hosting accounts from a grantor to an agency."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        ACTIVE = "active", _("active")
        EXPIRED = "expired", _("expired")
        REVOKED = "revoked", _("revoked")
        HANDED_BACK = "handed_back", _("handed back")

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
    key_prefix = models.CharField(max_length=8, blank=True)
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
        ]

    def __str__(self):
        return f"#{self.pk} {self.grantor.display_number} → {self.agency.display_number}"

    def is_live(self, at=None) -> bool:
        at = at or timezone.now()
        return self.state == self.State.ACTIVE and (self.ends_at is None or self.ends_at > at)
