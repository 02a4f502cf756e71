from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Customer, HostingAccount
from delegation.models import GrantRequest


class AccountChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.get_kind_display()})"


class GrantForm(forms.Form):
    """A new grant (D1, D2). The accounts offered are the grantor's own; a posted id of
    any other account is not a valid choice (S4, D4)."""

    administrator = forms.CharField(
        label=_("Customer number of the technical administrator"),
        max_length=20,
        help_text=_("For example K-100231. Your administrator finds it in their portal."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    accounts = AccountChoiceField(
        label=_("Hosting accounts to grant"),
        queryset=HostingAccount.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one hosting account.")},
    )
    ends_at = forms.DateTimeField(
        label=_("Access ends (optional)"),
        required=False,
        help_text=_("Leave empty for no end. You can revoke the grant at any time."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def __init__(self, *args, grantor: Customer, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.grantor = grantor
        self.unknown_number = False
        self.fields["accounts"].queryset = accounts.order_by("kind", "name")

    def clean_administrator(self):
        number = Customer.parse_number(self.cleaned_data["administrator"])
        if number is None:
            raise forms.ValidationError(_("Enter a customer number such as K-100231."))
        agency = Customer.objects.filter(number=number).first()
        if agency is None:
            self.unknown_number = True
            raise forms.ValidationError(
                _(
                    "There is no customer K-%(number)s. If your administrator is not a "
                    "customer yet, ask support to create a customer number for them."
                ),
                code="unknown",
                params={"number": number},
            )
        if agency.pk == self.grantor.pk:
            raise forms.ValidationError(_("That is your own customer number."))
        return agency

    def clean_ends_at(self):
        ends_at = self.cleaned_data.get("ends_at")
        if ends_at is not None and ends_at <= timezone.now():
            raise forms.ValidationError(_("The end must be in the future."))
        return ends_at


class KeyForm(forms.Form):
    key = forms.CharField(
        label=_("Grant key"),
        max_length=100,
        help_text=_("The key the customer received when making the grant, e.g. ABCD-EFGH-…"),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
    )


class GrantRequestForm(forms.ModelForm):
    """What support needs to create a customer number for an administrator (seed 000)."""

    class Meta:
        model = GrantRequest
        fields = [
            "company",
            "first_name",
            "last_name",
            "street",
            "postal_code",
            "city",
            "country",
            "phone",
            "email",
        ]
        widgets = {
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            "email": forms.EmailInput(attrs={"autocomplete": "off"}),
        }
