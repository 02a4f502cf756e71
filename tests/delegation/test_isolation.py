"""S3, D4: a delegate never sees the grantor's contract data.

Unique marker strings go into every contract-data field of the grantor that exists in
the project; then every GET page of every URL pattern is rendered for a delegate of the
agency (customer × object ids, walked from the URL configuration itself so that new
pages are covered without editing this test), and every mail the agency's people got
while the grant was made, approved, reminded and ended is read. No marker may appear.
"""

import itertools
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail as django_mail
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.audit import audit
from contacts.services import contact_phone_password_set
from delegation import services, tasks
from delegation.models import GrantRequest
from hosting import services as hosting
from portal import policy
from tests.contacts.factories import ContactFactory, RegisterExtractFactory
from tests.delegation.factories import client_as, clock, make_grant
from tests.factories import CustomerFactory, HostingAccountFactory, MembershipFactory

pytestmark = [pytest.mark.django_db, pytest.mark.security]

PROJECT_APPS = ("accounts", "contacts", "hosting", "delegation", "helpdesk", "portal")
SKIP_NAMESPACES = {"admin"}  # staff only: a delegate is sent to the admin's sign-in
SKIP_TABLES = {"accounts_auditevent", "portal_outgoingmail", "accounts_usersession"}


def _patterns(resolver=None, prefix="", namespace=None):
    """(URL name with namespace, parameter converters) of every named pattern."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in SKIP_NAMESPACES:
                continue
            full = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else ns
            yield from _patterns(entry, prefix + str(entry.pattern), full)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield name, getattr(entry.pattern, "converters", {})


def _project_models():
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS or model._meta.db_table in SKIP_TABLES:
            continue
        if isinstance(model._meta.pk, models.AutoField | models.BigAutoField):
            yield model


def _ids_for(param: str) -> list[int]:
    """Object ids to try for a URL kwarg: the rows of the model it names (``record`` →
    DnsRecord, ``change_request`` → ChangeRequest), else every row of the project."""
    wanted = param.replace("_", "")
    named = [m for m in _project_models() if m._meta.model_name.endswith(wanted)]
    pool = set()
    for model in named or list(_project_models()):
        pool.update(model.objects.values_list("pk", flat=True)[:200])
    return sorted(pool) or [1]


def _slug_values(param: str) -> list[str]:
    """Words a slug kwarg takes, where the app names them; otherwise one stray word."""
    if param == "kind":
        from hosting.views import REQUEST_SLUGS

        return [*REQUEST_SLUGS, "x"]
    return ["x"]


@pytest.fixture
def world(customer, account, agency, owner, django_capture_on_commit_callbacks):
    """The grantor with marker strings in its contract data, a delegate with a live grant,
    and the mails the agency received along the way."""
    markers = []

    def mark(label, max_length=None):
        value = f"MK{len(markers):03d}{label}"[: max_length or 60]
        markers.append(value)
        return value

    # The grantor's master and contract data (every text field but its name, which marks
    # the delegated accounts by design) and its people.
    plant(customer, mark, keep={"name"})
    plant(owner, mark)
    colleague = MembershipFactory(customer=customer, can_view_invoices=True).user
    plant(colleague, mark)
    # Accounts not granted (D4: no other accounts).
    hidden = HostingAccountFactory(
        customer=customer, name=f"{mark('hidden').lower()}.example", description=mark("desc")
    )
    server = HostingAccountFactory(customer=customer, server=True, description=mark("srv"))
    # The grantor's own work on its accounts, in their histories (A4): on the hidden ones
    # with marked content; on the granted one the content is shared by design, but the
    # grantor's person behind it is not (D4).
    owner_on = policy.account_access
    hosting.dns_record_create(
        account=hidden,
        rtype="TXT",
        name="@",
        value=mark("txt"),
        actor=owner,
        access=owner_on(owner, hidden),
    )
    hosting.change_request_create(
        account=server,
        kind="reboot",
        note=mark("rebootnote"),
        actor=owner,
        access=owner_on(owner, server),
    )
    hosting.dns_record_create(
        account=account,
        rtype="A",
        name="www",
        value="192.0.2.80",
        actor=owner,
        access=owner_on(owner, account),
    )
    # The grantor's request for a newcomer's customer number.
    GrantRequest.objects.create(
        grantor=customer,
        requested_by=owner,
        company=mark("company"),
        first_name=mark("reqfirst"),
        last_name=mark("reqlast"),
        street=mark("street"),
        postal_code=mark("zip"),
        city=mark("city"),
        country=mark("country"),
        phone=mark("phone"),
        email=f"{mark('reqmail').lower()}@newcomer.example",
    )
    # The grantor's audit trail.
    audit("contract.changed", actor=owner, customer=customer, summary=mark("audit"))
    # Contacts of every type, with phone passwords (K8) and restrictions, and a register
    # extract (K12). Invoices and contracts: add them here when their models exist.
    for traits in ({}, {"accounting": True}, {"technical": True}, {"domain": True}):
        contact = ContactFactory(customer=customer, authorised=True, **traits)
        plant(contact, mark, keep={"language"})
    phone_password = mark("phonepw")
    contact_phone_password_set(contact=contact, password=phone_password, actor=owner)
    contact.refresh_from_db()
    markers.append(contact.phone_password_hash)
    plant(RegisterExtractFactory(customer=customer), mark)

    # A delegate who may do everything in the agency.
    delegate = MembershipFactory(
        customer=agency, owner=True, user__email="delegate@agency.example"
    ).user
    with_end = timezone.now() + timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        grant, key, old, gone = _grant_story(customer, agency, account, owner, delegate, with_end)
    # The delegate works on the granted account too (its own people it may see).
    hosting.dns_record_create(
        account=account,
        rtype="A",
        name="shop",
        value="192.0.2.81",
        actor=delegate,
        access=policy.account_access(delegate, account),
    )
    return {
        "markers": markers,
        "delegate": delegate,
        "grant": grant,
        "hidden": hidden,
        "server": server,
        "owner": owner,
    }


def _grant_story(customer, agency, account, owner, delegate, with_end):
    """Made, key mailed, wrong key, approved, reminded; a revoked and a declined grant."""
    grant, key = make_grant(
        grantor=customer, agency=agency, accounts=[account], by=owner, ends_at=with_end
    )
    services.grant_key_mail(grant=grant, key=key, actor=owner)
    services.grant_approve(grant=grant, key="WRONG", user=delegate)
    assert services.grant_approve(grant=grant, key=key, user=delegate)
    with clock(with_end - timedelta(days=7)):
        tasks.remind_grants()
    # A second, ended grant so that ended-grant pages and mails are covered too.
    old, old_key = make_grant(
        grantor=customer, agency=agency, accounts=[account], by=owner, ends_at=with_end
    )
    services.grant_approve(grant=old, key=old_key, user=delegate)
    services.grant_revoke(grant=old, actor=owner)
    gone, _k = make_grant(
        grantor=customer, agency=agency, accounts=[account], by=owner, ends_at=with_end
    )
    services.grant_hand_back(grant=gone, actor=delegate)
    return grant, key, old, gone


def plant(obj, mark, keep=()):
    """A marker in every free-text field of ``obj`` (choices, keys and short codes
    excepted), so that fields added later are covered without editing this test."""
    for field in obj._meta.concrete_fields:
        if (
            field.name in keep
            or field.primary_key
            or field.choices
            or not isinstance(field, models.CharField | models.TextField)
            or isinstance(field, models.GenericIPAddressField)
            or field.name in {"password"}
            or (field.max_length or 999) < 10
        ):
            continue
        label = f"{obj._meta.model_name}{field.name}".replace("_", "")
        if isinstance(field, models.EmailField):
            value = f"{mark(label, 30).lower()}@marker.example"
        else:
            value = mark(label, field.max_length)
        setattr(obj, field.name, value)
    obj.save()


def _leaks(markers, text):
    lowered = text.lower()
    return [m for m in markers if m.lower() in lowered]


def test_s3_delegate_sees_no_contract_data_on_any_page(world, customer, agency, account):
    """S3, D4: every page a delegate can reach, rendered; no marker on any of them."""
    client = client_as(world["delegate"])
    account_ids = sorted({account.pk, world["hidden"].pk, world["server"].pk})
    reached, checked = [], 0
    for name, converters in _patterns():
        choices = []
        for param, converter in converters.items():
            kind = type(converter).__name__
            if param == "customer":
                choices.append([customer.number, agency.number])
            elif param == "account":
                choices.append(account_ids)
            elif kind == "IntConverter":
                choices.append(_ids_for(param))
            else:
                choices.append(_slug_values(param))
        for values in itertools.product(*choices):
            target = reverse(name, kwargs=dict(zip(converters, values, strict=True)))
            response = client.get(target)
            checked += 1
            body = response.content.decode(errors="replace")
            assert not _leaks(world["markers"], body), f"{target} shows contract data"
            if response.status_code == 200:
                reached.append(target)
    # The walk is not vacuous: the delegate did reach the granted account and its pages.
    assert account.get_absolute_url() in reached
    assert world["hidden"].get_absolute_url() not in reached
    assert reverse("delegation:request_list", kwargs={"customer": agency.number}) in reached
    history = reverse(
        "hosting:event_list", kwargs={"customer": customer.number, "account": account.pk}
    )
    assert history in reached
    # Control: the grantor's own people do see themselves in that history, so the markers
    # are really on the page a delegate reads — only hidden from the delegate.
    own_view = client_as(world["owner"]).get(history).content.decode()
    assert _leaks(world["markers"], own_view)
    assert checked > 20
    print(
        f"S3 walk: {checked} requests, {len(reached)} pages reached, {len(world['markers'])} markers"
    )


def test_s3_mails_to_the_agency_carry_no_contract_data(
    world, agency, django_capture_on_commit_callbacks
):
    """S3: key, approval, reminder, revocation and expiry mails to the agency."""
    with (
        clock(timezone.now() + timedelta(days=31)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.expire_grants()
    agency_people = {"delegate@agency.example", "charlie@example.com", agency.email}
    to_agency = [m for m in django_mail.outbox if set(m.to) & agency_people]
    kinds = {m.subject for m in to_agency}
    assert len(kinds) >= 4  # key, revoked, reminder, expired
    for message in to_agency:
        assert not _leaks(world["markers"], message.subject + message.body)


def test_s3_grantor_name_is_all_the_delegate_learns_of_the_grantor(world, customer, agency):
    """The grantor's name and number mark the delegated accounts (D4 asks for it)."""
    client = client_as(world["delegate"])
    page = client.get(reverse("portal:dashboard", kwargs={"customer": agency.number}))
    assert customer.name in page.content.decode()
    assert (
        client.get(reverse("portal:dashboard", kwargs={"customer": customer.number})).status_code
        == 404
    )


def test_s3_other_customers_stay_unreachable(world):
    stranger = CustomerFactory()
    client = client_as(world["delegate"])
    assert (
        client.get(reverse("portal:dashboard", kwargs={"customer": stranger.number})).status_code
        == 404
    )
