"""Screenshots of the main pages for README, from the demo data (`make screens`).

Marked ``screens``: left out of the normal run (they rewrite docs/screens/); run with
``pytest -m screens``."""

from pathlib import Path

import pytest
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from delegation.models import Grant
from portal.management.commands.seed_demo import DEMO_PASSWORD
from tests.a11y import harness
from tests.a11y.fixtures import demo_device, demo_user

pytestmark = [pytest.mark.screens, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
VIEWPORT = {"width": 1280, "height": 860}


def _url(name, **kwargs):
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def _shoot(page, base_url, path, name, shots):
    if path is None:
        return
    response = page.goto(base_url + path)
    assert response is not None and response.status == 200, (
        f"{path}: {response and response.status}"
    )
    page.screenshot(path=str(SCREENS / f"{name}.png"))
    shots.append(name)


def test_screens_of_the_main_pages(demo, browser, live_server):
    """Dashboard, contacts, users, technical administrators (list and one grant), a DNS
    zone, a support ticket, the access overview where it exists — and the dashboard in
    German and Hungarian."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    nordlicht = demo["nordlicht"]
    number = nordlicht.number
    anna = demo_user("anna@nordlicht.example")
    context = browser.new_context(viewport=VIEWPORT, locale="en-US")
    page = context.new_page()
    shots = []
    try:
        harness.sign_in(page, live_server.url, anna.email, DEMO_PASSWORD, demo_device(anna))
        _shoot(page, live_server.url, f"/c/{number}/", "dashboard", shots)
        _shoot(
            page, live_server.url, _url("contacts:contact_list", customer=number), "contacts", shots
        )
        _shoot(page, live_server.url, _url("accounts:member_list", customer=number), "users", shots)
        # Grants: of Nordlicht or, in the demo, of its sub-account the shop.
        own = [nordlicht, *nordlicht.sub_accounts.order_by("number")]
        grant = Grant.objects.filter(grantor__in=own).order_by("grantor__number", "pk").first()
        grantor = grant.grantor.number if grant else number
        grants_url = _url("delegation:grant_list", customer=grantor)
        _shoot(page, live_server.url, grants_url, "grants", shots)
        if grant is not None:
            detail = _url("delegation:grant_detail", customer=grantor, grant=grant.pk)
            _shoot(page, live_server.url, detail, "grant", shots)
        domain = nordlicht.hosting_accounts.filter(kind="domain").first()
        _shoot(
            page,
            live_server.url,
            _url("hosting:record_list", customer=number, account=domain.pk),
            "dns",
            shots,
        )
        ticket = nordlicht.tickets.order_by("pk").first()
        if ticket is not None:
            _shoot(page, live_server.url, ticket.get_absolute_url(), "ticket", shots)
        _shoot(
            page,
            live_server.url,
            _url("accounts:access_overview", customer=number),
            "access",
            shots,
        )
        for language in ("de", "hu"):
            User.objects.filter(pk=anna.pk).update(language=language)
            _shoot(page, live_server.url, f"/c/{number}/", f"dashboard-{language}", shots)
    finally:
        context.close()
    assert {"dashboard", "contacts", "grants", "ticket"} <= set(shots), shots
