"""Every URL pattern of the portal, found by walking the resolver itself (S1, S2).

The isolation matrix and the deny-by-default test are generated from this list, not from a
hand-kept one, so that a new view is covered the moment its URL exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import IntConverter
from django.urls.resolvers import RegexPattern, RoutePattern


@dataclass(frozen=True)
class Route:
    """One URL pattern: its full route text, name, and the converters of its kwargs."""

    name: str  # "namespace:name", or "" when the pattern has no name
    route: str  # the full route, e.g. "c/<int:customer>/contacts/<int:contact>/"
    converters: dict = field(default_factory=dict, compare=False, hash=False)
    regex: bool = False  # a re_path somewhere in its chain (the admin's)
    callback: object = field(default=None, compare=False, hash=False, repr=False)

    @property
    def kwargs(self) -> list[str]:
        return list(self.converters)

    @property
    def int_kwargs(self) -> list[str]:
        return [k for k, c in self.converters.items() if isinstance(c, IntConverter)]

    @property
    def id_kwargs(self) -> list[str]:
        """Integer kwargs other than the customer number: object ids."""
        return [k for k in self.int_kwargs if k != "customer"]

    @property
    def takes_ids(self) -> bool:
        """A tenant URL: the customer number and/or an object id in the path (S1)."""
        return bool(self.int_kwargs)

    @property
    def label(self) -> str:
        return self.name or "/" + self.route

    def url(self, **values) -> str:
        """The path with each ``<conv:name>`` (or ``(?P<name>...)``) replaced by ``values``."""
        text = self.route
        for key, value in values.items():
            literal = str(value).replace("\\", "\\\\")
            text = re.sub(rf"\(\?P<{key}>[^)]*\)", literal, text)
            text = re.sub(rf"<(?:\w+:)?{key}>", literal, text)
        if self.regex:
            text = text.replace("^", "").replace("$", "").replace("\\", "")
        return "/" + text


def _route_text(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return str(pattern._route)
    if isinstance(pattern, RegexPattern):
        return str(pattern._regex)
    return str(pattern)


def _regex_kwargs(pattern) -> dict:
    if isinstance(pattern, RegexPattern):
        return {name: None for name in pattern.regex.groupindex}
    return {}


def walk(resolver=None, prefix="", namespaces=(), converters=None, regex=False) -> list[Route]:
    """All URL patterns under ``resolver`` (the root one by default), recursively."""
    resolver = resolver or get_resolver()
    converters = dict(converters or {})
    routes: list[Route] = []
    for entry in resolver.url_patterns:
        text = (
            prefix + _route_text(entry.pattern).lstrip("^")
            if prefix
            else _route_text(entry.pattern)
        )
        conv = {**converters, **getattr(entry.pattern, "converters", {})}
        conv.update({k: v for k, v in _regex_kwargs(entry.pattern).items() if k not in conv})
        is_regex = regex or isinstance(entry.pattern, RegexPattern)
        if isinstance(entry, URLResolver):
            ns = (*namespaces, entry.namespace) if entry.namespace else namespaces
            routes += walk(entry, text.rstrip("$"), ns, conv, is_regex)
        elif isinstance(entry, URLPattern):
            name = ":".join((*namespaces, entry.name)) if entry.name else ""
            routes.append(Route(name, text, conv, is_regex, entry.callback))
    return routes


def tenant_routes() -> list[Route]:
    """Every pattern with a customer number and/or an integer object id (S1)."""
    return [r for r in walk() if r.takes_ids and not r.name.startswith("admin:")]
