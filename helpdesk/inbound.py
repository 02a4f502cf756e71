"""The one parser of inbound mail: bytes in, a structured result out, never an exception.

It reads no database and sends nothing; ``helpdesk.intake`` decides what the result
becomes (S19). Limits are applied before any parsing (S20): a message over the size limit
is not parsed at all, and attachments beyond the count or size limit are listed as
rejected without being decoded. Every header value it returns is decoded and cleaned of
CR/LF and other control characters (S23); our own control headers are stripped (S22);
HTML bodies are turned into plain text (S25).
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr

import nh3

log = logging.getLogger(__name__)

# Our own control headers: whatever a sender puts in them is thrown away (S22).
OWN_HEADER_PREFIX = "x-portal-"
MAX_PARTS = 200
MAX_DEPTH = 10
MAX_BODY_CHARS = 200_000
MAX_HEADER_CHARS = 2_000
MAX_ADDRESSES = 50
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_MSGID = re.compile(r"<([^<>\s]{1,250})>")
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\\\[\]]{1,64}@[A-Za-z0-9.-]{1,253}$")


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedMail:
    """What the intake needs of one message. ``ok`` is False when it could not be read."""

    size: int
    ok: bool = True
    error: str = ""
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_address: str = ""
    from_name: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    rejected_attachments: list[tuple[str, str]] = field(default_factory=list)
    # Headers that say a machine sent this (S21)
    auto_submitted: str = ""
    precedence: str = ""
    x_loop: str = ""
    return_path: str | None = None
    auto_response_suppress: str = ""
    list_id: str = ""
    is_report: bool = False
    stripped_headers: list[str] = field(default_factory=list)

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this message answers, nearest first (In-Reply-To, then References
        from the end)."""
        seen, ids = set(), []
        for value in [*self.in_reply_to, *reversed(self.references)]:
            if value not in seen:
                seen.add(value)
                ids.append(value)
        return ids


def clean_text(value: str, limit: int = MAX_HEADER_CHARS) -> str:
    """Header text on one line: CR, LF and other control characters become one space (S23)."""
    value = _HEADER_CONTROL.sub(" ", value or "")
    return " ".join(value.split())[:limit]


def clean_filename(value: str) -> str:
    """A file name safe for disk, logs and Content-Disposition: no path, no controls."""
    value = unicodedata.normalize("NFC", clean_text(value, 400))
    value = value.replace("\\", "/").rsplit("/", 1)[-1]
    value = re.sub(r'[<>:"|?*;]', "_", value).strip(" .")
    if len(value) > 150:
        stem, dot, ext = value.rpartition(".")
        value = (stem[:140] + dot + ext[:9]) if dot and len(ext) < 10 else value[:150]
    return value or "attachment"


def html_to_text(markup: str) -> str:
    """Plain text of an HTML body: every tag removed by nh3 (scripts and styles with their
    content), entities decoded. Shown escaped like any text (S25)."""
    markup = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</li\s*>|</tr\s*>|</h\d\s*>", "\n", markup)
    text = html.unescape(nh3.clean(markup, tags=set()))
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_body(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)[:MAX_BODY_CHARS].strip()


def _decode_header(raw) -> str:
    if raw is None:
        return ""
    try:
        text = str(make_header(decode_header(str(raw))))
    except Exception:  # noqa: BLE001 - malformed encoded words: fall back to the raw text
        text = str(raw)
    return clean_text(text.encode("utf-8", "replace").decode("utf-8"))


def _header(msg: Message, name: str) -> str:
    try:
        return _decode_header(msg.get(name))
    except Exception:  # noqa: BLE001
        return ""


def _all_headers(msg: Message, name: str) -> list[str]:
    try:
        return [_decode_header(v) for v in (msg.get_all(name) or [])]
    except Exception:  # noqa: BLE001
        return []


def normalise_address(value: str) -> str:
    """A lower-case bare address, or "" when it does not look like one."""
    value = clean_text(value, 320).strip().strip("<>").lower()
    # 254: the longest address SMTP carries, and what every address column holds.
    return value if len(value) <= 254 and _ADDRESS.match(value) else ""


def _addresses(msg: Message, *names: str) -> list[str]:
    values = []
    for name in names:
        values.extend(_all_headers(msg, name))
    result = []
    try:
        pairs = getaddresses(values)
    except Exception:  # noqa: BLE001
        pairs = []
    for _name, address in pairs:
        address = normalise_address(address)
        if address and address not in result:
            result.append(address)
        if len(result) >= MAX_ADDRESSES:
            break
    return result


def _message_ids(value: str) -> list[str]:
    return [m.lower() for m in _MSGID.findall(value or "")][:50]


def _charset(part: Message) -> str:
    try:
        charset = part.get_content_charset() or "utf-8"
        "".encode(charset)  # LookupError for unknown charsets
        return charset
    except Exception:  # noqa: BLE001
        return "utf-8"


def _decoded_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(_charset(part), "replace")
    except Exception:  # noqa: BLE001
        return payload.decode("utf-8", "replace")


def _encoded_size(part: Message) -> int:
    payload = part.get_payload()
    if isinstance(payload, str):
        encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
        return len(payload) * 3 // 4 if encoding == "base64" else len(payload)
    return 0


