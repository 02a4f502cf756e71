"""The ground of the portal: customers, users, memberships and hosting accounts.

This module imports no other app of the project.
"""

import hashlib
import hmac
import re

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, Group, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin

from portal.choices import ChoiceLabels, choice_labels, per_language
from portal.links import reverse  # rows of lists link to these (make bench)

SERVER_NAME_RE = re.compile(r"^[a-z]{2}-\d{2}-srv-\d{4}$")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with a login. Users are never deleted (U4); their status says what they may do."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        UNVERIFIED = "unverified", _("unverified")
        INACTIVE = "inactive", _("inactive")

    email = models.EmailField(_("e-mail address"), unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    # Derived from status in the database itself, so Django's auth (which filters on
    # is_active) and the policy can never disagree with it (U6, S6).
    is_active = models.GeneratedField(
        expression=Q(status="active"),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    is_staff = models.BooleanField(_("staff status"), default=False)
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en"
    )
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)
    last_activity = models.DateTimeField(_("last activity"), null=True, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(models.functions.Lower("email"), name="user_email_ci_unique"),
        ]
        indexes = [
            # The staff among 50,000 users, in the order the admin's assignee filter lists
            # them: an index scan of a few rows instead of reading the table (make bench).
            models.Index(
                fields=["email"], condition=models.Q(is_staff=True), name="user_staff_email"
            ),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name or self.email


class NumberSequence(models.Model):
    """A counter that only ever goes up: customer numbers are never reused."""

    name = models.CharField(max_length=40, unique=True)
    last_value = models.PositiveBigIntegerField()

    def __str__(self):
        return f"{self.name}={self.last_value}"


class CustomerQuerySet(models.QuerySet):
    def main_accounts(self):
        return self.filter(parent__isnull=True)


class Customer(models.Model):
    """The tenant: a contract partner with a customer number.

    A customer may be a main account with sub-accounts, one level only (C1).
    """

    number = models.PositiveIntegerField(_("customer number"), unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("account e-mail"), blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("main account"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sub_accounts",
    )
    requires_two_factor = models.BooleanField(
        _("require two-factor sign-in for everyone acting for this customer"), default=False
    )
    # A sub-account whose charges go on its main account's collective invoice (C4).
    on_collective_invoice = models.BooleanField(
        _("on the main account's collective invoice"), default=False
    )
    # Postal address and phone of the contract partner (U5: what staff take for a newcomer).
    street = models.CharField(_("street and number"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=20, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=50, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["number"]
        indexes = [
            # A main account's sub-accounts in the orders the pages show them: the
            # account switcher (case-blind) and the sub-account list (make bench: a
            # thousand sub-accounts read for a page of 16 or 25).
            models.Index(F("parent"), Lower("name"), F("number"), name="customer_sub_switcher"),
            models.Index(fields=["parent", "name", "number"], name="customer_sub_list"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("id")), name="customer_not_own_parent"),
            # Only a sub-account can be on a main account's collective invoice (C4).
            models.CheckConstraint(
                condition=Q(on_collective_invoice=False) | Q(parent__isnull=False),
                name="customer_collective_invoice_needs_main",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.display_number})"

    def get_absolute_url(self):
        return reverse("portal:dashboard", kwargs={"customer": self.number})

    @property
    def display_number(self) -> str:
        return f"K-{self.number}"

    @property
    def is_sub_account(self) -> bool:
        return self.parent_id is not None

    def address_lines(self) -> list[str]:
        """The postal address as lines, empty lines left out."""
        town = " ".join(part for part in (self.postal_code, self.city) if part)
        return [line for line in (self.street, town, self.country) if line]

    @staticmethod
    def parse_number(text: str) -> int | None:
        """Read a customer number as people type it: ``K-100231``, ``k100231`` or ``100231``."""
        match = re.fullmatch(r"\s*[Kk]?-?\s*(\d{1,9})\s*", text or "")
        return int(match.group(1)) if match else None

    def clean(self):
        super().clean()
        if self.parent_id is not None:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": _("A customer cannot be its own main account.")})
            if self.parent.parent_id is not None:
                raise ValidationError(
                    {"parent": _("A sub-account cannot have sub-accounts of its own (C1).")}
                )
            if self.pk and self.sub_accounts.exists():
                raise ValidationError(
                    {"parent": _("A main account cannot become a sub-account (C1).")}
                )
        elif self.on_collective_invoice:
            raise ValidationError(
                {
                    "on_collective_invoice": _(
                        "Only a sub-account can be on a main account's collective invoice (C4)."
                    )
                }
            )


class CustomerGroup(models.Model):
    """The django-guardian group through which a customer holds object permissions."""

    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="group_link")
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="customer_link")

    def __str__(self):
        return str(self.group)


class PermissionSet(models.Model):
    """The permission set of U3 and the notification choices, each on or off.

    Shared by memberships and the invitations that become them.
    """

    PERMISSION_FIELDS = (
        "can_view_products",
        "can_change_dns",
        "can_view_invoices",
        "can_manage_contacts",
        "can_manage_users",
        "can_manage_delegations",
        "can_open_tickets",
        "can_see_all_tickets",
    )
    NOTIFICATION_FIELDS = ("notify_invoices", "notify_orders", "notify_support")

    is_owner = models.BooleanField(_("owner"), default=False)
    can_view_products = models.BooleanField(_("view products and services"), default=True)
    can_change_dns = models.BooleanField(_("change domain and DNS settings"), default=False)
    can_view_invoices = models.BooleanField(_("view and pay invoices"), default=False)
    can_manage_contacts = models.BooleanField(_("manage contacts"), default=False)
    can_manage_users = models.BooleanField(_("manage users"), default=False)
    can_manage_delegations = models.BooleanField(_("manage delegations"), default=False)
    can_open_tickets = models.BooleanField(_("open tickets"), default=True)
    can_see_all_tickets = models.BooleanField(
        _("see all of the organisation's tickets (manager)"), default=False
    )
    notify_invoices = models.BooleanField(_("invoices and payment reminders"), default=False)
    notify_orders = models.BooleanField(_("orders and access data"), default=False)
    notify_support = models.BooleanField(_("support"), default=True)

    class Meta:
        abstract = True

    @classmethod
    def choice_fields(cls) -> tuple[str, ...]:
        """Every field a permission form offers: owner, permissions, notifications."""
        return ("is_owner", *cls.PERMISSION_FIELDS, *cls.NOTIFICATION_FIELDS)

    def has_flag(self, field: str) -> bool:
        return self.is_owner or bool(getattr(self, field))

    def permission_values(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in self.choice_fields()}

    @classmethod
    def _labels(cls) -> dict[str, str]:
        """The label of each permission and notification in the active language, looked
        up once per process and language; under ``is_owner`` what an owner's permissions
        read."""
        return per_language(
            cls,
            lambda: {
                **{
                    name: str(cls._meta.get_field(name).verbose_name)
                    for name in (*cls.PERMISSION_FIELDS, *cls.NOTIFICATION_FIELDS)
                },
                "is_owner": str(_("owner (all permissions)")),
            },
        )

    def permission_labels(self) -> list[str]:
        labels = self._labels()
        if self.is_owner:
            return [labels["is_owner"]]
        return [labels[name] for name in self.PERMISSION_FIELDS if getattr(self, name)]

    def notification_labels(self) -> list[str]:
        labels = self._labels()
        return [labels[name] for name in self.NOTIFICATION_FIELDS if getattr(self, name)]


class Membership(PermissionSet):
    """A user's membership in a customer with the permission set of U3 (owner has all)."""

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="memberships")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="memberships")
    restricted_to_accounts = models.BooleanField(
        _("only chosen hosting accounts"),
        default=False,
        help_text=_("When on, product permissions apply only to the hosting accounts chosen."),
    )
    created_at = models.DateTimeField(_("since"), default=timezone.now)
    # The user's last name, first name and address, copied here so that one index serves
    # the users page's order (owners first, then by the person's name): a big customer's
    # page read and sorted all 1,000 members joined with their users for 25 (make bench).
    # The database keeps them (triggers of migration 0007, on every write to a membership's
    # user or a user's name, whatever makes it); code never sets them. Same types and
    # collation as the user's columns, so they sort exactly as those do.
    sort_last_name = models.CharField(max_length=150, default="", blank=True, editable=False)
    sort_first_name = models.CharField(max_length=150, default="", blank=True, editable=False)
    sort_email = models.CharField(max_length=254, default="", blank=True, editable=False)

    # The users page's order (accounts.selectors.members_of): the person's email is unique,
    # so there are no ties.
    LIST_ORDER = ("-is_owner", "sort_last_name", "sort_first_name", "sort_email")

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "customer"], name="membership_unique"),
        ]
        indexes = [
            models.Index(fields=["customer", "user"]),
            models.Index(
                fields=[
                    "customer",
                    "-is_owner",
                    "sort_last_name",
                    "sort_first_name",
                    "sort_email",
                ],
                name="membership_list_order",
            ),
        ]

    def __str__(self):
        return f"{self.user} @ {self.customer}"


