"""The isolation matrix (S1): every tenant URL x every role x another tenant's objects.

For each URL pattern with a customer number and/or object ids (found by walking the
resolver), and each target tenant, the registry's makers create fresh objects of that
tenant. Every role then asks for them with GET and POST:

- the target's own customer number with the target's object ids, and
- the role's own customer number with the target's object ids ("mixed"),

and must get a 404 (anonymous, unverified and inactive people: a redirect to the login
page; a 405 for a method a view never takes is fine, it is decided before any lookup).
Anything else is a leak: a 2xx, a redirect anywhere but the login page, a 403 (it tells
that the object exists), a 5xx, or a body that shows the target's marker text. One
exception, checked rather than assumed: in the mixed variant a role may lack the
permission a view needs in its own customer, and a 403 is fine when an id that names
nothing gets the same 403 (the answer does not depend on the other tenant's object).

A positive control proves each URL was really reached: the target's own owner asks for the
same URL and must not get a 404. A kwarg no maker knows, a maker that fails, or a control
that answers 404 makes the URL *not reached*, which fails the matrix too.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.test import Client
from django.urls import reverse

from tests.helpers import sign_in
from tests.security import registry
from tests.security.urlwalk import Route, tenant_routes

NOWHERE = 2_147_483_000  # an object id that names nothing


def login_paths() -> set[str]:
    return {reverse("accounts:login"), reverse("admin:login")}


def is_login_redirect(response) -> bool:
    if response.status_code not in (301, 302, 303, 307, 308):
        return False
    return urlsplit(response["Location"]).path in login_paths()


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)
    else:
        content = response.content
    return content.decode("utf-8", errors="replace")


def verdict(expect: str, response, marker: str) -> str | None:
    """None when the answer is the expected refusal; else what is wrong with it."""
    status = response.status_code
    if marker and marker.lower() in body_of(response).lower():
        return f"{status} showing the other tenant's marker {marker!r}"
    if status == 405:
        return None
    if expect == "login":
        return None if is_login_redirect(response) else f"{status} instead of a login redirect"
    if status == 404:
        return None
    if is_login_redirect(response):
        return f"{status}: signed out instead of a 404"
    where = f" to {response['Location']}" if 300 <= status < 400 else ""
    return f"{status}{where} instead of a 404"


@dataclass
class Case:
    route: Route
    target_key: str
    url: str  # target's customer number (or no customer) with the target's ids
    objects: dict
    mixed_kwargs: dict | None = None  # the id kwargs, for the role's own customer number
    strings: dict = field(default_factory=dict)  # slugs and other kwargs that are not ids


@dataclass
class Result:
    requests: int = 0
    leaks: list[str] = field(default_factory=list)
    not_reached: list[str] = field(default_factory=list)
    routes: int = 0

    def line(self) -> str:
        return f"isolation: {self.requests} requests, {len(self.leaks)} leaks"


def build_cases(world, routes=None) -> tuple[list[Case], list[str]]:
    """A case per (tenant URL, target tenant) with fresh objects; problems as strings."""
    routes = tenant_routes() if routes is None else routes
    wanted = {t for role in world.roles for t in role.targets}
    cases, problems = [], []
    for route in routes:
        unknown = [k for k in route.int_kwargs if not registry.known(k)]
        try:
            strings = registry.string_values(route)
        except KeyError as exc:
            unknown.append(f"{exc.args[0]} (not an id: add a value to STRING_VALUES)")
        if unknown:
            problems.append(
                f"{route.label}: no maker for {', '.join(unknown)} "
                f"(add one to tests/security/registry.py MAKERS)"
            )
            continue
        for key in sorted(wanted):
            target = world.targets[key]
            try:
                objects = registry.make_objects(route, target)
            except registry.NotApplicable:
                continue
            except Exception as exc:  # noqa: BLE001 - reported as not reached
                problems.append(f"{route.label} [{key}]: maker failed: {exc!r}")
                continue
            ids = {k: registry.url_value(v) for k, v in objects.items()}
            values = {**ids, **strings}
            if "customer" in route.converters:
                values["customer"] = target.customer.number
            cases.append(
                Case(route, key, route.url(**values), objects,
                     ids if route.id_kwargs else None, strings)
            )  # fmt: skip
    covered = {c.route for c in cases}
    for route in routes:
        if route not in covered and not any(p.startswith(route.label + ":") for p in problems):
            problems.append(f"{route.label}: no target tenant could have its objects")
    return cases, problems


class Controls:
    """The target's owner, verified with two-factor: proves a URL reaches a real object."""

    def __init__(self, world):
        self.clients: dict[str, Client] = {}
        self.world = world

    def client(self, target) -> Client:
        if target.key not in self.clients:
            self.clients[target.key] = sign_in(Client(), target.owner, target.owner_device)
        return self.clients[target.key]

    def get(self, case) -> object:
        return self.client(self.world.targets[case.target_key]).get(case.url)

    def post(self, case) -> object:
        return self.client(self.world.targets[case.target_key]).post(case.url, {})


