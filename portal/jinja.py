"""The Jinja2 environment for the tables of the portal's list pages (make bench).

Django's template engine spends 3–20 µs on each variable, tag and translated string; a
list page of 25 rows holds 300–800 of them, and they were most of each view's time. The
rows of those tables are Jinja2 templates (``jinja_templates/``), compiled to Python once and
rendered from the page's Django template with ``{% jinja_include %}``
(``portal.templatetags.jinja``); the rest of the portal stays Django templates.

What a table row uses is here, with Django's answers: ``_`` is Django's ``gettext`` (so
``makemessages`` finds the strings, as in a Django template's ``{{ _("…") }}``), ``|fill``
does what ``{% blocktranslate with … %}`` does, ``url`` is ``portal.links.reverse``,
``|date`` is the portal's ``|date`` on the local time, ``|localize`` shows numbers as
Django does, and autoescaping is on.
"""

from __future__ import annotations

import datetime
import html
import re
import types
from functools import lru_cache, partial

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.formats import get_format, localize
from django.utils.translation import get_language_info, gettext, ngettext
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from portal import links
from portal.choices import per_language
from portal.dateformats import date as date_filter
from portal.dateformats import formatted


@lru_cache(maxsize=8)
def _languages(choices: tuple) -> tuple[tuple[str, str], ...]:
    return tuple((code, get_language_info(code)["name_local"]) for code, _name in choices)


def languages() -> tuple[tuple[str, str], ...]:
    """``{% get_language_info_list for LANGUAGES %}``: (code, name in that language)."""
    return _languages(tuple(settings.LANGUAGES))


def url(viewname: str, **kwargs) -> str:
    """``{% url viewname name=value … %}``."""
    return links.reverse(viewname, kwargs=kwargs)


def local_date(value, format_name: str | None = None) -> str:
    """``|date:format_name`` in the current time zone, as Django's filter shows it."""
    if value is None or value == "":
        return ""
    return date_filter(timezone.template_localtime(value), format_name)


class Dates:
    """``|date`` for one render (``{% jinja_include %}``): the current time zone and each
    named format are read once, not for each of a table's dates; the text is
    :func:`local_date`'s."""

    def __init__(self):
        self.zone = timezone.get_current_timezone()
        self.formats: dict[str, str] = {}
        self.memo: dict = {}  # each code's text by the fields it reads (format_value)

    def __call__(self, value, format_name: str | None = None) -> str:
        if value is None or value == "":
            return ""
        if (
            isinstance(value, datetime.datetime)
            and settings.USE_TZ
            and not timezone.is_naive(value)
            and getattr(value, "convert_to_local_time", True)
        ):  # timezone.template_localtime
            value = value.astimezone(self.zone)
        name = format_name or "DATE_FORMAT"
        pattern = self.formats.get(name)
        if pattern is None:
            pattern = self.formats[name] = get_format(name)
        return formatted(value, pattern, format_name, self.memo)


@pass_context
def _date(context, value, format_name: str | None = None) -> str:
    dates = context.get("_dates")
    if dates is None:  # rendered without {% jinja_include %}
        return local_date(value, format_name)
    return dates(value, format_name)


def translator():
    """``gettext`` for one render in the current language, each message looked up once
    per process (Django's lookup goes through the active translation on every call)."""
    memo = per_language("gettext", dict)

    def translate(message: str) -> str:
        text = memo.get(message)
        if text is None:
            text = memo[message] = gettext(message)
        return text

    return translate


def fill(text: str, **values) -> Markup:
    """``{{ _("Sent %(when)s")|fill(when=…) }}`` is ``{% blocktranslate with when=… %}``:
    the translated text as it is (translations may hold markup), the values escaped."""
    return Markup(text) % values  # noqa: S704 - our catalogues' text; values escaped


_NEWLINES = re.compile(r"\r\n|\r")


def linebreaksbr(value) -> Markup:
    """Django's ``|linebreaksbr`` under autoescape, with Django's escaping (``html.escape``,
    as ``django.utils.html.escape``): each line break a ``<br>``. Django's filter went
    through three lazy-aware wrappers per call: a ticket's 50 messages (make bench)."""
    text = str(value) if hasattr(value, "__html__") else html.escape(str(value))
    return Markup(_NEWLINES.sub("\n", text).replace("\n", "<br>"))  # noqa: S704 - escaped


# ``partial``: Django's ``get_FOO_display`` on an instance.
_PLAIN_CALLABLES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType, partial)


class _Context(Context):
    """Jinja2's context with a shorter way to call a plain function or method (a row's
    ``url(…)``, ``contact.is_authorised_now()``): Jinja2 looks for a ``pass_context``
    mark on the callable and on its ``__call__`` for every call (1.1 µs against 0.45,
    25–200 calls a table, make bench). A function, method or ``functools.partial`` has
    no ``__call__`` of its own that could be marked, so its own mark is the one to look
    for; anything else, or anything marked, is called as Jinja2 calls it."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805 - Jinja2's signature
        if type(__obj) not in _PLAIN_CALLABLES or hasattr(__obj, "jinja_pass_arg"):
            return super().call(__obj, *args, **kwargs)
        if kwargs:  # what Jinja2 passes to let marked callables see loop variables
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:  # as Jinja2 answers it
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


def environment(**options) -> Environment:
    options.pop("autoescape", None)
    env = Environment(autoescape=True, **options)
    env.context_class = _Context
    env.globals.update(_=gettext, gettext=gettext, ngettext=ngettext, url=url, languages=languages)
    env.filters.update(
        date=_date,
        fill=fill,
        filesizeformat=filesizeformat,
        linebreaksbr=linebreaksbr,
        localize=localize,  # numbers as a Django template shows them
    )
    return env