class _Walker:
    """Collects the body text and attachments, depth-first, within the limits."""

    def __init__(self, result: ParsedMail, max_attachments: int, max_attachment_bytes: int):
        self.result = result
        self.max_attachments = max_attachments
        self.max_attachment_bytes = max_attachment_bytes
        self.plain: list[str] = []
        self.html: list[str] = []
        self.parts = 0

    def walk(self, part: Message, depth: int = 0) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS or depth > MAX_DEPTH:
            return
        ctype = (part.get_content_type() or "text/plain").lower()
        if ctype in ("multipart/report",) or ctype.startswith("message/delivery-status"):
            self.result.is_report = True
        if part.is_multipart():
            if ctype == "message/rfc822":
                self._attach(part, "message/rfc822", "message.eml")
                return
            payload = part.get_payload()
            if isinstance(payload, list):
                for child in payload:
                    if isinstance(child, Message):
                        self.walk(child, depth + 1)
            return
        filename = ""
        try:
            filename = part.get_filename() or ""
        except Exception:  # noqa: BLE001
            filename = ""
        disposition = str(part.get("content-disposition", "")).split(";")[0].strip().lower()
        if not filename and disposition != "attachment":
            if ctype == "text/plain":
                self.plain.append(_decoded_text(part))
                return
            if ctype == "text/html":
                self.html.append(_decoded_text(part))
                return
            if ctype.startswith("multipart/"):
                return
        self._attach(part, ctype, _decode_header(filename) or "attachment")

    def _attach(self, part: Message, ctype: str, filename: str) -> None:
        name = clean_filename(filename)
        if len(self.result.attachments) >= self.max_attachments:
            self.result.rejected_attachments.append((name, "too many attachments"))
            return
        if _encoded_size(part) > self.max_attachment_bytes:
            self.result.rejected_attachments.append((name, "too large"))
            return
        if ctype == "message/rfc822":
            try:
                data = part.get_payload(0).as_bytes()
            except Exception:  # noqa: BLE001
                data = b""
        else:
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                data = b""
        if len(data) > self.max_attachment_bytes:
            self.result.rejected_attachments.append((name, "too large"))
            return
        self.result.attachments.append(
            ParsedAttachment(filename=name, content_type=clean_text(ctype, 100), data=data)
        )

    def text(self) -> str:
        plain = "\n\n".join(t for t in self.plain if t.strip())
        if plain.strip():
            return clean_body(plain)
        return clean_body("\n\n".join(html_to_text(h) for h in self.html))


def parse(
    raw: bytes, *, max_bytes: int, max_attachments: int, max_attachment_bytes: int
) -> ParsedMail:
    """Read one RFC 822 message. Never raises: a message that cannot be read comes back
    with ``ok=False`` and the reason in ``error``."""
    size = len(raw) if isinstance(raw, bytes | bytearray) else 0
    result = ParsedMail(size=size)
    if not isinstance(raw, bytes | bytearray):
        result.ok, result.error = False, "not bytes"
        return result
    if size > max_bytes:  # S20: nothing of it is parsed
        result.ok, result.error = False, "too large"
        return result
    try:
        _parse_into(bytes(raw), result, max_attachments, max_attachment_bytes)
    except Exception as exc:  # noqa: BLE001 - S19: the parser never raises
        log.info("unreadable inbound mail: %s", clean_text(repr(exc), 200))
        result.ok, result.error = False, clean_text(f"unreadable: {type(exc).__name__}", 200)
    return result


def _parse_into(raw: bytes, result: ParsedMail, max_attachments, max_attachment_bytes) -> None:
    # compat32 keeps malformed headers as they are instead of raising while reading them.
    msg = message_from_bytes(raw, policy=compat32)
    for name in {k.lower() for k in msg.keys()}:
        if name.startswith(OWN_HEADER_PREFIX):
            result.stripped_headers.append(clean_text(name, 100))
            del msg[name]
    if not msg.keys():
        result.ok, result.error = False, "no headers"
        return
    result.message_id = next(iter(_message_ids(_header(msg, "message-id"))), "")
    result.in_reply_to = _message_ids(_header(msg, "in-reply-to"))
    result.references = _message_ids(" ".join(_all_headers(msg, "references")))
    from_value = _header(msg, "from")
    try:
        name, address = parseaddr(from_value)
    except Exception:  # noqa: BLE001
        name, address = "", ""
    result.from_address = normalise_address(address)
    result.from_name = clean_text(name, 150)
    result.to = _addresses(msg, "to")
    result.cc = _addresses(msg, "cc")
    result.subject = _header(msg, "subject")[:200]
    result.auto_submitted = _header(msg, "auto-submitted").lower()
    result.precedence = _header(msg, "precedence").lower()
    result.x_loop = _header(msg, "x-loop").lower()
    result.auto_response_suppress = _header(msg, "x-auto-response-suppress").lower()
    result.list_id = _header(msg, "list-id")
    if "return-path" in msg:
        result.return_path = _header(msg, "return-path").strip().strip("<>").strip()
    walker = _Walker(result, max_attachments, max_attachment_bytes)
    walker.walk(msg)
    result.text = walker.text()
    if msg.defects and not result.from_address and not result.text:
        result.ok = False
        result.error = clean_text(f"malformed: {type(msg.defects[0]).__name__}", 200)
