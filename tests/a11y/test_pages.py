"""axe-core over every page a customer, an agency user or staff can reach, in its main
states (empty, filled, with form errors), limited to WCAG 2.2 A and AA. Any violation
fails; the tally is printed last as ``accessibility: N pages checked, M violations``.

The pages come from the URL patterns (tests/a11y/harness.py), the data from
``manage.py seed_demo`` (which runs every app's demo module) plus what a role needs that
the demo does not have."""

import pytest

from delegation.models import Grant
from portal.management.commands.seed_demo import DEMO_PASSWORD
from tests.a11y import harness
from tests.a11y.fixtures import demo_device as _device
from tests.a11y.fixtures import demo_user as _user
from tests.a11y.plugin import TALLY
from tests.factories import PASSWORD, CustomerFactory, HostingAccountFactory, MembershipFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROLES = ["anonymous", "owner", "agency", "member", "empty", "staff"]


def _assert_clean(role_run):
    role_run.finish()
    assert role_run.checked, f"{role_run.role}: no page was checked"
    assert not role_run.problems, (
        f"{len(role_run.problems)} accessibility violation(s):\n" + role_run.report()
    )


def test_anonymous_pages(demo, run):
    """Sign-in, password reset (request, link, done), their error states and the
    locked-out sign-in."""
    r = run("anonymous", subject_user=_user("maria@alpenblick.example"))
    r.visit_routes(harness.portal_routes(), "filled")
    r.submit_forms_empty()
    # Five wrong passwords lock the pair of account and address (S12): the 429 page.
    for _attempt in range(6):
        r.open("/login/")
        r.page.locator("#id_username").fill("maria@alpenblick.example")
        r.page.locator("#id_password").fill("wrong password")
        r.page.locator("main form button[type=submit]").click()
        r.page.wait_for_load_state()
    r.audit("locked out")
    _assert_clean(r)


def test_customer_owner_pages(demo, run):
    """The owner of a main account with sub-accounts and data in every list: every page,
    then every form sent empty; the not-found page."""
    anna = _user("anna@nordlicht.example")
    nordlicht = demo["nordlicht"]
    r = run(
        "owner",
        customers=[nordlicht, *nordlicht.sub_accounts.order_by("number")],
        subject_user=anna,
    )
    harness.sign_in(r.page, r.base_url, anna.email, DEMO_PASSWORD, _device(anna))
    r.visit_routes(harness.portal_routes(), "filled")
    r.open("/c/1/")
    r.audit("not found", once_key="404")
    r.submit_forms_empty()
    _assert_clean(r)


def test_agency_pages(demo, run):
    """An agency user with a live and a pending grant: the pages only an agency sees —
    its dashboard with the delegated accounts, the grants it received, and every page of
    the accounts delegated to it (D4). Its other pages are the owner's, checked there."""
    bence = _user("bence@webwerk.example")
    webwerk = demo["webwerk"]
    grantors = list(
        dict.fromkeys(g.grantor for g in Grant.objects.filter(agency=webwerk).order_by("pk"))
    )
    routes = harness.portal_routes()
    r = run("agency", customers=[webwerk], subject_user=bence)
    harness.sign_in(r.page, r.base_url, bence.email, DEMO_PASSWORD, _device(bence))
    own = [x for x in routes if x.name == "portal:dashboard" or x.name.startswith("delegation:")]
    r.visit_routes(own, "delegated", plain=False)
    r.customers = grantors
    r.visit_routes([x for x in routes if "account" in x.param_names], "delegated", plain=False)
    r.submit_forms_empty()
    _assert_clean(r)


def test_limited_member_pages(demo, run):
    """A member without 'view products': the dashboard says so; other pages answer 403."""
    petra = _user("petra@nordlicht.example")
    r = run("member", customers=[demo["nordlicht"]], subject_user=petra)
    harness.sign_in(r.page, r.base_url, petra.email, DEMO_PASSWORD)
    r.open(f"/c/{demo['nordlicht'].number}/")
    r.audit("limited")
    for route in harness.portal_routes():
        if route.param_names == ("customer",):
            status, _type = r.open(route.url({"customer": demo["nordlicht"].number}))
            if status == 403:
                r.audit("forbidden", once_key="403")
                break
    _assert_clean(r)


def test_empty_customer_pages(demo, run):
    """A new customer with nothing yet: every list in its empty state."""
    customer = CustomerFactory(name="Leer GmbH")
    HostingAccountFactory(customer=CustomerFactory())  # unrelated data exists
    owner = MembershipFactory(customer=customer, owner=True, user__email="new@leer.example").user
    r = run("empty", customers=[customer], subject_user=owner)
    harness.sign_in(r.page, r.base_url, owner.email, PASSWORD)
    list_pages = [route for route in harness.portal_routes() if route.param_names == ("customer",)]
    r.visit_routes(list_pages, "empty")
    _assert_clean(r)


def test_staff_admin_pages(demo, run):
    """Staff signed in with TOTP, in the admin: every model's list and change form, its
    add form sent empty (the add form with errors), the admin's extra views."""
    staff = _user("staff@provider.example")
    r = run("staff", subject_user=staff)
    # The admin's own login page sends staff to the portal's sign-in (password, then
    # TOTP); the admin then accepts the verified session.
    harness.sign_in(r.page, r.base_url, staff.email, DEMO_PASSWORD, _device(staff))
    for name, path in harness.admin_pages():
        if name.endswith("_add"):
            status, _type = r.open(path)
            if status == 403:  # no adding here
                continue
            assert status == 200, f"{name} {path} answered {status}"
            with r.page.expect_navigation(wait_until="load"):
                r.page.locator("#content form [name=_save]").click()
            r.audit("form errors", wait=False)
            continue
        status = r.visit(None, path, "filled")
        if status == 403:  # the admin offers no such view here
            continue
        assert status == 200, f"{name} {path} answered {status}"
    _assert_clean(r)


def test_every_page_was_checked():
    """Every URL pattern of the portal was checked by some role, or is an action that
    answers only POST, or is not an HTML page. A page no role reached needs demo data
    (its app's demo.py) or a line in SPECIAL (tests/a11y/harness.py)."""
    if not set(ROLES) <= TALLY.roles:
        pytest.skip("runs after the role tests of this module")
    missing = {
        route.name: TALLY.unresolved.get(route.name, "never answered 200")
        for route in harness.portal_routes()
        if route.name not in TALLY.routes
    }
    missing.update(
        {name: why for name, why in TALLY.unresolved.items() if name.startswith("admin:")}
    )
    assert not missing, "pages no role could check:\n" + "\n".join(
        f"  {name}: {why}" for name, why in sorted(missing.items())
    )
