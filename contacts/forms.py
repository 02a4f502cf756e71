"""Forms of the contacts pages. They validate input only; the services apply the rules."""

from django import forms
from django.conf import settings
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _

from contacts.models import CONFIRMATION_DAYS, Contact, ContactType

NOTIFICATION_CHOICES = [
    ("notify_invoices", _("invoices and payment reminders")),
    ("notify_orders", _("orders and access data")),
    ("notify_support", _("support")),
    ("notify_security", _("security notices and maintenance announcements")),
    ("notify_outages", _("outage reports")),
]
TYPE_HELP = _(
    "Standard: used whenever no more specific type exists. Accounting: named on invoices "
    "and gets invoice mail. Technical: gets security notices, maintenance announcements and "
    "outage reports. Domain: for domain registration only — gets no mail and cannot send "
    "requests. Monitoring, owner and authorised signatory describe the person."
)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(
        label=_("E-mail address"),
        required=False,
        # Formatted when shown, in the reader's language (a plain `_() % ...` here
        # would be formatted once, at import, in English).
        help_text=lazy(
            lambda: (
                _(
                    "A new or changed address is used only after its owner confirms it through "
                    "the link we mail to it, within %(days)s days."
                )
                % {"days": CONFIRMATION_DAYS}
            ),
            str,
        )(),
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    language = forms.ChoiceField(label=_("Language for mail"), choices=settings.LANGUAGES)
    types = forms.MultipleChoiceField(
        label=_("Types"),
        choices=ContactType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=TYPE_HELP,
    )
    notifications = forms.MultipleChoiceField(
        label=_("Mail this contact gets"),
        choices=NOTIFICATION_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Narrows what the contact's types would send it. Notifications that no contact "
            "gets go to your account e-mail address."
        ),
    )
    invoice_by_mail = forms.BooleanField(
        label=_("Send invoices to this contact by e-mail"),
        required=False,
        help_text=_("Only for standard and accounting contacts with a confirmed address."),
    )
    is_authorised = forms.BooleanField(
        label=_("Authorised to instruct us (without limit)"),
        required=False,
        help_text=_("Only authorised people and managers can name or remove authorised contacts."),
    )
    restrictions = forms.CharField(
        label=_("Restrictions for orders by phone"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            'For example "server reboots only". Shown to our staff when this person calls; '
            "it does not limit portal logins."
        ),
    )

    def __init__(self, *args, contact: Contact | None = None, **kwargs):
        if contact is not None and "initial" not in kwargs:
            kwargs["initial"] = initial_for(contact)
        super().__init__(*args, **kwargs)
        self.contact = contact

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        chosen = set(data["notifications"])
        kwargs = {
            "name": data["name"].strip(),
            "email": data["email"],
            "phone": data["phone"].strip(),
            "language": data["language"],
            "types": data["types"],
            "invoice_by_mail": data["invoice_by_mail"],
            "is_authorised": data["is_authorised"],
            "restrictions": data["restrictions"].strip(),
        }
        for field, _label in NOTIFICATION_CHOICES:
            kwargs[field] = field in chosen
        return kwargs


def initial_for(contact: Contact) -> dict:
    return {
        "name": contact.name,
        # An address waiting for confirmation is what the person last entered; keeping it
        # in the field means saving other changes does not cancel it.
        "email": contact.pending_email if contact.has_live_pending() else contact.email,
        "phone": contact.phone,
        "language": contact.language,
        "types": contact.types,
        "notifications": [f for f, _label in NOTIFICATION_CHOICES if getattr(contact, f)],
        "invoice_by_mail": contact.invoice_by_mail,
        "is_authorised": contact.is_authorised_now(),
        "restrictions": contact.restrictions,
    }


class DeleteForm(forms.Form):
    """Deleting the primary contact names its successor (K11)."""

    successor = forms.ModelChoiceField(
        label=_("New primary contact"),
        queryset=Contact.objects.none(),
        required=False,
        empty_label=_("— choose —"),
    )

    def __init__(self, *args, contact: Contact, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this customer's other contacts: a posted id of anything else is refused (S4).
        self.fields["successor"].queryset = (
            Contact.objects.active()
            .not_domain()
            .filter(customer_id=contact.customer_id)
            .exclude(pk=contact.pk)
            .order_by("name")
        )
        if not contact.is_primary:
            del self.fields["successor"]


class PhonePasswordForm(forms.Form):
    password = forms.CharField(
        label=_("New phone password"),
        min_length=6,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Whoever gives it on the phone may place orders for you; they count as written "
            "orders. We store it only in a form nobody can read back."
        ),
    )
    password2 = forms.CharField(
        label=_("Phone password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password2"):
            self.add_error("password2", _("The two entries differ."))
        return data


class InvoiceNamingForm(forms.Form):
    # Blank, its HTML follows only the initial value (portal_forms.blank_form).
    blank_html_fixed = True

    list_contacts_on_invoice = forms.BooleanField(
        label=_("Name contacts on the invoice address"), required=False
    )


class ConfirmForm(forms.Form):
    token = forms.CharField(
        label=_("Confirmation code from the mail"),
        max_length=500,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Filled in from the link. If it is empty, copy the code from the mail."),
    )


ALLOWED_EXTRACT_TYPES = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}
MAX_EXTRACT_BYTES = 10 * 1024 * 1024


class RegisterExtractForm(forms.Form):
    file = forms.FileField(
        label=_("Register extract (PDF, PNG or JPEG, at most 10 MB)"),
        help_text=_("A current commercial or association register extract."),
    )
    person_name = forms.CharField(
        label=_("Managing director or board chair named in it"), max_length=200
    )
    person_email = forms.EmailField(label=_("Their e-mail address"))
    person_phone = forms.CharField(label=_("Their phone"), max_length=40, required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_EXTRACT_BYTES:
            raise forms.ValidationError(_("The file is larger than 10 MB."))
        head = upload.read(16)
        upload.seek(0)
        # The type is read from the content, not from the name or the browser (S24).
        for content_type, magic in ALLOWED_EXTRACT_TYPES.items():
            if head.startswith(magic):
                self.content_type = content_type
                return upload
        raise forms.ValidationError(_("Please upload a PDF, PNG or JPEG file."))


class PhoneCheckForm(forms.Form):
    """Admin: what the caller said (K8)."""

    answer = forms.CharField(
        label=_("Phone password the caller gave"),
        strip=False,
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )


class LookupForm(forms.Form):
    """Admin: does a caller's number or a sender's address belong to a registered contact?"""

    phone = forms.CharField(label=_("Caller's phone number"), required=False, max_length=40)
    email = forms.EmailField(label=_("Sender's e-mail address"), required=False)

    def clean(self):
        data = super().clean()
        if not data.get("phone") and not data.get("email"):
            raise forms.ValidationError(_("Enter a phone number or an e-mail address."))
        return data


class VerifyExtractForm(forms.Form):
    days = forms.IntegerField(
        label=_("Authorised for how many days"), min_value=1, max_value=90, initial=30
    )
