"""What the accessibility tests share: the portal's pages found from its URL patterns,
ways to fill their parameters from the data in the database, signing in through the
browser, and axe-core run on each page.

Pages are not listed by hand. Every named URL pattern outside the admin is a page to
check: ``customer`` takes the customer number, an ``<int:...>`` parameter named after a
model (``contact``, ``grant``, ``ticket``, ``record``, ...) takes the id of one of that
customer's rows, tried in turn until the page answers 200. Parameters that no row can
fill (tokens, keys) need a line in ``SPECIAL`` below. The coverage test fails for any
page that no role could reach, so a new page is either checked or named.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlparse

from axe_playwright_python.sync_playwright import Axe
from django.apps import apps
from django.db import models
from django.db.models import Q
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from playwright.sync_api import Error as PlaywrightError

from tests.a11y.plugin import TALLY

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]}
AXE_SCRIPT = Axe().axe_script
FIRST_PARTY = {"accounts", "contacts", "delegation", "helpdesk", "hosting", "portal", "billing"}
PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
TEXT_FIELDS = (
    "input:not([type]), input[type=text], input[type=email], input[type=password], "
    "input[type=number], input[type=url], input[type=tel], input[type=search], "
    "input[type=date], input[type=datetime-local], input[type=time], textarea"
)
# The portal's own form rules, checked on every page beside axe (3.3.1, 3.3.2, 1.3.1):
# a required field says so in its label, an invalid field names its error with
# aria-describedby, and a page with invalid fields has the error summary with a link to
# each of them.
PORTAL_FORM_CHECKS = """() => {
  const problems = [];
  const main = document.querySelector("main") || document.body;
  const named = (el) => el.id ? `#${el.id}` : el.name ? `[name=${el.name}]` : el.tagName;
  for (const el of main.querySelectorAll("input[required], select[required], textarea[required]")) {
    if (el.type === "hidden") continue;
    const fieldset = el.closest("fieldset");
    const label = (el.type === "radio" || el.type === "checkbox") && fieldset
      ? fieldset.querySelector("legend") : (el.labels && el.labels[0]);
    if (!label || !label.querySelector(".required"))
      problems.push(`required field ${named(el)} is not marked "(required)" in its label`);
  }
  const invalid = [...main.querySelectorAll("[aria-invalid=true]")];
  for (const el of invalid) {
    // a group of checkboxes or radio buttons is described as a whole by its fieldset
    const holder = (el.type === "checkbox" || el.type === "radio") && el.closest("fieldset[aria-describedby]") || el;
    const ids = (holder.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean);
    const error = ids.map((id) => document.getElementById(id))
      .find((node) => node && node.classList.contains("invalid-feedback"));
    if (!error) problems.push(`invalid field ${named(el)} does not name its error (aria-describedby)`);
  }
  if (invalid.length) {
    const summary = main.querySelector(".error-summary");
    if (!summary) problems.push("invalid fields but no error summary");
    else for (const el of invalid) {
      if (el.id && !summary.querySelector(`a[href="#${el.id}"]`) && !el.closest("fieldset"))
        problems.push(`error summary has no link to ${named(el)}`);
    }
  }
  return problems;
}"""
# Parameter names that are not the model's own name.
ALIASES = {
    "account": "accounts.hostingaccount",
    "member": "accounts.membership",
    "sub_account": "accounts.customer",
    "sub": "accounts.customer",
    "event": "accounts.auditevent",
    "record": "hosting.dnsrecord",
    "link_request": "accounts.subaccountlinkrequest",
}
# Values to try for parameters that are words, not ids.
PARAM_VALUES: dict[str, list[str]] = {
    "kind": ["php-version", "storage", "reboot"],  # hosting:changerequest_create
}
# Routes that are not pages anyone navigates to (name -> why).
EXEMPT: dict[str, str] = {
    "health": "plain-text health check for the load balancer",
}


@dataclass(frozen=True)
class Route:
    name: str  # "contacts:contact_list"
    route: str  # "c/<int:customer>/contacts/"
    params: tuple[tuple[str, str], ...]  # (converter, name)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(name for _converter, name in self.params)

    def url(self, values: dict) -> str:
        return "/" + PARAM.sub(lambda m: str(values[m["name"]]), self.route)


def _walk(resolver, prefix: str, namespace: str) -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = f"{namespace}{entry.name}" if entry.name else route
            if not isinstance(entry.pattern, RoutePattern):
                TALLY.unresolved[name] = f"regular-expression pattern {route!r}: use path()"
                continue
            params = tuple((m["converter"] or "str", m["name"]) for m in PARAM.finditer(route))
            yield Route(name, route, params)


def portal_routes() -> list[Route]:
    """Every URL pattern of the portal except the admin (checked on its own)."""
    return [r for r in _walk(get_resolver(), "", "") if r.name not in EXEMPT]


# --- Filling parameters from the database ---------------------------------------------


def _models_by_name() -> dict[str, type[models.Model]]:
    found = {}
    for model in apps.get_models():
        if model._meta.app_label in FIRST_PARTY:
            found.setdefault(model._meta.model_name, model)
    for alias, label in ALIASES.items():
        try:
            found.setdefault(alias, apps.get_model(label))
        except LookupError:
            pass
    return found


def param_model(name: str) -> type[models.Model] | None:
    """The model an ``<int:name>`` parameter refers to: ``contact`` → Contact,
    ``dns_record``/``dnsrecord`` → DNSRecord, ``account`` → HostingAccount."""
    by_name = _models_by_name()
    for candidate in (name, name.replace("_", ""), name.removesuffix("_id")):
        if candidate in by_name:
            return by_name[candidate]
    return None


def customer_paths(model, depth: int = 3) -> list[str]:
    """Lookups from ``model`` to a Customer through foreign keys (``customer``,
    ``grantor``, ``agency``, ``account__customer``, ``ticket__customer``, ...)."""
    customer_model = apps.get_model("accounts", "Customer")
    if model is customer_model:
        return ["parent", "id"]
    paths, frontier = [], [("", model)]
    for _level in range(depth):
        following = []
        for prefix, current in frontier:
            for f in current._meta.get_fields():
                if not (f.many_to_one or f.one_to_one) or not f.concrete:
                    continue
                lookup = f"{prefix}{f.name}"
                if f.related_model is customer_model:
                    paths.append(lookup)
                elif f.related_model._meta.app_label in FIRST_PARTY:
                    following.append((lookup + "__", f.related_model))
        if paths:
            return paths
        frontier = following
    return paths


def candidates(model, customer, limit: int = 6) -> list:
    """Up to ``limit`` rows of ``model`` that belong to ``customer``, newest first."""
    paths = customer_paths(model)
    if not paths:
        return list(model.objects.order_by("-pk")[:limit])
    query = Q()
    for path in paths:
        query |= Q(**{path: customer.pk if path == "id" else customer})
    return list(model.objects.filter(query).distinct().order_by("-pk")[:limit])


def param_value(obj) -> object:
    customer_model = apps.get_model("accounts", "Customer")
    return obj.number if isinstance(obj, customer_model) else obj.pk


# Routes whose parameters come from elsewhere: name -> function(harness) that returns
# a list of parameter dicts to try (tokens are made the way the app makes them).
SPECIAL: dict[str, Callable[[RoleRun], list[dict]]] = {}


def special(*names):
    def register(func):
        for name in names:
            SPECIAL[name] = func
        return func

    return register


@special("accounts:password_reset_confirm", "accounts:set_password")
def _password_token(run: RoleRun) -> list[dict]:
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    user = run.subject_user
    if user is None:
        return []
    return [
        {
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        }
    ]


# Pages reached only through another page (a form that leads there): name ->
# function(run) that gets the browser there and answers whether it did.
FLOWS: dict[str, Callable[[RoleRun], bool]] = {}


def flow(name):
    def register(func):
        FLOWS[name] = func
        return func

    return register


@flow("accounts:invitation_accept")
def _invitation_accept(run: RoleRun) -> bool:
    """Invite someone as the owner of a customer, open the mailed link, send its code."""
    from django.core import mail

    from accounts.models import Membership
    from accounts.services import invitation_create

    membership = Membership.objects.filter(is_owner=True).order_by("pk").first()
    if membership is None:
        return False
    before = len(mail.outbox)
    invitation_create(
        customer=membership.customer,
        email=f"invited-{run.role}@example.com",
        permissions={"can_view_products": True},
        by=membership.user,
    )
    link = next((m.body for m in mail.outbox[before:] if "/invitations/#" in m.body), "")
    match = re.search(r"/invitations/#(\S+)", link)
    if not match:
        return False
    run.page.goto(f"{run.base_url}/invitations/#{match[1]}")
    run.audit("filled")  # the invitation page with its code filled in
    with run.page.expect_navigation(wait_until="load"):
        run.page.locator("main form button[type=submit]").click()
    return run.page.url.endswith("/invitations/accept/")


# --- Running axe in the browser --------------------------------------------------------


class RouteWalker:
    """Visits every route a role can reach: subclasses say what a visit is (a browser
    page checked by axe; a page's text read through the test client)."""

    role: str
    customers: list

    def visit(self, route: Route | None, path: str, state: str) -> int:
        raise NotImplementedError

    def run_flow(self, route: Route, state: str) -> None:
        """Pages reached only through a form need a browser: nothing by default."""

    def visit_routes(self, routes: Iterable[Route], state: str, plain: bool = True):
        """Every route this role can reach, each once per state (and per account kind).
        ``plain=False`` leaves out pages without a customer (sign-in, security)."""
        for route in routes:
            names = route.param_names
            if route.name in FLOWS:
                if plain:
                    self.run_flow(route, state)
            elif not names:
                if plain:
                    self.visit(route, route.url({}), state)
            elif route.name in SPECIAL:
                if plain:
                    for values in SPECIAL[route.name](self):
                        if self.visit(route, route.url(values), state) == 200:
                            break
            elif "customer" in names:
                self._visit_customer_route(route, state)
            else:
                TALLY.unresolved.setdefault(
                    route.name,
                    f"parameters {names}: add a way to build it to SPECIAL in "
                    "tests/a11y/harness.py",
                )

    def _visit_customer_route(self, route: Route, state: str) -> None:
        """Tries the role's customers in turn, and for each parameter the customer's rows
        (or PARAM_VALUES); checks the first page that answers 200 — one per kind of hosting
        account and per word value, since those pages differ."""
        others = [n for n in route.param_names if n != "customer"]
        for customer in self.customers:
            choices = []
            for name in others:
                if name in PARAM_VALUES:
                    choices.append([(name, value) for value in PARAM_VALUES[name]])
                    continue
                model = param_model(name)
                if model is None:
                    TALLY.unresolved.setdefault(
                        route.name, f"no model named {name!r}: add it to ALIASES or PARAM_VALUES"
                    )
                    return
                choices.append([(name, row) for row in candidates(model, customer)])
            done, found = set(), False
            for combo in itertools.islice(itertools.product(*choices), 40):
                variant = tuple(
                    row if isinstance(row, str) else getattr(row, "kind", None)
                    for _name, row in combo
                )
                if variant in done:
                    continue
                values = {"customer": customer.number}
                values.update(
                    {n: row if isinstance(row, str) else param_value(row) for n, row in combo}
                )
                if self.visit(route, route.url(values), state) in (200, 405):
                    found = True
                    done.add(variant)
                    if not any(variant):
                        break
            if found:
                return
        if self.customers:
            TALLY.unresolved.setdefault(
                route.name, f"no 200 answer for {self.role}; the seeded data may lack a row"
            )


@dataclass
class RoleRun(RouteWalker):
    """One role's visit of the portal in one browser context."""

    role: str
    page: object
    base_url: str
    customers: list = field(default_factory=list)  # customers to act for, best first
    subject_user: object = None  # the signed-in user (or one to make tokens for)
    seen: set = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    form_pages: list[str] = field(default_factory=list)
    checked: int = 0
    spare: object = None  # a second tab of the same context (see audit)
    _pending: tuple | None = None

    def __post_init__(self):
        TALLY.roles.add(self.role)

    # One page ------------------------------------------------------------------------

    def open(self, path: str) -> tuple[int, str]:
        """Goes to ``path``; returns the status and content type. (Chromium refuses to
        show some error answers, such as an empty 405: those are asked for again.)"""
        url = self.base_url + path
        try:
            response = self.page.goto(url, wait_until="load")
        except PlaywrightError:
            answer = self.page.request.get(url, max_redirects=0)
            return answer.status, answer.headers.get("content-type", "")
        if response is None:
            return 200, "text/html"
        return response.status, response.headers.get("content-type", "")

    def audit(self, state: str, once_key: str | None = None, wait: bool = True) -> bool:
        """Runs axe on the page as it is now; once per path and state (or ``once_key``).

        ``wait=False`` with a ``spare`` tab: axe keeps running in this tab while the next
        page loads in the other one (the tabs swap); its result is collected before that
        tab is used again, or by ``finish()``."""
        path = urlparse(self.page.url).path
        key = (once_key or path, state)
        if key in self.seen:
            return False
        self.seen.add(key)
        page = self.page
        page.evaluate(AXE_SCRIPT)
        page.evaluate(
            "options => { window.__axeResults = axe.run(document, options); }", AXE_OPTIONS
        )
        own = [] if path.startswith("/admin/") else page.evaluate(PORTAL_FORM_CHECKS)
        self.problems += [f"[{self.role} · {state}] {path}: portal form rule: {p}" for p in own]
        self.checked += 1
        TALLY.pages += 1
        TALLY.violations += len(own)
        self.finish()  # the other tab's run, if any
        self._pending = (page, state, path)
        if wait or self.spare is None:
            self.finish()
        else:
            self.page, self.spare = self.spare, self.page
        return True

    def finish(self) -> None:
        """Collects the axe result still running in the other tab."""
        if self._pending is None:
            return
        page, state, path = self._pending
        self._pending = None
        violations = page.evaluate("() => window.__axeResults")["violations"]
        TALLY.violations += len(violations)
        for v in violations:
            targets = ", ".join(" ".join(n["target"]) for n in v["nodes"][:4])
            self.problems.append(
                f"[{self.role} · {state}] {path}: {v['id']} ({v['impact']}) {v['help']}"
                f" — {len(v['nodes'])}× e.g. {targets}"
            )

    def run_flow(self, route: Route, state: str) -> None:
        if FLOWS[route.name](self):
            self.audit(state)
            TALLY.handled(route.name, "checked")

    def visit(self, route: Route | None, path: str, state: str) -> int:
        """Opens a page, checks it if it is an HTML page that answered 200, notes the
        route as handled. Returns the status."""
        status, content_type = self.open(path)
        name = route.name if route else path
        if status == 405:
            if route:
                TALLY.handled(name, "post-only")
            return status
        if status == 200 and "text/html" not in content_type:
            if route:
                TALLY.handled(name, "not-html")
            return status
        if status == 200:
            if route:
                TALLY.handled(name, "checked")
            if self.page.locator("main form[method=post], main form[method=POST]").count():
                self.form_pages.append(self.page.url)
            self.audit(state, wait=False)
        return status

    # Many pages ----------------------------------------------------------------------

    def submit_forms_empty(self, paths: Iterable[str] | None = None) -> None:
        """Each page's forms in <main> sent with their text fields empty: the error state.

        Forms without a text field (action buttons) are left alone."""
        for url in list(dict.fromkeys(paths if paths is not None else self.form_pages)):
            self.page.goto(url)
            count = self.page.locator("main form[method=post], main form[method=POST]").count()
            for index in range(count):
                if index:
                    self.page.goto(url)
                form = self.page.locator("main form[method=post], main form[method=POST]").nth(
                    index
                )
                if not form.count() or not form.locator(TEXT_FIELDS).count():
                    continue
                form.evaluate(
                    """(form, selector) => {
                        form.noValidate = true;
                        for (const el of form.querySelectorAll(selector)) el.value = "";
                    }""",
                    TEXT_FIELDS,
                )
                with self.page.expect_navigation(wait_until="load"):
                    form.evaluate("form => form.requestSubmit()")
                self.audit("form errors", once_key=f"{urlparse(url).path}#{index}", wait=False)
        self.finish()

    def report(self) -> str:
        self.finish()
        return "\n".join(self.problems)


# --- Signing in -------------------------------------------------------------------------


def sign_in(page, base_url: str, email: str, password: str, device=None, offset: int = 0):
    """Signs in through the login page (and the two-factor step with ``device``)."""
    from tests.helpers import totp_code

    page.goto(base_url + "/login/")
    page.locator("#id_username").fill(email)
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    if device is not None:
        page.locator("#id_code").fill(totp_code(device, offset=offset))
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state()
    if "/login" in page.url:
        raise AssertionError(f"sign-in of {email} failed at {page.url}")


# --- The admin -------------------------------------------------------------------------

# Admin views that are the same template for every model: checked for one model only.
ADMIN_ONCE = ("_history", "_delete")
# Admin views that are not pages (name -> why).
ADMIN_EXEMPT = {
    "helpdesk_ticket_attachment": "a file download",
    "helpdesk_inboundmail_raw": "the raw message as a download",
    "otp_totp_totpdevice_qrcode": "an image",
}


def admin_pages() -> list[tuple[str, str]]:
    """(URL name, path) of the admin's pages: the index, one app's index (all are the
    same template), and for every registered model its list, add form, change form for
    one row and its own extra views (with ``object_id`` filled); history and delete
    confirmation for one model."""
    from django.contrib import admin

    pages = [("admin:index", "/admin/"), ("admin:password_change", "/admin/password_change/")]
    app_labels = sorted({m._meta.app_label for m in admin.site._registry})
    pages += [(f"admin:app_list:{label}", f"/admin/{label}/") for label in app_labels[:1]]
    once_done = set()
    for model, model_admin in sorted(
        admin.site._registry.items(), key=lambda item: item[0]._meta.label
    ):
        prefix = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        row = model.objects.order_by("pk").first()
        for pattern in model_admin.get_urls():
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            name = pattern.name
            if name.endswith("_autocomplete") or name in ADMIN_EXEMPT:
                continue
            suffix = next((s for s in ADMIN_ONCE if name.endswith(s)), None)
            if suffix:
                if suffix in once_done or row is None:
                    continue
                once_done.add(suffix)
            route = str(pattern.pattern)
            params = [m["name"] for m in PARAM.finditer(route)]
            if params and row is None:
                continue
            if len(params) > 1 or (params and params[0] not in ("object_id", "id", "pk")):
                TALLY.unresolved.setdefault(f"admin:{name}", f"admin parameters {params}")
                continue
            path = prefix + PARAM.sub(lambda m, pk=row.pk if row else None: str(pk), route)
            pages.append((f"admin:{name}", path))
    return pages
