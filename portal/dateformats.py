"""The ``date`` template filter with its format read once (make bench).

Django's ``date`` filter splits the format into codes and text with a regular expression
and unescapes the text on every call: 15 µs of the 17 µs a ``{{ invoice.issued_on|date:
"SHORT_DATE_FORMAT" }}`` costs, 27 µs for a date and time, and the invoice list shows 50
dates per view. This filter (a template builtin, so every ``|date`` is this one) keeps the
split format per format string and calls the same ``DateFormat`` methods for each value,
so the text is Django's: the same localized format (``get_format``), the same time zone
handling, the same error for a time code on a date, "" for what is not a date.
"""

from __future__ import annotations

import datetime
from functools import lru_cache
from operator import attrgetter

from django.template import Library
from django.utils.dateformat import DateFormat, TimeFormat, re_escaped, re_formatchars
from django.utils.formats import get_format

register = Library()


@lru_cache(maxsize=512)
def _pieces(format_string: str) -> tuple[tuple[bool, str], ...]:
    """(is a format code, the code or the unescaped text) for each piece of the format."""
    pieces = []
    for index, piece in enumerate(re_formatchars.split(format_string)):
        if index % 2:
            pieces.append((True, piece))
        elif piece:
            pieces.append((False, re_escaped.sub(r"\1", piece)))
    return tuple(pieces)


# The fields of the value that each code's text depends on. Within one render (one
# language, one time zone) the same fields give the same text, so a table's dates look
# each up once (``Dates`` in portal.jinja): the month names and "a.m."/"p.m." are
# translated on every call otherwise (make bench: 44 dates per ticket view). Codes that
# read the time zone or the whole value (c, e, I, O, r, T, U, Z) are not here.
_DEPENDS = {
    code: attrgetter(*fields)
    for codes, fields in (
        ("dSj", ("day",)),
        ("bEFMmNn", ("month",)),
        ("LYy", ("year",)),
        ("aAgGhH", ("hour",)),
        ("fP", ("hour", "minute")),
        ("i", ("minute",)),
        ("s", ("second",)),
        ("u", ("microsecond",)),
        ("DlwWzt", ("year", "month", "day")),
    )
    for code in codes
}


def format_value(value, format_string, memo: dict | None = None) -> str:
    """``django.utils.dateformat.format``: ``value`` in ``format_string``; with ``memo``
    (one render's), each code's text for the same fields is computed once."""
    formatter = None
    date_only = type(value) is datetime.date
    text = []
    for is_code, piece in _pieces(str(format_string)):
        if not is_code:
            text.append(piece)
            continue
        if date_only and hasattr(TimeFormat, piece):
            raise TypeError(  # Django's words
                "The format for date objects may not contain time-related format "
                f"specifiers (found '{piece}')."
            )
        fields = _DEPENDS.get(piece) if memo is not None else None
        if fields is None:
            formatter = formatter or DateFormat(value)
            text.append(str(getattr(formatter, piece)()))
            continue
        # A missing field raises AttributeError, as Django's method for the code does.
        key = (piece, fields(value))
        piece_text = memo.get(key)
        if piece_text is None:
            formatter = formatter or DateFormat(value)
            piece_text = memo[key] = _memo_text(formatter, piece, memo)
        text.append(piece_text)
    return "".join(text)


def _memo_text(formatter: DateFormat, piece: str, memo: dict) -> str:
    """The text of one code, for ``format_value``'s memo. "P" (every minute of a day its
    own) is DateFormat.P's "f a" with the translated "a" from the memo."""
    data = formatter.data
    if piece == "P" and (data.minute or data.hour not in (0, 12)):
        key = ("a", data.hour)
        meridiem = memo.get(key)
        if meridiem is None:
            meridiem = memo[key] = str(formatter.a())
        return f"{formatter.f()} {meridiem}"
    return str(getattr(formatter, piece)())


@register.filter(expects_localtime=True, is_safe=False)
def date(value, arg=None):
    """Django's ``date`` filter: a date in the given format or named format."""
    if value in (None, ""):
        return ""
    return formatted(value, get_format(arg or "DATE_FORMAT"), arg)


def formatted(value, pattern: str, arg, memo: dict | None = None) -> str:
    """``value`` in ``pattern`` (what ``get_format`` made of ``arg``), else in ``arg``
    itself, else "": the fallbacks of Django's ``date`` filter. ``memo``: one render's
    (``format_value``)."""
    try:
        return format_value(value, pattern, memo)
    except AttributeError:
        try:
            return format_value(value, arg, memo)
        except AttributeError:
            return ""
