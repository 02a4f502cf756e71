from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, HostingAccount, Membership, User
from portal import mail


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    error_messages = {
        "invalid_login": _(
            "That e-mail address and password do not match an account that can sign in."
        ),
        "inactive": _("That e-mail address and password do not match an account that can sign in."),
    }


class TokenForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app, or a backup code"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
        ),
    )


class ConfirmIdentityForm(forms.Form):
    """The step-up before a sensitive change: a code, or the password for someone without
    two-factor (``accounts.services.confirm_identity`` checks it)."""

    answer = forms.CharField(max_length=128, strip=True)

    def __init__(self, *args, with_code: bool, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["answer"]
        if with_code:
            field.label = _("Code from your authenticator app, or a backup code")
            field.widget = forms.TextInput(
                attrs={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True}
            )
        else:
            field.label = _("Your current password")
            field.strip = False
            field.widget = forms.PasswordInput(
                attrs={"autocomplete": "current-password", "autofocus": True}
            )


class PasswordConfirmMixin(forms.Form):
    password = forms.CharField(
        label=_("Your current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("That is not your current password."))
        return password


class TwoFactorSetupForm(PasswordConfirmMixin):
    code = forms.CharField(
        label=_("Six-digit code shown by your app"),
        max_length=6,
        min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PasswordCheckForm(PasswordConfirmMixin):
    pass


class SetPasswordForm(forms.Form):
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )


class PortalPasswordResetForm(PasswordResetForm):
    """Sends the reset mail through the portal's mail module (from a job, in the
    recipient's language). Never tells whether the address has an account (S12)."""

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        user = context["user"]
        mail.queue(
            kind="password_reset",
            to=[to_email],
            template="accounts/mail/password_reset",
            context={k: v for k, v in context.items() if k != "user"} | {"user": user},
            language=user.language,
        )


# --- users, invitations, sub-accounts (U2, U3, C2) ----------------------------------


def _permission_field(name: str) -> forms.BooleanField:
    model_field = Membership._meta.get_field(name)
    return forms.BooleanField(label=model_field.verbose_name, required=False)


class PermissionForm(forms.Form):
    """The permission set of U3 and the notification choices, each on or off.

    Only the fields in ``grantable`` can be changed: the others are shown disabled and
    keep their value (for an invitation: off), so nobody hands out more than they hold.
    """

    def __init__(self, *args, grantable: frozenset[str], values: dict[str, bool], **kwargs):
        super().__init__(*args, **kwargs)
        self.grantable = grantable
        for name in Membership.choice_fields():
            field = _permission_field(name)
            field.initial = bool(values.get(name))
            if name not in grantable:
                field.disabled = True
            self.fields[name] = field
        if "is_owner" in self.fields:
            self.fields["is_owner"].help_text = _("Owners have every permission.")

    @property
    def has_locked_fields(self) -> bool:
        return any(field.disabled for field in self.fields.values())

    def permission_fields(self):
        return [self[name] for name in ("is_owner", *Membership.PERMISSION_FIELDS)]

    def notification_fields(self):
        return [self[name] for name in Membership.NOTIFICATION_FIELDS]

    def changes(self) -> dict[str, bool]:
        """The values of the fields this user may set."""
        return {name: self.cleaned_data[name] for name in self.grantable if name in self.fields}


class InvitationForm(PermissionForm):
    email = forms.EmailField(
        label=_("E-mail address of the person to invite"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, grantable, **kwargs):
        # Defaults of a new membership, limited to what this user may hand out.
        defaults = {
            name: Membership._meta.get_field(name).default and name in grantable
            for name in Membership.choice_fields()
        }
        super().__init__(*args, grantable=grantable, values=defaults, **kwargs)
        self.order_fields(["email"])

    def permissions(self) -> dict[str, bool]:
        return {name: bool(self.cleaned_data.get(name)) for name in Membership.choice_fields()}


class InvitationTokenForm(forms.Form):
    token = forms.CharField(
        label=_("Invitation code from the mail"),
        max_length=100,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Filled in from the link. If it is empty, copy the code from the mail."),
    )


class NewLoginForm(forms.Form):
    """A new person chooses their name and password for the invited address (U2)."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    password1 = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("The same password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", _("The two passwords differ."))
        elif first:
            probe = User(
                email=self.email,
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(first, probe)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class MemberAccountsForm(forms.Form):
    """All of the customer's hosting accounts, or only the ones chosen (U3)."""

    scope = forms.ChoiceField(
        label=_("Hosting accounts this person acts on"),
        choices=[
            ("all", _("All hosting accounts of this customer")),
            ("chosen", _("Only the hosting accounts chosen below")),
        ],
        widget=forms.RadioSelect,
    )


class MemberAccountAddForm(forms.Form):
    """A hosting account by its name (domain, package or server), looked up among this
    customer's own accounts only."""

    name = forms.CharField(
        label=_("Name of the hosting account"),
        max_length=253,
        help_text=_("The domain, package or server name as shown on the dashboard."),
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer

    def clean_name(self):
        name = self.cleaned_data["name"].strip().lower()
        # A name is unique per kind: a domain and a package may share one; both are meant.
        self.accounts = list(
            HostingAccount.objects.filter(customer=self.customer, name__iexact=name)[:5]
        )
        if not self.accounts:
            raise forms.ValidationError(
                _("This customer has no hosting account named %(name)s.") % {"name": name}
            )
        return name


class UserLeftForm(forms.Form):
    note = forms.CharField(
        label=_("Anything support should know (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SubAccountOrderForm(forms.Form):
    name = forms.CharField(label=_("Name of the new sub-account"), max_length=200)
    email = forms.EmailField(label=_("Its account e-mail address"), required=False)
    on_collective_invoice = forms.BooleanField(
        label=_("Put it on our collective invoice"), required=False
    )


class SubAccountLinkForm(forms.Form):
    number = forms.CharField(
        label=_("Customer number of the existing customer"),
        max_length=20,
        help_text=_("For example K-100231. Its owners are asked to confirm."),
    )
    on_collective_invoice = forms.BooleanField(
        label=_("Put it on our collective invoice"), required=False
    )

    def clean_number(self):
        number = Customer.parse_number(self.cleaned_data["number"])
        if number is None:
            raise forms.ValidationError(_("Enter a customer number such as K-100231."))
        return number


class AccessReviewIntervalForm(forms.Form):
    """How often the owners are asked to review who can act for the customer (issue 7)."""

    interval_days = forms.TypedChoiceField(
        label=_("Ask the owners to review access every"),
        coerce=int,
        choices=[],
    )

    def __init__(self, *args, **kwargs):
        from accounts.models import AccessReview

        super().__init__(*args, **kwargs)
        self.fields["interval_days"].choices = AccessReview._meta.get_field("interval_days").choices
