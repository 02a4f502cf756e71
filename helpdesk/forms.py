from django import forms
from django.conf import settings
from django.core.validators import validate_email
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from helpdesk.files import upload_error
from helpdesk.models import Ticket
from helpdesk.services import NewFile

MAX_COPIED = 5
VAGUE_SUBJECTS = {"help", "hilfe", "problem", "question", "frage", "urgent", "dringend", "support"}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files at once, within the count and size limits (H1, S20, S24)."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) > settings.MAX_ATTACHMENTS:
            raise forms.ValidationError(
                ngettext(
                    "Attach at most %(n)d file.",
                    "Attach at most %(n)d files.",
                    settings.MAX_ATTACHMENTS,
                )
                % {"n": settings.MAX_ATTACHMENTS}
            )
        result = []
        for upload in files:
            upload = super().clean(upload, initial)
            name = upload.name
            if upload.size > settings.MAX_ATTACHMENT_BYTES:
                raise forms.ValidationError(
                    _("%(name)s is larger than %(limit)s.")
                    % {"name": name, "limit": filesizeformat(settings.MAX_ATTACHMENT_BYTES)}
                )
            upload.seek(0)
            error = upload_error(upload.read(512))
            upload.seek(0)
            if error:
                raise forms.ValidationError(f"{name}: {error}")
            result.append(NewFile(name, upload))
        return result


def _help_limits():
    return _("Up to %(count)s files, each at most %(size)s.") % {
        "count": settings.MAX_ATTACHMENTS,
        "size": filesizeformat(settings.MAX_ATTACHMENT_BYTES),
    }


class TicketForm(forms.Form):
    """A new ticket (H1): one topic, a subject that says what it is about, optionally the
    hosting account or server it concerns — only from those the user may act on (S4)."""

    subject = forms.CharField(
        label=_("Subject"),
        max_length=200,
        min_length=6,
        help_text=_(
            "Say what it is about, e.g. “PHP 8.3 for P-100231” — one topic per ticket; "
            "open a separate ticket for each further topic."
        ),
    )
    account = forms.ModelChoiceField(
        label=_("Hosting account or server"),
        queryset=None,
        required=False,
        empty_label=_("— none / not specific —"),
    )
    body = forms.CharField(
        label=_("Your message"), widget=forms.Textarea(attrs={"rows": 8}), max_length=50_000
    )
    copied = forms.CharField(
        label=_("Copy to (optional)"),
        required=False,
        max_length=1000,
        help_text=_("E-mail addresses, separated by commas, that get our answers too."),
    )
    attachments = AttachmentsField(label=_("Attachments"))

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts
        self.fields["account"].label_from_instance = self._account_label
        self.fields["attachments"].help_text = _help_limits()

    @staticmethod
    def _account_label(account):
        return f"{account.name} ({account.get_kind_display()}, {account.customer.display_number})"

    def clean_subject(self):
        subject = " ".join(self.cleaned_data["subject"].split())
        if subject.lower().strip("!?. ") in VAGUE_SUBJECTS:
            raise forms.ValidationError(
                _("Please say in the subject what it is about, not just “%(word)s”.")
                % {"word": subject}
            )
        return subject

    def clean_copied(self):
        addresses = []
        for part in self.cleaned_data["copied"].replace(";", ",").split(","):
            address = part.strip().lower()
            if not address:
                continue
            try:
                validate_email(address)
            except forms.ValidationError:
                raise forms.ValidationError(
                    _("“%(value)s” is not an e-mail address.") % {"value": address}
                )
            if address not in addresses:
                addresses.append(address)
        if len(addresses) > MAX_COPIED:
            raise forms.ValidationError(_("Copy at most %(n)s addresses.") % {"n": MAX_COPIED})
        return addresses


class ReplyForm(forms.Form):
    # Blank, the same HTML for every ticket (portal_forms.blank_form).
    blank_html_fixed = True

    body = forms.CharField(
        label=_("Your answer"), widget=forms.Textarea(attrs={"rows": 6}), max_length=50_000
    )
    attachments = AttachmentsField(label=_("Attachments"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = _help_limits()


class TicketFilterForm(forms.Form):
    """Status filter and search of the ticket list."""

    STATUS_CHOICES = [
        ("open", _("Open")),
        (Ticket.Status.WAITING, _("Waiting for your reply")),
        (Ticket.Status.CLOSED, _("Closed")),
        ("all", _("All")),
    ]
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