def reached(response) -> bool:
    return response.status_code != 404 and response.status_code < 500


@contextmanager
def quiet_request_log():
    """Thousands of expected 404s would drown the output of ``pytest -s``."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def run(world, routes=None) -> Result:
    with quiet_request_log():
        return _run(world, routes)


def _run(world, routes=None) -> Result:
    result = Result()
    cases, problems = build_cases(world, routes)
    result.not_reached += problems
    result.routes = len({c.route for c in cases})
    # One client for every role, each with its own cookie jar: a client of its own would
    # load every middleware again (WhiteNoise alone scans the static files for 0.3 s).
    client = Client()
    for role in world.roles:
        role.sign_in(client)

    def send(role, method, url):
        if role.resign_each_request:
            # Signed in again each time: the session guard ends the session it refuses.
            role.sign_in(client)
        client.cookies = role.cookies
        result.requests += 1
        return client.get(url) if method == "GET" else client.post(url, {})

    def ask(role, method, url, marker, case, variant):
        response = send(role, method, url)
        problem = verdict(role.expect, response, marker)
        if problem and variant == "mixed" and response.status_code == 403:
            # With its own customer number a role may lack the permission a view needs:
            # that 403 is decided before any object is looked up. It tells nothing when an
            # id that names nothing gets the very same answer.
            nowhere = case.route.url(
                customer=role.home.number,
                **dict.fromkeys(case.mixed_kwargs, NOWHERE),
                **case.strings,
            )
            if send(role, method, nowhere).status_code == 403:
                problem = None
        if problem:
            result.leaks.append(
                f"{role.key} {method} {url} ({case.route.label}, tenant {case.target_key}, "
                f"{variant}): {problem}"
            )

    deferred_posts = []
    for case in cases:
        target = world.targets[case.target_key]
        for role in world.roles:
            if case.target_key not in role.targets:
                continue
            urls = [("own number", case.url)]
            if case.mixed_kwargs is not None and "customer" in case.route.converters:
                home = role.home.number
                urls.append(
                    ("mixed", case.route.url(customer=home, **case.mixed_kwargs, **case.strings))
                )
            for variant, url in urls:
                for method in ("GET", "POST"):
                    ask(role, method, url, target.marker, case, variant)
        deferred_posts.append(case)
    controls = Controls(world)
    posts = []
    for case in deferred_posts:
        response = controls.get(case)
        if response.status_code == 405:
            posts.append(case)
        elif not reached(response):
            result.not_reached.append(
                f"{case.route.label} [{case.target_key}]: its own owner got "
                f"{response.status_code} for {case.url}; fix the maker in "
                "tests/security/registry.py"
            )
    # POST-only views last: a control POST may change its objects.
    for case in posts:
        response = controls.post(case)
        if not reached(response):
            result.not_reached.append(
                f"{case.route.label} [{case.target_key}]: its own owner got "
                f"{response.status_code} for POST {case.url}; fix the maker"
            )
    return result