class HostingAccountQuerySet(models.QuerySet):
    def for_customer(self, customer):
        return self.filter(customer=customer)


class HostingAccount(ChoiceLabels, models.Model):
    """One product of a customer: a webhosting package, a server or a domain. The unit of delegation."""

    class Kind(models.TextChoices):
        PACKAGE = "package", _("webhosting package")
        SERVER = "server", _("server")
        DOMAIN = "domain", _("domain")

    class Status(models.TextChoices):
        ACTIVE = "active", _("active")
        SUSPENDED = "suspended", _("suspended")
        CANCELLED = "cancelled", _("cancelled")

    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="hosting_accounts"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=253)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Package settings (A2)
    php_version = models.CharField(_("PHP version"), max_length=8, blank=True)
    storage_gb = models.PositiveIntegerField(_("storage (GB)"), null=True, blank=True)
    # Server addresses (A3)
    ipv4 = models.GenericIPAddressField(_("IPv4 address"), protocol="IPv4", null=True, blank=True)
    ipv6 = models.GenericIPAddressField(_("IPv6 address"), protocol="IPv6", null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = HostingAccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("hosting account")
        verbose_name_plural = _("hosting accounts")
        ordering = ["kind", "name"]
        permissions = [("manage_hostingaccount", "Can manage this hosting account")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "name"], name="hostingaccount_kind_name_unique"
            ),
        ]
        indexes = [models.Index(fields=["customer", "kind", "name"])]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse(
            "portal:account_detail",
            kwargs={"customer": self.customer.number, "account": self.pk},
        )

    def clean(self):
        super().clean()
        if self.kind == self.Kind.SERVER and not SERVER_NAME_RE.match(self.name or ""):
            raise ValidationError({"name": _("Server names look like de-01-srv-0042.")})


