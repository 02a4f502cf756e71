"""S2: deny by default. Generated from the URL patterns: an anonymous request to any view
not on a short, reviewed allow-list is redirected to the login page, and every tenant view
makes an access decision through the policy."""

import pytest
from django.test import Client

from portal import policy
from tests.security import matrix, registry
from tests.security.urlwalk import tenant_routes, walk

pytestmark = [pytest.mark.security, pytest.mark.django_db]

# Views an anonymous person may use, each reviewed: signing in, resetting or setting a
# password, token pages (the token is the credential), the health check, the language.
ANONYMOUS_ALLOWED = {
    "accounts:login",
    "accounts:otp_verify",  # step two of sign-in; without a pending sign-in it sends to login
    "accounts:logout",
    "accounts:password_reset",
    "accounts:password_reset_done",
    "accounts:password_reset_confirm",
    "accounts:password_reset_complete",
    "accounts:set_password",
    "admin:login",
    "admin:logout",
    "portal:set_language",
    "health",
    "contacts:email_confirm",  # K4 token page: the token is in the fragment, POST confirms
    "accounts:invitation_open",  # U2 token page (token in the fragment)
    "accounts:invitation_accept",  # U2: the token carried in the session from the page above
}
# URL prefixes served without the URL resolver's views deciding (static files).
ANONYMOUS_ALLOWED_PREFIXES = ("/static/",)

STRING_VALUES = {"uidb64": "MQ", "token": "set-password", "app_label": "accounts", "url": "x"}


def anonymous_url(route, world) -> str:
    values = {}
    target = world.targets["B"]
    try:
        objects = registry.make_objects(route, target) if route.id_kwargs else {}
    except Exception:  # noqa: BLE001 - an id that names nothing is fine for anonymous
        objects = {}
    for kwarg in route.kwargs:
        if kwarg == "customer":
            values[kwarg] = target.customer.number
        elif kwarg in objects:
            values[kwarg] = registry.url_value(objects[kwarg])
        elif kwarg in route.int_kwargs:
            values[kwarg] = 1
        else:
            values[kwarg] = STRING_VALUES.get(kwarg, "1")
    return route.url(**values)


def test_s2_anonymous_requests_are_sent_to_login(world):
    """S2: every view not on the reviewed allow-list answers an anonymous GET and POST with
    a redirect to the login page (or 405 for a method it never takes)."""
    client = Client()
    problems = []
    with matrix.quiet_request_log():
        for route in walk():
            if route.name in ANONYMOUS_ALLOWED:
                continue
            url = anonymous_url(route, world)
            if url.startswith(ANONYMOUS_ALLOWED_PREFIXES):
                continue
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                if response.status_code == 405 or matrix.is_login_redirect(response):
                    continue
                if route.name == "" and response.status_code in (301, 302):
                    continue  # the admin's unnamed "<object_id>/" redirects to ".../change/"
                where = response.get("Location", "")
                problems.append(
                    f"{route.label} {method.upper()} {url}: {response.status_code} {where}"
                )
    assert not problems, "reachable anonymously, not on the allow-list:\n  " + "\n  ".join(problems)


def test_s2_allow_list_names_existing_views():
    """S2: the allow-list is kept honest: every name on it is a real URL."""
    names = {route.name for route in walk()}
    assert ANONYMOUS_ALLOWED <= names, ANONYMOUS_ALLOWED - names


def test_s2_every_tenant_view_asks_the_policy(world, monkeypatch):
    """S2: every view that takes a customer number or an object id makes an access
    decision through portal.policy (a view that only checks login fails here)."""
    calls = []
    real = policy.user_may_act

    def recording(user):
        calls.append(user)
        return real(user)

    monkeypatch.setattr(policy, "user_may_act", recording)
    cases, problems = matrix.build_cases(world, tenant_routes())
    controls = matrix.Controls(world)
    silent = []
    with matrix.quiet_request_log():
        for case in cases:
            if case.target_key != "B":
                continue
            calls.clear()
            response = controls.get(case)
            if response.status_code == 405:
                calls.clear()
                response = controls.post(case)
            if response.status_code != 405 and not calls:
                silent.append(f"{case.route.label} {case.url}: {response.status_code}")
    assert not problems, problems
    assert not silent, "views that answered without asking the policy:\n  " + "\n  ".join(silent)
