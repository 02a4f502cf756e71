"""S3 (with D4): a delegate never sees the grantor's contract data.

The generic version, beside tests/delegation/test_isolation.py: the contract-data models
are *declared* (``CONTRACT_DATA_MODELS``) and the declaration is checked against the
models present, so a new invoice-like model cannot be left out; every free-text field of
every such row of the grantor gets a unique marker, as do the grantor's contacts (phone
password, restrictions), its people (names, addresses) and its accounts that were not
granted. Then every page the URL walk yields is rendered for the delegate — with the
grantor's number, the agency's number, the granted account and objects of every kind the
isolation registry can make — downloads included, and every mail the agency's people got
is read. No marker may appear anywhere; the grantor's own owner does see them (control).
"""

import re

import pytest
from django.apps import apps
from django.core import mail as django_mail
from django.db import models
from django.test import Client
from django.utils import timezone

from portal.models import OutgoingMail
from tests.helpers import sign_in
from tests.security import matrix, registry
from tests.security.urlwalk import walk

pytestmark = [pytest.mark.security, pytest.mark.django_db]

PROJECT_APPS = {"accounts", "billing", "contacts", "hosting", "delegation", "helpdesk", "portal"}

# Models holding contract data (SPEC "Words": contracts, invoices, billing address, payment
# data, phone passwords) or the grantor's people, as "app.Model". Their rows of the grantor
# are marked in every free-text field. Names that look like contract data must be here.
CONTRACT_DATA_MODELS = {
    "billing.Contract",
    "billing.Invoice",
    "billing.InvoiceLine",
    "billing.PaymentMethod",
    "contacts.Contact",
    "contacts.RegisterExtract",
}
CONTRACT_DATA_NAME = re.compile(r"invoice|contract|payment|billing|bank|mandate|tariff", re.I)
# Looks like contract data by its name, but is not the grantor's.
NOT_CONTRACT_DATA: set[str] = set()


def project_models():
    return [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS]


def test_s3_every_contract_data_model_is_declared():
    """S3: every model whose name says invoice, contract, payment, billing, bank or mandate
    is declared as contract data (or explicitly not), and every declared model exists; the
    billing app's own field list names real fields."""
    present = {m._meta.label for m in project_models()}
    looks_like = {label for label in present if CONTRACT_DATA_NAME.search(label.split(".")[1])}
    assert looks_like - CONTRACT_DATA_MODELS - NOT_CONTRACT_DATA == set()
    assert CONTRACT_DATA_MODELS - present == set(), "declared models that no longer exist"
    try:
        from billing.models import CONTRACT_DATA_FIELDS
    except ImportError:
        return
    for label, fields in CONTRACT_DATA_FIELDS.items():
        assert label in CONTRACT_DATA_MODELS
        model = apps.get_model(label)
        for name in fields:
            model._meta.get_field(name)


class Markers:
    def __init__(self):
        self.values: list[str] = []

    def new(self, label: str, length: int = 60) -> str:
        value = f"s3mk{len(self.values):03d}{label}"[:length]
        self.values.append(value)
        return value

    def found_in(self, text: str) -> list[str]:
        lowered = text.lower()
        return [m for m in self.values if m.lower() in lowered]

    def plant(self, obj, keep=()):
        """A marker in every free-text field of ``obj`` (keys, choices and codes left)."""
        for field in obj._meta.concrete_fields:
            if (
                field.name in keep
                or field.primary_key
                or field.choices
                or not isinstance(field, models.CharField | models.TextField)
                or isinstance(field, models.GenericIPAddressField)
                or field.name in {"password", "phone_password_hash", "token_hash", "key_hash"}
                or (field.max_length or 999) < 12
            ):
                continue
            label = re.sub(r"[^a-z]", "", f"{obj._meta.model_name}{field.name}")
            if isinstance(field, models.EmailField):
                value = f"{self.new(label, 30).lower()}@marker.example"
            else:
                value = self.new(label, field.max_length or 60)
            setattr(obj, field.name, value)
        obj.save()


def mark_grantor(world, markers: Markers):
    """Markers into the grantor's contract data, people, contacts and hidden accounts."""
    from contacts.services import contact_phone_password_set
    from tests.billing.factories import (
        ContractFactory,
        InvoiceFactory,
        InvoiceLineFactory,
        PaymentMethodFactory,
    )
    from tests.contacts.factories import ContactFactory, RegisterExtractFactory

    grantor = world.a
    owner = world.targets["A"].owner
    made = []
    contract = ContractFactory(customer=grantor, hosting_account=world.granted)
    invoice = InvoiceFactory(customer=grantor)
    made += [contract, invoice, InvoiceLineFactory(invoice=invoice, contract=contract)]
    made.append(PaymentMethodFactory(customer=grantor))
    for traits in ({}, {"accounting": True}, {"technical": True}, {"domain": True}):
        made.append(ContactFactory(customer=grantor, authorised=True, **traits))
    made.append(RegisterExtractFactory(customer=grantor))
    declared = set(CONTRACT_DATA_MODELS)
    for obj in made:
        declared.discard(obj._meta.label)
        markers.plant(obj, keep={"language", "currency", "content_type"})
    assert not declared, f"no marked rows for {declared}: add them to mark_grantor"
    contact_phone_password_set(contact=made[-2], password=markers.new("phonepw"), actor=owner)
    # The grantor's people: every user with a membership in it.
    from accounts.models import User

    for user in User.objects.filter(memberships__customer=grantor).distinct():
        markers.plant(user, keep={"language", "status"})
    # Its accounts that were not granted (D4: no other accounts).
    for account in grantor.hosting_accounts.exclude(pk=world.granted.pk):
        account.description = markers.new("hiddenaccount")
        account.save()


