"""S4: forms never take ownership from the request.

Generic, from the URL walk: tenant B's owner opens every form of every page in B's own
customer, fills it as a person would (the form's own values, plausible text), and swaps
every id-like choice — and a few extra fields a careless form might read (``customer``,
``account``, ``owner``, ...) — for the ids of tenant A's objects. Afterwards no row of B's
may point at an object of A's: the database is scanned, relation by relation, for a row of
one tenant that refers to another tenant's object. (Per-feature tests name S4 too.)
"""

import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.db import models
from django.test import Client

from accounts.models import Customer, HostingAccount
from tests.helpers import sign_in
from tests.security import matrix, registry
from tests.security.urlwalk import tenant_routes

pytestmark = [pytest.mark.security, pytest.mark.django_db]

PROJECT_APPS = {"accounts", "billing", "contacts", "hosting", "delegation", "helpdesk"}
# Relations that join two customers by design: a grant's agency, a sub-account's main
# account, a link request's two sides, a collective invoice's lines for its sub-accounts.
CROSS_TENANT = {
    "accounts.Customer.parent",
    "delegation.Grant.agency",
    "delegation.GrantRequest.agency",
    "accounts.SubAccountLinkRequest.main",
    "accounts.SubAccountLinkRequest.sub",
    "billing.InvoiceLine.customer",
}
OWNER_FIELDS = ("customer", "grantor", "main")  # whose row it is, in this order
EXTRA_FIELDS = ("customer", "customer_id", "account", "accounts", "hosting_account", "owner",
                "user", "grantor", "agency", "contact", "membership", "grant", "created_by")  # fmt: skip


class Forms(HTMLParser):
    """The POST forms of a page: action and fields (name -> list of candidate values)."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self._form = {"action": attrs.get("action") or "", "fields": {}, "choices": set()}
            self.forms.append(self._form)
        if self._form is None:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = (attrs.get("type") or "text").lower()
            value = attrs.get("value")
            if kind in {"checkbox", "radio"}:
                self._form["choices"].add(name)
                self._form["fields"].setdefault(name, []).append(value or "on")
            elif kind not in {"submit", "button", "file", "image", "reset"}:
                self._form["fields"][name] = [value if value else plausible(name, kind)]
        elif tag == "textarea" and name:
            self._form["fields"][name] = ["s4 note"]
        elif tag == "select" and name:
            self._select = name
            self._form["choices"].add(name)
            self._form["fields"][name] = []
        elif tag == "option" and self._select:
            if attrs.get("value"):
                self._form["fields"][self._select].append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        if tag == "select":
            self._select = None


def plausible(name: str, kind: str) -> str:
    name = name.lower()
    if kind == "email" or "email" in name:
        return "s4-person@s4.example"
    if kind == "number":
        return "1"
    if kind == "date":
        return "2030-01-31"
    if kind == "datetime-local":
        return "2030-01-31T12:00"
    if kind == "tel" or "phone" in name:
        return "+49 30 1234567"
    if "password" in name:
        return "s4-Secret-passw0rd!"
    return "s4 text"


def tenant_of(obj) -> int | None:
    """The customer a row belongs to, following its owner field or hosting account."""
    if isinstance(obj, Customer):
        return obj.pk
    if isinstance(obj, HostingAccount):
        return obj.customer_id
    for field in OWNER_FIELDS:
        try:
            f = obj._meta.get_field(field)
        except Exception:  # noqa: BLE001, S112 - not this model's owner field
            continue
        if isinstance(f, models.ForeignKey) and f.related_model is Customer:
            return getattr(obj, f.attname)
    for f in obj._meta.concrete_fields:
        if isinstance(f, models.ForeignKey) and f.related_model is HostingAccount:
            target = getattr(obj, f.name)
            return target.customer_id if target else None
    return None


def cross_tenant_rows(family_of: dict[int, str]) -> list[str]:
    """Rows of one tenant family that point at another family's object (not by design)."""
    found = []
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        relations = [
            f for f in model._meta.get_fields()
            if (f.many_to_one or f.many_to_many) and f.concrete
            and f.related_model is not None
            and f"{model._meta.label}.{f.name}" not in CROSS_TENANT
        ]  # fmt: skip
        if not relations:
            continue
        for row in model.objects.all():
            mine = family_of.get(tenant_of(row))
            if mine is None:
                continue
            for field in relations:
                targets = (list(getattr(row, field.name).all()) if field.many_to_many
                           else [getattr(row, field.name)])  # fmt: skip
                for target in targets:
                    if target is None or field.name in OWNER_FIELDS:
                        continue
                    theirs = family_of.get(tenant_of(target))
                    if theirs is not None and theirs != mine:
                        found.append(f"{model._meta.label}#{row.pk}.{field.name} -> "
                                     f"{target._meta.label}#{target.pk} ({mine}->{theirs})")  # fmt: skip
    return found


