"""Links to the portal's own pages, for tables that show one per row (make bench).

Django's ``reverse`` resolves the view name and checks the result against the URL pattern
on every call: about 35 µs, a third of the cost of an invoice-list row and 4 ms of the
contacts page's 116 links. The portal's links mostly take whole numbers (customer numbers,
ids), and for those a URL is its pattern's fixed text with the numbers in between.

:func:`reverse` learns that text once per view name, argument names and URL configuration
by asking Django's ``reverse`` twice with different numbers, keeps it only when both
answers are the text with the numbers in it, and then puts each call's numbers in. Any
other argument (text, a negative number, a model instance, ``True``), a view name that
does not resolve, and a pattern whose answers are not of that form go to Django's
``reverse`` as before, so the answer (or the ``NoReverseMatch``) is always Django's.
"""

from __future__ import annotations

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import Library, defaulttags
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf
from django.urls import reverse as django_reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

# Two sets of numbers no real link holds, distinct in every digit position.
_PROBES = (7_310_000_000, 8_640_000_000)

# (view name, argument names or count, current app, URL conf, script prefix, language)
# -> (texts around the numbers, the argument each number slot takes) or None.
_learnt: dict[tuple, tuple[tuple[str, ...], tuple[int, ...]] | None] = {}


@receiver(setting_changed)
def _forget(*, setting, **kwargs):
    if setting == "ROOT_URLCONF":
        _learnt.clear()


def reverse(viewname, args=None, kwargs=None, current_app=None) -> str:
    """Django's ``reverse``, faster for view names given whole numbers >= 0."""
    values = tuple(kwargs.values()) if kwargs else tuple(args or ())
    learnt = _learnt_for(viewname, args, kwargs, values, current_app)
    if learnt is None:
        return django_reverse(viewname, args=args, kwargs=kwargs, current_app=current_app)
    return _fill(*learnt, values)


def current_app_of(request):
    """The application a ``{% url %}`` reverses for, as Django's tag chooses it: the
    request's ``current_app`` if it has one, else the namespace of its resolved view."""
    if hasattr(request, "current_app"):
        return request.current_app
    return getattr(getattr(request, "resolver_match", None), "namespace", None)


def reverser(current_app=None):
    """:func:`reverse` with keyword arguments for one template render (a table's links):
    the URL configuration, script prefix and language are read once, not for each link."""
    where = _where()

    def reverse_kwargs(viewname, **kwargs) -> str:
        values = tuple(kwargs.values())
        learnt = _learnt_for(viewname, None, kwargs, values, current_app, where)
        if learnt is None:
            return django_reverse(viewname, kwargs=kwargs, current_app=current_app)
        return _fill(*learnt, values)

    return reverse_kwargs


def _where() -> tuple[str, str, str]:
    """What else a URL depends on: the URL configuration, script prefix and language."""
    return get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), get_language()


def _learnt_for(viewname, args, kwargs, values, current_app, where=None):
    """What was learnt of this view's URL for these arguments' names, or None when the
    arguments are not all whole numbers (or Django's answers cannot be learnt)."""
    if args and kwargs:
        return None
    if not isinstance(viewname, str) or not all(type(v) is int and v >= 0 for v in values):
        return None
    names = tuple(kwargs) if kwargs else len(values)
    key = (viewname, names, current_app, *(where or _where()))
    try:
        return _learnt[key]
    except KeyError:
        learnt = _learnt[key] = _learn(viewname, names, current_app)
        return learnt


def _fill(texts, slots, values) -> str:
    """The URL: the learnt texts with each slot's number between them."""
    parts = [texts[0]]
    for slot, text in zip(slots, texts[1:], strict=True):
        parts += [str(values[slot]), text]
    return "".join(parts)


def _ask(viewname, names, current_app, base: int) -> tuple[str, list[int]]:
    count = len(names) if isinstance(names, tuple) else names
    numbers = [base + 1_010_101 * (n + 1) for n in range(count)]
    if isinstance(names, tuple):
        url = django_reverse(
            viewname, kwargs=dict(zip(names, numbers, strict=True)), current_app=current_app
        )
    else:
        url = django_reverse(viewname, args=numbers, current_app=current_app)
    return url, numbers


def _learn(viewname, names, current_app):
    """The URL's texts around the numbers and which argument goes where, or None when
    Django's answers are not simply the numbers put into fixed text."""
    try:
        first, numbers = _ask(viewname, names, current_app, _PROBES[0])
        second, others = _ask(viewname, names, current_app, _PROBES[1])
    except NoReverseMatch:
        return None
    found = []
    for index, number in enumerate(numbers):
        text = str(number)
        if first.count(text) != 1:
            return None
        found.append((first.index(text), index, len(text)))
    found.sort()
    texts, slots, end = [], [], 0
    for start, index, length in found:
        if start < end:
            return None
        texts.append(first[end:start])
        slots.append(index)
        end = start + length
    texts.append(first[end:])
    if _fill(texts, slots, others) != second:
        return None
    return tuple(texts), tuple(slots)


# --- the {% url %} tag ------------------------------------------------------------------

register = Library()


class URLNode(defaulttags.URLNode):
    """Django's ``{% url %}`` node, reversing with :func:`reverse`."""

    def render(self, context):
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {name: value.resolve(context) for name, value in self.kwargs.items()}
        current_app = current_app_of(getattr(context, "request", None))
        try:
            url = reverse(
                self.view_name.resolve(context), args=args, kwargs=kwargs, current_app=current_app
            )
        except NoReverseMatch:
            if self.asvar is None:
                raise
            url = ""
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    """``{% url %}`` as Django parses it, rendered by :class:`URLNode`."""
    node = defaulttags.url(parser, token)
    node.__class__ = URLNode
    return node