def delegate_urls(world, markers: Markers):
    """Every URL of the walk filled for the delegate: the grantor's number with the granted
    account (and objects on it) or with other objects of the grantor; the agency's number
    with the agency's objects. Slugs from the registry."""
    from dataclasses import replace

    from tests.security.world import Target

    # Objects the makers make for the grantor carry a marker too; those on the granted
    # account are shared with the delegate by design (D4) and carry none.
    target_a = replace(world.targets["A"], marker="s3mkobj")
    markers.values.append("s3mkobj")
    shared = replace(world.targets["A"], marker="sharedobj")
    agency = Target("C", world.agency, "agencyobj", world.delegate)
    urls = set()
    for route in walk():
        if route.name.startswith("admin:") or not route.name:
            continue
        try:
            strings = registry.string_values(route)
        except KeyError:
            strings = {k: "x" for k in route.kwargs if k not in route.int_kwargs}
        variants = []
        for target, preset in ((shared, {"account": world.granted}), (target_a, {}),
                               (agency, {})):  # fmt: skip
            try:
                objects = registry.make_objects(route, target, preset=preset)
            except registry.NotApplicable:
                continue
            values = {k: registry.url_value(v) for k, v in objects.items()}
            if "customer" in route.converters:
                values["customer"] = target.customer.number
            variants.append({**values, **strings})
        if not variants:
            variants = [strings]
        for values in variants:
            urls.add(route.url(**values))
    return sorted(urls)


def test_s3_delegate_sees_no_contract_data_on_any_page_download_or_mail(
    world, django_capture_on_commit_callbacks
):
    """S3, D4: markers in every contract-data field of the grantor (contracts, invoices and
    their lines, payment data, contacts with phone password and restrictions, register
    extract), its people and its other accounts; every page and download of the URL walk,
    rendered for the delegate, and every mail to the agency's people: none of them shows
    a marker. The grantor's owner sees them (the markers are really rendered)."""
    from delegation import services as delegation
    from delegation import tasks as delegation_tasks
    from hosting.services.records import dns_record_create
    from portal import policy
    from tests.delegation.factories import clock, make_grant

    markers = Markers()
    mark_grantor(world, markers)
    owner = world.targets["A"].owner
    delegate = world.delegate
    # The grantor's own work on the granted account shows in its history (A4) – with the
    # grantor's person hidden from the delegate.
    dns_record_create(account=world.granted, rtype="A", name="www", value="192.0.2.80",
                      actor=owner, access=policy.account_access(owner, world.granted))  # fmt: skip
    # A grant's whole life, mailed to the agency: key, approval, reminder, revocation.
    ends = timezone.now() + timezone.timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        grant, key = make_grant(grantor=world.a, agency=world.agency, accounts=[world.granted],
                                by=owner, ends_at=ends)  # fmt: skip
        delegation.grant_key_mail(grant=grant, key=key, actor=owner)
        assert delegation.grant_approve(grant=grant, key=key, user=delegate)
        with clock(ends - timezone.timedelta(days=7)):
            delegation_tasks.remind_grants()
        delegation.grant_revoke(grant=grant, actor=owner)

    client = sign_in(Client(), delegate)
    problems, reached, checked = [], [], 0
    with matrix.quiet_request_log():
        for url in delegate_urls(world, markers):
            response = client.get(url)
            checked += 1
            body = matrix.body_of(response)
            if found := markers.found_in(body):
                problems.append(f"{url} ({response.status_code}) shows {found[:3]}")
            if response.status_code == 200:
                reached.append(url)
    agency_people = {u.email for u in world.agency.memberships.all().select_related("user")
                     for u in [u.user]} | {world.agency.email}  # fmt: skip
    mails = [m for m in django_mail.outbox if set(m.to + m.cc) & agency_people]
    for row in OutgoingMail.objects.all():
        if set(row.to + row.cc) & agency_people:
            mails.append(row)
    for message in mails:
        text = f"{message.subject}\n{message.body}\n{getattr(message, 'html', '')}"
        if found := markers.found_in(text):
            problems.append(f"mail {message.subject!r} shows {found[:3]}")
    assert not problems, "contract data reached the delegate:\n  " + "\n  ".join(problems)
    # Not vacuous: the delegate reached the granted account, its DNS and its history, and
    # got the grant's mails.
    granted = world.granted.get_absolute_url()
    assert granted in reached
    assert any(u.startswith(granted + "dns/") for u in reached)
    assert len(mails) >= 3
    assert checked > 40
    # Control: the grantor's owner sees markers on its own pages.
    own = sign_in(Client(), owner, world.targets["A"].owner_device)
    seen = set()
    for name in ("contacts:contact_list", "accounts:invoice_list", "accounts:member_list"):
        from django.urls import reverse

        seen.update(markers.found_in(own.get(reverse(name, args=[world.a.number])).content
                                     .decode()))  # fmt: skip
    assert len(seen) > 5
    print(f"\nS3 walk: {checked} pages, {len(reached)} reached, {len(mails)} mails, "
          f"{len(markers.values)} markers, none shown")  # fmt: skip


def test_s3_generic_walk_catches_a_leak(world):
    """S3: the scan works: a marker in a field the delegate does see (the name of the
    granted account) is found on its page."""
    markers = Markers()
    world.granted.description = markers.new("visible")
    world.granted.save()
    client = sign_in(Client(), world.delegate)
    body = client.get(world.granted.get_absolute_url()).content.decode()
    assert markers.found_in(body)
