"""A1: DNS syntax the way a DNS operator checks it (hosting/dns.py and the record rules
in hosting.models.validate_record_fields). No database."""

import pytest
from django.core.exceptions import ValidationError

from hosting import dns
from hosting.models import validate_record_fields

ZONE = "alice.example."


def fields(**kw):
    base = {"name": "www", "ttl": 3600, "value": ""}
    base.update(kw)
    return base


def errors_of(rtype, **kw):
    result = validate_record_fields(zone=ZONE, rtype=rtype, fields=fields(**kw))
    return result.message_dict if isinstance(result, ValidationError) else {}


def cleaned(rtype, **kw):
    result = validate_record_fields(zone=ZONE, rtype=rtype, fields=fields(**kw))
    assert not isinstance(result, ValidationError), result.message_dict
    return result


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", "alice.example."),
        ("@", "alice.example."),
        ("www", "www.alice.example."),
        ("WWW", "www.alice.example."),
        ("www.alice.example.", "www.alice.example."),
        ("www.alice.example", "www.alice.example."),  # what people mean
        ("alice.example", "alice.example."),
        ("a.b.c", "a.b.c.alice.example."),
        ("*", "*.alice.example."),
        ("*.shop", "*.shop.alice.example."),
        ("_dmarc", "_dmarc.alice.example."),
        ("_sip._tcp", "_sip._tcp.alice.example."),
        ("bücher", "xn--bcher-kva.alice.example."),
    ],
)
def test_a1_record_names_relative_or_absolute(typed, expected):
    """A1: names are relative to the zone, or absolute with or without the final dot."""
    assert dns.record_name(typed, ZONE) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("www.bob.example.", "outside the zone"),
        ("alice.example.evil.", "outside the zone"),
        ("a..b", "empty part"),
        ("-www", "not a valid name"),
        ("www-", "not a valid name"),
        ("w w", "spaces"),
        ("www.*", "not a valid name"),
        ("a" * 64, "63"),
        (".".join(["a" * 60] * 5), "longer than 253"),
        ("bad!name", "not a valid name"),
    ],
)
def test_a1_bad_record_names_are_refused_with_a_reason(typed, message):
    """A1: names outside the zone or not valid DNS names are refused, saying why."""
    with pytest.raises(ValidationError) as exc:
        dns.record_name(typed, ZONE)
    assert message in " ".join(exc.value.messages)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("mail", "mail.alice.example."),
        ("@", "alice.example."),
        ("mx1.provider.example", "mx1.provider.example."),
        ("MX1.Provider.Example.", "mx1.provider.example."),
    ],
)
def test_a1_targets_single_word_in_zone_else_full_name(typed, expected):
    assert dns.target_name(typed, ZONE) == expected


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("192.0.2.1", "is an IP address"),
        ("2001:db8::1", "is an IP address"),
        ("mail_server.example", "not a valid host name"),
        ("", "Enter a host name"),
        (".", "Enter a host name"),
    ],
)
def test_a1_bad_targets(typed, message):
    with pytest.raises(ValidationError) as exc:
        dns.target_name(typed, ZONE)
    assert message in " ".join(exc.value.messages)


def test_a1_null_mx_and_srv_allowed_only_where_meaningful():
    """RFC 7505 null MX / RFC 2782 "no service": "." where allowed."""
    assert dns.target_name(".", ZONE, allow_root=True) == "."


@pytest.mark.parametrize(
    ("rtype", "value", "message"),
    [
        ("A", "192.0.2.300", "not an IPv4 address"),
        ("A", "192.0.2", "not an IPv4 address"),
        ("A", "192.000.2.1", "not an IPv4 address"),
        ("A", "2001:db8::1", "use an AAAA record"),
        ("AAAA", "192.0.2.1", "use an A record"),
        ("AAAA", "2001:db8:::1", "not an IPv6 address"),
    ],
)
def test_a1_ip_syntax(rtype, value, message):
    assert message in " ".join(errors_of(rtype, value=value)["value"])


def test_a1_ipv6_is_stored_compressed():
    assert cleaned("AAAA", value="2001:0db8:0000:0000:0000:0000:0000:0010")["value"] == (
        "2001:db8::10"
    )


@pytest.mark.parametrize("ttl", [59, 86401, 0])
def test_a1_ttl_out_of_range(ttl):
    """A1: TTL bounds 60–86400 seconds."""
    assert "between 60 seconds and 86400" in errors_of("A", value="192.0.2.1", ttl=ttl)["ttl"][0]


