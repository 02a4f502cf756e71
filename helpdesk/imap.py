"""The IMAP intake: fetch unseen messages from the support mailbox and hand each to the
one intake service (H2). A message is marked seen (or moved to IMAP_DONE_FOLDER) only
after the intake has stored what became of it; when the database is unreachable it stays
unseen and is fetched again next time. Fetching twice is harmless: the intake drops a
message it has already seen (S26). The size is asked for before the message is fetched,
so an oversized one is never downloaded (S20)."""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass

from django.conf import settings

from helpdesk import intake

log = logging.getLogger(__name__)
BATCH = 200
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


@dataclass
class PollResult:
    fetched: int = 0
    outcomes: dict | None = None
    stopped: str = ""


def _connect() -> imaplib.IMAP4:
    host, port = settings.IMAP_HOST, settings.IMAP_PORT
    timeout = 30
    if settings.IMAP_SSL:
        conn = imaplib.IMAP4_SSL(
            host, port, ssl_context=ssl.create_default_context(), timeout=timeout
        )
    else:
        conn = imaplib.IMAP4(host, port, timeout=timeout)
    conn.login(settings.IMAP_USER, settings.IMAP_PASSWORD)
    return conn


def _done(conn: imaplib.IMAP4, uid: bytes) -> None:
    folder = settings.IMAP_DONE_FOLDER
    if folder:
        typ, _data = conn.uid("MOVE", uid, folder)
        if typ == "OK":
            return
        log.warning("IMAP MOVE to %s failed; marking the message seen instead", folder)
    conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")


def poll() -> PollResult:
    """Process the unseen messages of IMAP_FOLDER once."""
    result = PollResult(outcomes={})
    if not settings.IMAP_HOST:
        result.stopped = "IMAP_HOST is not set"
        return result
    conn = _connect()
    try:
        if settings.IMAP_DONE_FOLDER:
            conn.create(settings.IMAP_DONE_FOLDER)  # "already exists" is fine
        typ, _data = conn.select(settings.IMAP_FOLDER)
        if typ != "OK":
            raise imaplib.IMAP4.error(f"cannot select {settings.IMAP_FOLDER}")
        typ, data = conn.uid("SEARCH", None, "UNSEEN")
        uids = (data[0] or b"").split()[:BATCH] if typ == "OK" else []
        for uid in uids:
            typ, data = conn.uid("FETCH", uid, "(RFC822.SIZE)")
            match = _SIZE.search(b" ".join(d if isinstance(d, bytes) else b"" for d in data))
            size = int(match.group(1)) if match else 0
            try:
                if size > settings.MAX_INBOUND_MAIL_BYTES:
                    outcome = intake.mail_too_large(size, source="imap").outcome
                else:
                    typ, data = conn.uid("FETCH", uid, "(BODY.PEEK[])")
                    raw = next(
                        (part[1] for part in data if isinstance(part, tuple) and len(part) > 1),
                        None,
                    )
                    if typ != "OK" or raw is None:
                        continue  # gone meanwhile (another poller moved it)
                    outcome = intake.mail_ingest(raw, source="imap").outcome
            except intake.TemporaryFailure:
                result.stopped = "database unavailable"
                break
            _done(conn, uid)
            result.fetched += 1
            result.outcomes[outcome] = result.outcomes.get(outcome, 0) + 1
    finally:
        try:
            conn.logout()
        except Exception:  # noqa: BLE001, S110 - the connection is gone either way
            pass
    return result
