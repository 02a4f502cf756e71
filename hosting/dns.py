"""DNS syntax as a DNS operator checks it (A1): names, targets, addresses, TXT, CAA, PTR.

Pure functions, no database: the record form, the model's ``clean()`` and the push to
PowerDNS all use these, so a record is judged the same way wherever it comes from. Every
function raises ``ValidationError`` with a message meant for the person at the form.

Names are kept absolute, lower-case and with the trailing dot, the way PowerDNS wants
them (``www.example.com.``).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

MIN_TTL = 60
MAX_TTL = 86400
DEFAULT_TTL = 3600
MAX_NAME_LENGTH = 253  # without the final dot; 255 octets on the wire
MAX_LABEL_LENGTH = 63
TXT_STRING_LENGTH = 255  # one <character-string> (RFC 1035 3.3)
TXT_MAX_LENGTH = 2048  # all strings of one TXT record together; enough for 4096-bit DKIM
CAA_TAGS = ("issue", "issuewild", "iodef")
CAA_FLAGS = (0, 128)
MAX_RECORDS_PER_ZONE = 500

# Reverse zones are cut at the provider's allocation sizes: a /24 for IPv4, a /48 for IPv6.
REVERSE_V4_PREFIX = 24
REVERSE_V6_PREFIX = 48

_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_SRV_NAME = re.compile(r"^_[a-z0-9]([a-z0-9-]*[a-z0-9])?\._(tcp|udp|tls|sctp)(\.|$)")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def zone_name(domain: str) -> str:
    """``Example.COM`` → ``example.com.``"""
    return _to_ascii(domain.strip().rstrip(".")).lower() + "."


def _to_ascii(text: str) -> str:
    """Internationalised labels to their ``xn--`` form (IDNA); ASCII left as it is."""
    if text.isascii():
        return text
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError(_("“%(name)s” is not a valid domain name.") % {"name": text})


def _check_labels(fqdn: str, *, hostname: bool, shown: str) -> None:
    bare = fqdn[:-1]
    if len(bare) > MAX_NAME_LENGTH:
        raise ValidationError(
            _("“%(name)s” is longer than %(max)d characters.")
            % {"name": shown, "max": MAX_NAME_LENGTH}
        )
    labels = bare.split(".")
    for index, label in enumerate(labels):
        if label == "":
            raise ValidationError(
                _("“%(name)s” has an empty part (two dots in a row?).") % {"name": shown}
            )
        if len(label) > MAX_LABEL_LENGTH:
            raise ValidationError(
                _(
                    "“%(label)s” is longer than %(max)d characters; each part of a name may be 63 at most."
                )
                % {"label": label, "max": MAX_LABEL_LENGTH}
            )
        if label == "*" and index == 0 and not hostname:
            continue  # a wildcard, leftmost only
        pattern = _HOST_LABEL if hostname else _LABEL
        if not pattern.match(label):
            if hostname:
                message = _(
                    "“%(name)s” is not a valid host name: use letters, digits and hyphens, "
                    "and no hyphen at the start or end of a part."
                )
            else:
                message = _(
                    "“%(name)s” is not a valid name: use letters, digits, hyphens and "
                    "underscores (a * only as the first part)."
                )
            raise ValidationError(message % {"name": shown})


def record_name(text: str, zone: str) -> str:
    """The absolute name of a record typed into the form for ``zone`` (``example.com.``).

    ``@`` or nothing is the zone itself; ``www`` is relative; ``www.example.com.`` is
    absolute; ``www.example.com`` (no final dot) is taken as absolute too when it ends
    with the zone's name, because that is what people mean. Names must lie in the zone.
    """
    shown = (text or "").strip()
    name = shown.lower()
    if name in ("", "@"):
        return zone
    if any(ch.isspace() for ch in name):
        raise ValidationError(_("A name cannot contain spaces."))
    name = _to_ascii(name)
    bare_zone = zone[:-1]
    if name.endswith("."):
        fqdn = name
        if fqdn != zone and not fqdn.endswith("." + zone):
            raise ValidationError(
                _(
                    "“%(name)s” is outside the zone %(zone)s. Write names relative to the zone, like “www”."
                )
                % {"name": shown, "zone": bare_zone}
            )
    elif name == bare_zone or name.endswith("." + bare_zone):
        fqdn = name + "."
    else:
        fqdn = f"{name}.{zone}"
    _check_labels(fqdn, hostname=False, shown=shown)
    return fqdn


def target_name(text: str, zone: str, *, allow_root: bool = False) -> str:
    """A host name a record points to (CNAME, MX, SRV, PTR targets).

    ``@`` is the zone itself; a single word like ``mail`` is a name in the zone; anything
    with a dot is a full name (``mx1.provider.example`` or ``mx1.provider.example.``).
    ``.`` means "no service" (RFC 7505 null MX, RFC 2782) where ``allow_root``.
    """
    shown = (text or "").strip()
    name = shown.lower()
    if not name:
        raise ValidationError(_("Enter a host name."))
    if name == ".":
        if allow_root:
            return "."
        raise ValidationError(_("Enter a host name."))
    if _is_ip(name.rstrip(".")):
        raise ValidationError(
            _(
                "“%(name)s” is an IP address; this record needs a host name. Add an A or AAAA record for that name and point to the name."
            )
            % {"name": shown}
        )
    if any(ch.isspace() for ch in name):
        raise ValidationError(_("A host name cannot contain spaces."))
    name = _to_ascii(name)
    if name == "@":
        return zone
    if name.endswith("."):
        fqdn = name
    elif "." in name:
        fqdn = name + "."
    else:
        fqdn = f"{name}.{zone}"
    _check_labels(fqdn, hostname=True, shown=shown)
    if len(fqdn[:-1].split(".")) < 2:
        raise ValidationError(_("“%(name)s” is not a full host name.") % {"name": shown})
    return fqdn


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def ipv4(text: str) -> str:
    value = (text or "").strip()
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        pass
    if _is_ip(value):
        raise ValidationError(
            _("“%(value)s” is an IPv6 address; use an AAAA record for it.") % {"value": value}
        )
    raise ValidationError(
        _(
            "“%(value)s” is not an IPv4 address (four numbers 0–255 separated by dots, like 192.0.2.10)."
        )
        % {"value": value}
    )


def ipv6(text: str) -> str:
    value = (text or "").strip()
    try:
        return ipaddress.IPv6Address(value).compressed
    except ValueError:
        pass
    if _is_ip(value):
        raise ValidationError(
            _("“%(value)s” is an IPv4 address; use an A record for it.") % {"value": value}
        )
    raise ValidationError(
        _("“%(value)s” is not an IPv6 address (like 2001:db8::10).") % {"value": value}
    )


def txt_value(text: str) -> str:
    """TXT text as the person means it. One pair of surrounding quotes, or the zone-file
    form ``"part one" "part two"`` that key generators print, is unwrapped. Printable
    ASCII only; long text is split into 255-character strings when pushed."""
    value = (text or "").strip()
    if not value:
        raise ValidationError(_("Enter the text."))
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        parts = _QUOTED.findall(value)
        if parts and _QUOTED.sub("", value).strip() == "":
            value = "".join(re.sub(r"\\(.)", r"\1", p) for p in parts)
    bad = sorted({ch for ch in value if not (" " <= ch <= "~")})
    if bad:
        raise ValidationError(
            _(
                "TXT text may contain only printable ASCII characters (no line breaks, tabs or accents); found %(chars)s."
            )
            % {"chars": ", ".join(repr(ch) for ch in bad[:5])}
        )
    if len(value) > TXT_MAX_LENGTH:
        raise ValidationError(
            _("TXT text can be at most %(max)d characters long; this is %(n)d.")
            % {"max": TXT_MAX_LENGTH, "n": len(value)}
        )
    return value


def txt_content(value: str) -> str:
    """The zone-file form of TXT text: 255-character quoted strings, escaped."""
    chunks = [value[i : i + TXT_STRING_LENGTH] for i in range(0, len(value), TXT_STRING_LENGTH)]
    return " ".join(
        '"' + chunk.replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks or [""]
    )


def caa_value(tag: str, text: str) -> str:
    """The value of a CAA record for ``tag`` (RFC 8659)."""
    value = (text or "").strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].strip()
    if tag not in CAA_TAGS:
        raise ValidationError(_("Choose issue, issuewild or iodef."))
    if any(not (" " <= ch <= "~") or ch == '"' for ch in value):
        raise ValidationError(
            _("A CAA value may contain only printable ASCII characters and no quotes.")
        )
    if len(value) > 255:
        raise ValidationError(_("A CAA value can be at most 255 characters long."))
    if tag == "iodef":
        parts = urlsplit(value)
        if parts.scheme == "mailto":
            try:
                validate_email(parts.path)
            except ValidationError:
                raise ValidationError(_("iodef needs a mailto: address or an https: URL."))
            return value
        if parts.scheme in ("https", "http") and parts.netloc:
            return value
        raise ValidationError(
            _("iodef needs a mailto: address or an https: URL, like mailto:security@example.com.")
        )
    # issue / issuewild: "ca.example", "ca.example; key=value", or ";" (no CA may issue)
    issuer, _sep, params = value.partition(";")
    issuer = issuer.strip().lower()
    if issuer:
        if issuer.endswith(".") or _is_ip(issuer):
            raise ValidationError(
                _("Name the certificate authority by its domain, like letsencrypt.org.")
            )
        _check_labels(issuer + ".", hostname=True, shown=issuer)
        if "." not in issuer:
            raise ValidationError(
                _("Name the certificate authority by its domain, like letsencrypt.org.")
            )
    elif not value.startswith(";") and value:
        raise ValidationError(
            _("Name the certificate authority by its domain, like letsencrypt.org.")
        )
    elif not value:
        raise ValidationError(
            _(
                "Enter the certificate authority's domain, like letsencrypt.org, or “;” to allow none."
            )
        )
    for param in filter(None, (p.strip() for p in params.split(";"))):
        key, eq, val = param.partition("=")
        if not eq or not re.fullmatch(r"[A-Za-z0-9]+", key.strip()) or not val.strip():
            raise ValidationError(
                _("CAA parameters look like “validationmethods=dns-01”; “%(param)s” does not.")
                % {"param": param}
            )
    return value


def srv_name_ok(fqdn: str) -> bool:
    """SRV records live at ``_service._proto.<name>`` (RFC 2782)."""
    return bool(_SRV_NAME.match(fqdn))


def relative(fqdn: str, zone: str) -> str:
    """``www.example.com.`` in ``example.com.`` → ``www``; the apex → ``@``."""
    if fqdn == zone:
        return "@"
    if fqdn.endswith("." + zone):
        return fqdn[: -len(zone) - 1]
    return fqdn


# --- reverse DNS (A3) -------------------------------------------------------------------


def reverse_pointer(address: str) -> str:
    """``192.0.2.10`` → ``10.2.0.192.in-addr.arpa.``; IPv6 by nibbles under ip6.arpa."""
    return ipaddress.ip_address(address).reverse_pointer + "."


def reverse_zone(address: str) -> str:
    """The reverse zone holding the address's PTR: the /24 (IPv4) or /48 (IPv6) around it,
    e.g. ``2.0.192.in-addr.arpa.``."""
    ip = ipaddress.ip_address(address)
    labels = ip.reverse_pointer.split(".")
    if ip.version == 4:
        keep = (32 - REVERSE_V4_PREFIX) // 8
    else:
        keep = (128 - REVERSE_V6_PREFIX) // 4
    return ".".join(labels[keep:]) + "."
