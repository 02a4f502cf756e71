"""Forms of the hosting pages. They check what people type and say what is wrong; the
services decide (and check again), so no form takes an account or zone from the request."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from hosting import dns
from hosting.models import DnsRecord, validate_record_fields
from hosting.services import STORAGE_STEPS_GB, SUPPORTED_PHP_VERSIONS


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: beside the field it names, or at the
    top when it names none the form has."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        form.add_error(None, exc)


class DnsRecordForm(forms.Form):
    rtype = forms.ChoiceField(
        label=_("Type"), choices=[(t, t) for t in DnsRecord.ZONE_TYPES], initial="A"
    )
    name = forms.CharField(
        label=_("Name"),
        required=False,
        max_length=255,
    )
    value = forms.CharField(
        label=_("Value"),
        max_length=dns.TXT_MAX_LENGTH + 200,
        error_messages={"required": _("Enter the value.")},
        help_text=_(
            "A: an IPv4 address. AAAA: an IPv6 address. CNAME, MX, SRV: a host name "
            "(“mail” for a name in this domain, other names in full). TXT: the text. CAA: "
            "the certificate authority's domain (issue, issuewild) or a mailto:/https: "
            "address (iodef)."
        ),
    )
    ttl = forms.IntegerField(
        label=_("TTL (seconds)"),
        initial=dns.DEFAULT_TTL,
        required=False,
        # Formatted when shown, in the reader's language (not once, at import).
        help_text=lazy(
            lambda: (
                _("%(min)d to %(max)d seconds. Applies to all records of this name and type.")
                % {"min": dns.MIN_TTL, "max": dns.MAX_TTL}
            ),
            str,
        )(),
    )
    priority = forms.IntegerField(
        label=_("Priority (MX, SRV)"), required=False, help_text=_("0–65535; lower is preferred.")
    )
    weight = forms.IntegerField(label=_("Weight (SRV)"), required=False, help_text="0–65535")
    port = forms.IntegerField(label=_("Port (SRV)"), required=False, help_text="0–65535")
    flags = forms.TypedChoiceField(
        label=_("Flags (CAA)"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[(0, _("0 — normal")), (128, _("128 — critical"))],
        initial=0,
    )
    tag = forms.ChoiceField(
        label=_("Tag (CAA)"),
        required=False,
        choices=[("", "—")] + [(t, t) for t in dns.CAA_TAGS],
    )

    def __init__(self, *args, zone_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone_name = zone_name
        domain = zone_name.rstrip(".")
        # The field template renders help text unescaped: escape the domain here.
        self.fields["name"].help_text = escape(
            _(
                "“@” or empty for %(domain)s itself, “www” for www.%(domain)s, or a full name ending in %(domain)s."
            )
            % {"domain": domain}
        )

    @classmethod
    def initial_for(cls, record: DnsRecord) -> dict:
        return {
            "rtype": record.rtype,
            "name": record.short_name,
            "value": record.value,
            "ttl": record.ttl,
            "priority": record.priority,
            "weight": record.weight,
            "port": record.port,
            "flags": record.flags,
            "tag": record.tag,
        }

    def clean(self):
        data = super().clean()
        rtype = data.get("rtype")
        if not rtype:
            return data
        result = validate_record_fields(zone=self.zone_name, rtype=rtype, fields=data)
        if isinstance(result, ValidationError):
            for field, messages in result.message_dict.items():
                if field not in self.errors:
                    for message in messages:
                        self.add_error(field if field in self.fields else None, message)
        return data

    def record_fields(self) -> dict:
        """What the service takes: the fields as typed (the service normalises once)."""
        data = self.cleaned_data
        return {
            "rtype": data["rtype"],
            "name": data.get("name") or "",
            "value": data["value"],
            "ttl": data.get("ttl") or dns.DEFAULT_TTL,
            "priority": data.get("priority"),
            "weight": data.get("weight"),
            "port": data.get("port"),
            "flags": data.get("flags"),
            "tag": data.get("tag") or "",
        }


class ReverseDnsForm(forms.Form):
    """One host name field per address of the server (A3); empty removes the PTR."""

    def __init__(self, *args, addresses: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.addresses = addresses
        for index, address in enumerate(addresses):
            self.fields[f"host_{index}"] = forms.CharField(
                label=_("Host name for %(address)s") % {"address": address},
                required=False,
                max_length=255,
                help_text=_("A full name, like server.example.com. Leave empty to remove it."),
            )

    def clean(self):
        data = super().clean()
        for index, _address in enumerate(self.addresses):
            field = f"host_{index}"
            hostname = (data.get(field) or "").strip()
            if not hostname:
                continue
            try:
                if "." not in hostname.rstrip("."):
                    raise ValidationError(_("Enter the full host name, like server.example.com."))
                dns.target_name(hostname, "invalid.")
            except ValidationError as exc:
                self.add_error(field, exc)
        return data

    def pairs(self) -> list[tuple[str, str]]:
        return [
            (address, (self.cleaned_data.get(f"host_{i}") or "").strip())
            for i, address in enumerate(self.addresses)
        ]


class PhpVersionForm(forms.Form):
    value = forms.ChoiceField(label=_("New PHP version"))
    note = forms.CharField(
        label=_("Note for our staff (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["value"].choices = [
            (v, f"PHP {v}") for v in SUPPORTED_PHP_VERSIONS if v != account.php_version
        ]


class StorageForm(forms.Form):
    value = forms.ChoiceField(label=_("New storage size"))
    note = forms.CharField(
        label=_("Note for our staff (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["value"].choices = [
            (str(n), f"{n} GB") for n in STORAGE_STEPS_GB if n > (account.storage_gb or 0)
        ]


class RebootForm(forms.Form):
    note = forms.CharField(
        label=_("When may we reboot, and why? (optional)"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)


REQUEST_FORMS = {"php_version": PhpVersionForm, "storage": StorageForm, "reboot": RebootForm}