def foreign_ids(world) -> list[str]:
    """Ids of tenant A's objects of every kind the registry makes, and A's numbers."""
    target = world.targets["A"]
    ids = {str(world.a.pk), str(world.a.number)}
    for route in tenant_routes():
        try:
            for obj in registry.make_objects(route, target).values():
                ids.add(str(registry.url_value(obj)))
        except Exception:  # noqa: BLE001, S112 - a kind the registry cannot make for A
            continue
    ids |= {str(a.pk) for a in world.a.hosting_accounts.all()}
    return sorted(ids, key=int)


def test_s4_forms_never_attach_another_tenants_objects(world):
    """S4: every form of every page of tenant B, posted by B's owner with tenant A's ids in
    every choice and in extra ownership fields, leaves no row of B's pointing at A's."""
    family_of = {world.a.pk: "A", world.a2.pk: "A", world.b.pk: "B", world.b2.pk: "B"}
    assert cross_tenant_rows(family_of) == []
    foreign = foreign_ids(world)
    target = world.targets["B"]
    client = sign_in(Client(), target.owner, target.owner_device)
    posted = accepted = 0
    with matrix.quiet_request_log():
        for route in tenant_routes():
            try:
                objects = registry.make_objects(route, target)
                strings = registry.string_values(route)
            except (registry.NotApplicable, KeyError):
                continue
            values = {**{k: registry.url_value(v) for k, v in objects.items()}, **strings}
            values["customer"] = target.customer.number
            url = route.url(**values)
            page = client.get(url)
            if page.status_code != 200 or "html" not in page.get("Content-Type", ""):
                continue
            parser = Forms()
            parser.feed(page.content.decode(errors="replace"))
            for form in parser.forms:
                action = form["action"] or url
                if not action.startswith("/c/") or "/language/" in action:
                    continue
                data = {}
                for name, candidates in form["fields"].items():
                    if name == "csrfmiddlewaretoken":
                        continue
                    numeric = [c for c in candidates if re.fullmatch(r"\d+", c or "")]
                    if name in form["choices"] and numeric:
                        data[name] = foreign  # every id of A's, for single and multiple
                    else:
                        data[name] = candidates[:1] or ["s4 text"]
                for name in EXTRA_FIELDS:
                    data.setdefault(name, foreign[:3])
                response = client.post(action, data)
                posted += 1
                accepted += response.status_code in (301, 302, 303)
    problems = cross_tenant_rows(family_of)
    assert not problems, "rows of one tenant pointing at another's:\n  " + "\n  ".join(problems)
    assert posted > 10
    print(f"\nS4: {posted} forms posted with the other tenant's ids, {accepted} accepted, "
          "no row crossed tenants")  # fmt: skip


def test_s4_the_scan_finds_a_crossed_row(world):
    """S4: the database scan itself finds a grant of B's that lists an account of A's."""
    from tests.factories import GrantFactory

    grant = GrantFactory(grantor=world.b, agency=world.agency)
    grant.accounts.set([world.granted])  # A's account in B's grant
    family_of = {world.a.pk: "A", world.a2.pk: "A", world.b.pk: "B", world.b2.pk: "B"}
    found = cross_tenant_rows(family_of)
    assert any("delegation.Grant" in f and ".accounts ->" in f for f in found)
