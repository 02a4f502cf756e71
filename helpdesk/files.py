"""What a file is, judged by its content, never by its name or the sender's word (S24)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# (magic bytes at offset 0, type)
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),  # also docx, xlsx, odt
    (b"PK\x05\x06", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"MZ", "application/x-msdownload"),
    (b"\x7fELF", "application/x-executable"),
    (b"\xca\xfe\xba\xbe", "application/x-mach-binary"),
    (b"\xcf\xfa\xed\xfe", "application/x-mach-binary"),
]
_MARKUP_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml")

# Types a customer may upload in the portal (H1). Mail attachments are kept whatever they
# are, but every file is only ever served as a download (S24).
UPLOAD_TYPES = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/zip",
    "application/gzip",
    "text/plain",
    "text/html",
    "message/rfc822",
}
# Types a download may be labelled with; anything else goes out as octet-stream.
SERVE_AS = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"}


def detect(data: bytes) -> str:
    """The content type of ``data`` from its first bytes."""
    head = data[:512]
    for magic, ctype in _SIGNATURES:
        if head.startswith(magic):
            return ctype
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" in head:
        return "application/octet-stream"
    text = head.decode("utf-8", "replace")
    if text.count("\ufffd") > 2:  # not UTF-8: perhaps Latin-1 text
        text = head.decode("latin-1")
    if any(ch < " " and ch not in "\t\r\n\f\x1b" for ch in text):
        return "application/octet-stream"
    lowered = text.lstrip("\ufeff \t\r\n").lower().encode()
    if lowered.startswith(_MARKUP_STARTS) or b"<script" in lowered or b"<html" in lowered:
        return "text/html"
    if lowered.startswith((b"from:", b"received:", b"return-path:", b"message-id:")):
        return "message/rfc822"
    return "text/plain"


def upload_error(data: bytes) -> str | None:
    """Why a portal upload is refused, or None."""
    ctype = detect(data)
    if ctype not in UPLOAD_TYPES:
        return str(
            _("This kind of file is not accepted. Send documents, images, text or archives.")
        )
    return None


def served_type(content_type: str) -> str:
    return content_type if content_type in SERVE_AS else "application/octet-stream"