server_name_validator = RegexValidator(SERVER_NAME_RE, _("Server names look like de-01-srv-0042."))


class AuditEvent(models.Model):
    """An append-only record of who did what, for which customer, when and from where (S27).

    Never holds a token or a password.
    """

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    action = models.CharField(_("what"), max_length=64, db_index=True)
    summary = models.CharField(_("details"), max_length=500, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request"), max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "-at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class BackupCodeDevice(ThrottlingMixin, Device):
    """One-time backup codes, stored only as keyed hashes (S13).

    django-otp's static device keeps its tokens in plain text; this one keeps an HMAC of
    each code and compares in constant time.
    """

    class Meta:
        verbose_name = _("backup code set")

    def get_throttle_factor(self):
        return 1

    def verify_token(self, token):
        verify_allowed, _data = self.verify_is_allowed()
        if not verify_allowed:
            return False
        digest = hash_secret(normalise_code(token))
        match = None
        for code in self.codes.filter(used_at__isnull=True):
            if hmac.compare_digest(code.code_hash, digest):
                match = code
        if match is None:
            self.throttle_increment()
            return False
        # Single use even when two requests race: only one conditional update wins.
        used = BackupCode.objects.filter(pk=match.pk, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        if not used:
            self.throttle_increment()
            return False
        self.throttle_reset()
        return True

    def remaining(self) -> int:
        return self.codes.filter(used_at__isnull=True).count()


class BackupCode(models.Model):
    device = models.ForeignKey(BackupCodeDevice, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"backup code of {self.device_id}"


def normalise_code(token: str) -> str:
    return "".join(ch for ch in (token or "").lower() if ch.isalnum())


def hash_secret(value: str) -> str:
    """Keyed SHA-256 of a one-time secret (backup codes, keys, tokens) for storage."""
    key = ("portal-secret-hash:" + settings.TOKEN_HASH_KEY).encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


class UserSession(models.Model):
    """A signed-in session of a user, so that sessions can be listed and ended (S5, S15)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="portal_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-last_seen"])]

    def __str__(self):
        return f"session of {self.user_id} since {self.created_at:%Y-%m-%d %H:%M}"


# --- invitations, staff requests, sub-account links (U2, U4, C2) ----------------------


INVITATION_DAYS = 7


class InvitationQuerySet(models.QuerySet):
    def usable(self, at=None):
        """Invitations that can still be accepted: pending and not past their end (U2)."""
        return self.filter(state=Invitation.State.PENDING, expires_at__gt=at or timezone.now())


class Invitation(PermissionSet):
    """A person invited by e-mail to act for a customer with a permission set (U2, S9).

    Only a keyed hash of the token is stored; the token itself is in the mail alone.
    Expired, cancelled and accepted invitations stay, so the customer sees what happened.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        ACCEPTED = "accepted", _("accepted")
        CANCELLED = "cancelled", _("cancelled")
        EXPIRED = "expired", _("expired")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField(_("e-mail address"))
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, verbose_name=_("invited by"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("invited"), default=timezone.now)
    sent_at = models.DateTimeField(_("last sent"), default=timezone.now, db_index=True)
    send_count = models.PositiveSmallIntegerField(default=1)
    expires_at = models.DateTimeField(_("expires"))
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open invitation per address and customer; resending renews it.
            models.UniqueConstraint(
                fields=["customer", "email"],
                condition=Q(state="pending"),
                name="invitation_one_pending_per_address",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")),
                name="invitation_expires_after_creation",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"]),
            models.Index(fields=["state", "expires_at"]),
        ]

    def __str__(self):
        return f"{self.email} → {self.customer}"

    def is_usable(self, at=None) -> bool:
        return self.state == self.State.PENDING and self.expires_at > (at or timezone.now())

    @property
    def shown_state(self) -> str:
        """The state as the customer sees it: a pending invitation past its end is expired,
        even before the periodic job has marked it (expiry is checked on every request)."""
        if self.state == self.State.PENDING and not self.is_usable():
            return self.State.EXPIRED
        return self.state

    def get_shown_state_display(self) -> str:
        """The shown state's label in the active language (looked up once per language)."""
        return choice_labels(self.State)[self.shown_state]

    @staticmethod
    def hash_token(token: str) -> str:
        return hash_secret("invitation:" + (token or ""))

    def token_matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, self.hash_token(token))


class StaffRequest(models.Model):
    """Something a customer asks the provider's staff to do, worked on in the admin.

    "A person has left the organisation" (U4): staff set that user inactive, and the
    person's tickets stay with the organisation.
    """

    class Kind(models.TextChoices):
        USER_LEFT = "user_left", _("a user has left the organisation")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")

    kind = models.CharField(_("request"), max_length=20, choices=Kind.choices)
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.OPEN, db_index=True
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(
        User,
        verbose_name=_("person concerned"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_by = models.ForeignKey(
        User, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("note"), blank=True, max_length=2000)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    handled_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    handled_at = models.DateTimeField(_("handled"), null=True, blank=True)

    class Meta:
        verbose_name = _("staff request")
        verbose_name_plural = _("staff requests")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "customer", "user"],
                condition=Q(state="open"),
                name="staffrequest_one_open_per_person",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.user} ({self.customer.display_number})"


class SubAccountLinkRequest(models.Model):
    """A main account asks to link an existing customer as its sub-account (C2).

    Nothing is linked until an owner of that customer confirms.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("waiting for confirmation")
        CONFIRMED = "confirmed", _("confirmed")
        DECLINED = "declined", _("declined")
        CANCELLED = "cancelled", _("cancelled")

    main = models.ForeignKey(
        Customer,
        verbose_name=_("main account"),
        on_delete=models.PROTECT,
        related_name="link_requests_sent",
    )
    sub = models.ForeignKey(
        Customer,
        verbose_name=_("customer to link"),
        on_delete=models.PROTECT,
        related_name="link_requests_received",
    )
    on_collective_invoice = models.BooleanField(
        _("put on the main account's collective invoice"), default=False
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING, db_index=True
    )
    requested_by = models.ForeignKey(
        User, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    class Meta:
        verbose_name = _("sub-account link request")
        verbose_name_plural = _("sub-account link requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(main=F("sub")), name="linkrequest_not_self"),
            models.UniqueConstraint(
                fields=["main", "sub"],
                condition=Q(state="pending"),
                name="linkrequest_one_pending_per_pair",
            ),
        ]

    def __str__(self):
        return f"{self.main.display_number} ← {self.sub.display_number} ({self.state})"


# --- access reviews (issue 7) -------------------------------------------------------


ACCESS_REVIEW_DAYS = 90


class AccessReview(models.Model):
    """When a customer's owners last confirmed who can act for it, and when they are asked
    next (every ``interval_days``, 90 unless the customer chose otherwise).

    A customer without a row is due ``ACCESS_REVIEW_DAYS`` after it became a customer;
    the reminder job creates the row then. ``reminded_at`` is the moment the job mailed
    the owners for the current ``due_at``: at most one mail per review."""

    customer = models.OneToOneField(
        Customer, on_delete=models.PROTECT, related_name="access_review"
    )
    interval_days = models.PositiveSmallIntegerField(
        _("review every"),
        default=ACCESS_REVIEW_DAYS,
        choices=[
            (30, _("30 days")),
            (60, _("60 days")),
            (90, _("90 days")),
            (180, _("180 days")),
            (365, _("365 days")),
        ],
    )
    due_at = models.DateTimeField(_("next review due"), db_index=True)
    reminded_at = models.DateTimeField(_("owners reminded"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("last confirmed"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        User,
        verbose_name=_("confirmed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("access review")
        verbose_name_plural = _("access reviews")
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_days__gte=7) & Q(interval_days__lte=366),
                name="accessreview_interval_sensible",
            ),
        ]

    def __str__(self):
        return f"access review of {self.customer_id}, due {self.due_at:%Y-%m-%d}"

    @classmethod
    def first_due(cls, customer: Customer, interval_days: int = ACCESS_REVIEW_DAYS):
        return customer.created_at + timezone.timedelta(days=interval_days)

    def is_overdue(self, at=None) -> bool:
        return self.due_at <= (at or timezone.now())
