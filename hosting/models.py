"""What people manage on their hosting accounts (A1–A4).

- ``Zone``, ``DnsRecord``: the DNS records the portal keeps for a domain (A1) and the PTR
  records of servers in shared reverse zones (A3). The portal's rows are the truth;
  PowerDNS is brought in line with them.
- ``DnsChange``: one change to one RRset (name + type) waiting to be pushed to PowerDNS,
  with its state (pending, applied, failed, not pushed).
- ``ChangeRequest``: a package setting, upgrade or reboot that staff carry out (A2, A3).
- ``AccountEvent``: the account's history — who changed what, and through which access
  (membership, main account, grant) (A4).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, HostingAccount
from hosting import dns
from portal.choices import ChoiceLabels


class Zone(models.Model):
    """A zone on the DNS server: a domain's own zone, or a reverse zone that the PTR
    records of several customers' servers share."""

    class Kind(models.TextChoices):
        FORWARD = "forward", _("domain")
        REVERSE = "reverse", _("reverse")

    name = models.CharField(_("zone"), max_length=255, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    account = models.OneToOneField(
        HostingAccount,
        verbose_name=_("domain"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="zone",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("DNS zone")
        verbose_name_plural = _("DNS zones")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="reverse", account__isnull=True)
                | Q(kind="forward", account__isnull=False),
                name="zone_forward_has_account",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def display_name(self) -> str:
        return self.name.rstrip(".")


class DnsRecordQuerySet(models.QuerySet):
    def rrset(self, zone, name: str, rtype: str):
        return self.filter(zone=zone, name=name, rtype=rtype)


class DnsRecord(models.Model):
    """One resource record. Records of one name and type form an RRset, which is what
    PowerDNS stores and what a push replaces as a whole; they share one TTL."""

    class Type(models.TextChoices):
        A = "A", "A"
        AAAA = "AAAA", "AAAA"
        CNAME = "CNAME", "CNAME"
        MX = "MX", "MX"
        TXT = "TXT", "TXT"
        SRV = "SRV", "SRV"
        CAA = "CAA", "CAA"
        PTR = "PTR", "PTR"

    # What customers add on a domain's zone page; PTR only through reverse DNS (A3).
    ZONE_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA")

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="records")
    account = models.ForeignKey(
        HostingAccount,
        verbose_name=_("hosting account"),
        on_delete=models.PROTECT,
        related_name="dns_records",
    )
    name = models.CharField(_("name"), max_length=255)
    rtype = models.CharField(_("type"), max_length=6, choices=Type.choices)
    ttl = models.PositiveIntegerField(_("TTL (seconds)"), default=dns.DEFAULT_TTL)
    priority = models.PositiveIntegerField(_("priority"), null=True, blank=True)
    weight = models.PositiveIntegerField(_("weight"), null=True, blank=True)
    port = models.PositiveIntegerField(_("port"), null=True, blank=True)
    flags = models.PositiveSmallIntegerField(_("flags"), null=True, blank=True)
    tag = models.CharField(_("tag"), max_length=16, blank=True)
    value = models.CharField(_("value"), max_length=dns.TXT_MAX_LENGTH)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("changed"), default=timezone.now)

    objects = DnsRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("DNS record")
        verbose_name_plural = _("DNS records")
        ordering = ["name", "rtype", "priority", "value"]
        indexes = [
            models.Index(fields=["zone", "name", "rtype"]),
            models.Index(fields=["account", "rtype"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ttl__gte=dns.MIN_TTL, ttl__lte=dns.MAX_TTL), name="dnsrecord_ttl_range"
            ),
            models.CheckConstraint(
                condition=Q(priority__isnull=True) | Q(priority__lte=65535),
                name="dnsrecord_priority_range",
            ),
            models.CheckConstraint(
                condition=Q(weight__isnull=True) | Q(weight__lte=65535),
                name="dnsrecord_weight_range",
            ),
            models.CheckConstraint(
                condition=Q(port__isnull=True) | Q(port__lte=65535), name="dnsrecord_port_range"
            ),
        ]

    def __str__(self):
        return f"{self.name} {self.ttl} IN {self.rtype} {self.content}"

    def clean(self):
        """The record on its own is well formed (A1); rules across records are checked in
        ``services`` where the zone is locked."""
        super().clean()
        errors = validate_record_fields(
            zone=self.zone.name,
            rtype=self.rtype,
            fields={
                "name": self.name,
                "ttl": self.ttl,
                "priority": self.priority,
                "weight": self.weight,
                "port": self.port,
                "flags": self.flags,
                "tag": self.tag,
                "value": self.value,
            },
            allow_ptr=self.zone.kind == Zone.Kind.REVERSE,
        )
        if isinstance(errors, ValidationError):
            raise errors
        for key, val in errors.items():
            setattr(self, key, val)

    @property
    def content(self) -> str:
        """The record's data in zone-file form, as PowerDNS takes it."""
        t = self.Type
        if self.rtype == t.MX:
            return f"{self.priority} {self.value}"
        if self.rtype == t.SRV:
            return f"{self.priority} {self.weight} {self.port} {self.value}"
        if self.rtype == t.TXT:
            return dns.txt_content(self.value)
        if self.rtype == t.CAA:
            return f'{self.flags} {self.tag} "{self.value}"'
        return self.value

    @property
    def short_name(self) -> str:
        return dns.relative(self.name, self.zone.name) if self.zone_id else self.name

    @property
    def display_value(self) -> str:
        """The data as the zone page shows it: relative targets stay full names."""
        t = self.Type
        if self.rtype == t.MX:
            return f"{self.priority} {self.value}"
        if self.rtype == t.SRV:
            return f"{self.priority} {self.weight} {self.port} {self.value}"
        if self.rtype == t.CAA:
            return f'{self.flags} {self.tag} "{self.value}"'
        return self.value


