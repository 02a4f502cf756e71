"""Tokens never reach a log (S11).

Password-reset, set-password, invitation and confirmation links carry their secret in the
URL path. Django's "Not Found: /path" warnings and gunicorn's access log would write it
down; this module masks every path segment or query value that looks like a token before
a line is written: 16 characters or more that are not plain words ("end-others").

Used by ``LOGGING`` in the settings (a filter on the handlers) and by ``gunicorn.conf.py``
(the access log's logger class).
"""

from __future__ import annotations

import logging
import re

MASK = "[redacted]"
_CANDIDATE = re.compile(r"(?<=[/=])([A-Za-z0-9_\-:.~%]{16,})(?=[/?&#\s\"']|$)")
_WORDS = re.compile(r"[a-z]+(?:[-_.][a-z]+)*")
# Hashed static file names (bootstrap.min.deb991cdf0ea.css) are not secrets.
_STATIC = re.compile(r"[\w.-]+\.(?:css|js|mjs|map|png|svg|ico|jpg|webp|woff2?|ttf|txt)")


def _mask(match: re.Match) -> str:
    segment = match.group(1)
    if _WORDS.fullmatch(segment) or _STATIC.fullmatch(segment):
        return segment
    return MASK


def redact(text: str) -> str:
    """``text`` with every token-like URL segment or query value replaced by a mask."""
    if not text or not isinstance(text, str):
        return text
    return _CANDIDATE.sub(_mask, text)


class RedactTokensFilter(logging.Filter):
    """A logging filter that masks tokens in a record's message and string arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


try:  # gunicorn is only there where the web process runs
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = None

if _GunicornLogger is not None:

    class GunicornLogger(_GunicornLogger):
        """gunicorn's logger with request line, path, query and referrer masked (S11)."""

        def atoms(self, resp, req, environ, request_time):
            atoms = super().atoms(resp, req, environ, request_time)
            for key in ("r", "U", "q", "f"):
                if key in atoms:
                    atoms[key] = redact(atoms[key])
            return atoms