@pytest.mark.parametrize("ttl", [60, 86400, 300])
def test_a1_ttl_in_range(ttl):
    assert cleaned("A", value="192.0.2.1", ttl=ttl)["ttl"] == ttl


def test_a1_cname_not_at_apex():
    """A1: no CNAME at the zone's own name."""
    assert (
        "cannot be at the zone's own name"
        in errors_of("CNAME", name="@", value="x.example")["name"][0]
    )


def test_a1_cname_not_to_itself():
    assert "itself" in errors_of("CNAME", name="www", value="www")["value"][0]


def test_a1_mx_needs_priority_in_range_and_host_name():
    errs = errors_of("MX", name="@", value="192.0.2.1", priority=70000)
    assert "between 0 and 65535" in errs["priority"][0]
    assert "is an IP address" in errs["value"][0]
    assert "Enter the priority" in errors_of("MX", name="@", value="mail")["priority"][0]
    ok = cleaned("MX", name="@", value="mail", priority=10)
    assert (ok["priority"], ok["value"]) == (10, "mail.alice.example.")


def test_a1_srv_name_ranges_and_target():
    errs = errors_of("SRV", name="sip", value="sip", priority=10, weight=-1, port=70000)
    assert "_sip._tcp" in errs["name"][0]
    assert "weight" in errs["weight"][0]
    assert "port" in errs["port"][0]
    ok = cleaned("SRV", name="_sip._tcp", value="sip", priority=10, weight=5, port=5060)
    assert ok["name"] == "_sip._tcp.alice.example."


def test_a1_txt_long_text_is_split_into_255_character_strings():
    text = "v=DKIM1; k=rsa; p=" + "A" * 600
    value = cleaned("TXT", value=text)["value"]
    content = dns.txt_content(value)
    parts = content.split('" "')
    assert len(parts) == 3
    assert all(len(p.strip('"')) <= 255 for p in parts)


def test_a1_txt_total_limit_and_ascii_only():
    assert "at most 2048" in errors_of("TXT", value="x" * 2049)["value"][0]
    assert "printable ASCII" in errors_of("TXT", value="line\nbreak")["value"][0]
    assert "printable ASCII" in errors_of("TXT", value="Grüße")["value"][0]


def test_a1_txt_quotes_are_unwrapped_and_escaped():
    assert cleaned("TXT", value='"v=spf1 mx -all"')["value"] == "v=spf1 mx -all"
    assert cleaned("TXT", value='"part one " "part two"')["value"] == "part one part two"
    assert dns.txt_content('say "hi"') == '"say \\"hi\\""'


@pytest.mark.parametrize(
    ("tag", "value", "ok"),
    [
        ("issue", "letsencrypt.org", True),
        ("issue", "letsencrypt.org; validationmethods=dns-01", True),
        ("issue", ";", True),
        ("issuewild", '"sectigo.com"', True),
        ("iodef", "mailto:security@alice.example", True),
        ("iodef", "https://alice.example/caa", True),
        ("iodef", "security@alice.example", False),
        ("issue", "192.0.2.1", False),
        ("issue", "letsencrypt", False),
        ("issue", "letsencrypt.org; nonsense", False),
        ("issue", "", False),
    ],
)
def test_a1_caa_values(tag, value, ok):
    errs = errors_of("CAA", name="@", flags=0, tag=tag, value=value)
    assert (not errs) == ok, errs


def test_a1_caa_flags_and_tag():
    errs = errors_of("CAA", name="@", flags=1, tag="issuer", value="letsencrypt.org")
    assert "0, or 128" in errs["flags"][0]
    assert "issue, issuewild or iodef" in errs["tag"][0]
    ok = cleaned("CAA", name="@", flags=128, tag="issue", value="letsencrypt.org")
    assert ok["flags"] == 128


def test_a1_ptr_only_in_reverse_zones():
    assert "rtype" in errors_of("PTR", value="host.example")


def test_a3_reverse_names_and_zones():
    """A3: PTR names and the reverse zones they live in."""
    assert dns.reverse_pointer("192.0.2.10") == "10.2.0.192.in-addr.arpa."
    assert dns.reverse_zone("192.0.2.10") == "2.0.192.in-addr.arpa."
    assert dns.reverse_pointer("2001:db8::42").endswith(".8.b.d.0.1.0.0.2.ip6.arpa.")
    assert dns.reverse_zone("2001:db8::42") == "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