def validate_record_fields(*, zone: str, rtype: str, fields: dict, allow_ptr: bool = False):
    """Check and normalise one record's fields for ``zone``. Returns the cleaned fields, or
    a ``ValidationError`` whose dict names the field of each problem.

    Used by the record form (field-level messages) and by ``DnsRecord.clean`` (so that no
    caller can store a malformed record)."""
    T = DnsRecord.Type
    errors: dict[str, list] = {}
    out: dict = {}

    def check(field, func, *args, **kwargs):
        try:
            out[field] = func(*args, **kwargs)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)

    allowed = DnsRecord.ZONE_TYPES + (("PTR",) if allow_ptr else ())
    if rtype not in allowed:
        return ValidationError(
            {"rtype": _("Choose one of %(types)s.") % {"types": ", ".join(allowed)}}
        )

    if allow_ptr:
        out["name"] = fields["name"]
    else:
        check("name", dns.record_name, fields.get("name") or "", zone)
    name = out.get("name")
    ttl = fields.get("ttl")
    if ttl is None:
        out["ttl"] = dns.DEFAULT_TTL
    elif not dns.MIN_TTL <= int(ttl) <= dns.MAX_TTL:
        errors["ttl"] = [
            _("The TTL must be between %(min)d seconds and %(max)d seconds (one day).")
            % {"min": dns.MIN_TTL, "max": dns.MAX_TTL}
        ]
    else:
        out["ttl"] = int(ttl)

    def number(field, label, low=0, high=65535):
        raw = fields.get(field)
        if raw in (None, ""):
            errors.setdefault(field, []).append(
                _("Enter the %(label)s (%(low)d–%(high)d).")
                % {"label": label, "low": low, "high": high}
            )
            return
        if not low <= int(raw) <= high:
            errors.setdefault(field, []).append(
                _("The %(label)s must be between %(low)d and %(high)d.")
                % {"label": label, "low": low, "high": high}
            )
            return
        out[field] = int(raw)

    value = fields.get("value") or ""
    for field in ("priority", "weight", "port", "flags"):
        out[field] = None
    out["tag"] = ""
    if rtype == T.A:
        check("value", dns.ipv4, value)
    elif rtype == T.AAAA:
        check("value", dns.ipv6, value)
    elif rtype == T.CNAME:
        check("value", dns.target_name, value, zone)
        if name and name == zone:
            errors.setdefault("name", []).append(
                _(
                    "A CNAME cannot be at the zone's own name (@): other records (SOA, NS) "
                    "must live there. Use an A/AAAA record, or a CNAME on a name like www."
                )
            )
        if name and out.get("value") == name:
            errors.setdefault("value", []).append(_("A CNAME cannot point to itself."))
    elif rtype == T.MX:
        number("priority", _("priority"))
        check("value", dns.target_name, value, zone, allow_root=True)
    elif rtype == T.SRV:
        number("priority", _("priority"))
        number("weight", _("weight"))
        number("port", _("port"))
        check("value", dns.target_name, value, zone, allow_root=True)
        if name and not dns.srv_name_ok(name):
            errors.setdefault("name", []).append(
                _("SRV names start with the service and protocol, like _sip._tcp or _imaps._tcp.")
            )
    elif rtype == T.TXT:
        check("value", dns.txt_value, value)
    elif rtype == T.CAA:
        flags = fields.get("flags")
        if flags in (None, ""):
            flags = 0
        if int(flags) not in dns.CAA_FLAGS:
            errors.setdefault("flags", []).append(
                _(
                    "CAA flags are 0, or 128 (critical: CAs that do not understand the tag must refuse)."
                )
            )
        else:
            out["flags"] = int(flags)
        tag = (fields.get("tag") or "").strip().lower()
        if tag not in dns.CAA_TAGS:
            errors.setdefault("tag", []).append(_("Choose issue, issuewild or iodef."))
        else:
            out["tag"] = tag
            check("value", dns.caa_value, tag, value)
    elif rtype == T.PTR:
        check("value", dns.target_name, value, zone)
    if errors:
        return ValidationError(errors)
    return out


class AccountEvent(ChoiceLabels, models.Model):
    """One change to a hosting account: who made it and through which access (A4).

    Written by the services of this app, never changed afterwards. The access is what the
    policy said when the change was made (``request.access``)."""

    class Via(models.TextChoices):
        MEMBERSHIP = "membership", _("membership")
        MAIN_ACCOUNT = "main_account", _("main account")
        GRANT = "grant", _("grant")
        STAFF = "staff", _("provider staff")

    class Action(models.TextChoices):
        ZONE_SET_UP = "zone_set_up", _("DNS zone set up")
        RECORD_ADDED = "record_added", _("DNS record added")
        RECORD_CHANGED = "record_changed", _("DNS record changed")
        RECORD_REMOVED = "record_removed", _("DNS record removed")
        REVERSE_DNS_SET = "reverse_dns_set", _("reverse DNS set")
        REVERSE_DNS_REMOVED = "reverse_dns_removed", _("reverse DNS removed")
        PHP_REQUESTED = "php_requested", _("PHP version change requested")
        STORAGE_REQUESTED = "storage_requested", _("storage upgrade requested")
        REBOOT_REQUESTED = "reboot_requested", _("reboot requested")
        REQUEST_CANCELLED = "request_cancelled", _("request cancelled")
        REQUEST_DONE = "request_done", _("request carried out")
        REQUEST_REJECTED = "request_rejected", _("request declined")

    account = models.ForeignKey(
        HostingAccount,
        verbose_name=_("hosting account"),
        on_delete=models.PROTECT,
        related_name="events",
    )
    at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    via = models.CharField(_("access"), max_length=14, choices=Via.choices)
    via_customer = models.ForeignKey(
        Customer,
        verbose_name=_("acting for"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The customer whose membership gave the access (the agency for a grant)."),
    )
    grant = models.ForeignKey(
        "delegation.Grant",
        verbose_name=_("grant"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.CharField(_("access reason"), max_length=200, blank=True)
    action = models.CharField(_("what"), max_length=24, choices=Action.choices)
    summary = models.CharField(_("details"), max_length=500, blank=True)
    change_request = models.ForeignKey(
        "ChangeRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )

    class Meta:
        verbose_name = _("account history entry")
        verbose_name_plural = _("account history")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at", "-id"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.account} {self.action}"


class DnsChange(models.Model):
    """A change to one RRset waiting to reach PowerDNS (A1).

    A push sends the portal's current records of that name and type (REPLACE, or DELETE
    when none are left), so pushing twice or late does no harm (S26)."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        APPLIED = "applied", _("applied")
        FAILED = "failed", _("failed")
        NOT_PUSHED = "not_pushed", _("not pushed")

    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="changes")
    account = models.ForeignKey(
        HostingAccount, on_delete=models.PROTECT, related_name="dns_changes"
    )
    event = models.ForeignKey(
        AccountEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="dns_changes"
    )
    name = models.CharField(_("name"), max_length=255)
    rtype = models.CharField(_("type"), max_length=6, choices=DnsRecord.Type.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("made"), default=timezone.now)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)

    class Meta:
        verbose_name = _("DNS change")
        verbose_name_plural = _("DNS changes")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["zone", "name", "rtype", "-id"]),
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["account", "-id"]),
        ]

    def __str__(self):
        return f"{self.name} {self.rtype}: {self.state}"


class ChangeRequest(models.Model):
    """Something staff carry out by hand for want of a provisioning interface: a PHP
    version change or a storage upgrade of a package (A2), a server reboot (A3).

    It is the staff work list in the admin; ``services.change_request_create`` is the one
    place that makes them (the helpdesk turns them into tickets there)."""

    class Kind(models.TextChoices):
        PHP_VERSION = "php_version", _("PHP version change")
        STORAGE = "storage", _("storage upgrade")
        REBOOT = "reboot", _("server reboot")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("carried out")
        REJECTED = "rejected", _("declined")
        CANCELLED = "cancelled", _("cancelled")

    account = models.ForeignKey(
        HostingAccount,
        verbose_name=_("hosting account"),
        on_delete=models.PROTECT,
        related_name="change_requests",
    )
    kind = models.CharField(_("request"), max_length=12, choices=Kind.choices)
    value = models.CharField(_("requested"), max_length=40, blank=True)
    previous = models.CharField(_("before"), max_length=40, blank=True)
    note = models.TextField(_("note"), max_length=1000, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(_("requested at"), default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    staff_note = models.TextField(_("note to the customer"), max_length=1000, blank=True)

    class Meta:
        verbose_name = _("change request")
        verbose_name_plural = _("change requests (staff work list)")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind"],
                condition=Q(state="open"),
                name="changerequest_one_open_per_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["account", "state"]),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()} {self.account}"

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN

    @property
    def description(self) -> str:
        if self.kind == self.Kind.PHP_VERSION:
            return _("PHP %(old)s → %(new)s") % {"old": self.previous or "—", "new": self.value}
        if self.kind == self.Kind.STORAGE:
            return _("%(old)s GB → %(new)s GB") % {"old": self.previous or "—", "new": self.value}
        return str(self.get_kind_display())
