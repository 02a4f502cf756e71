"""CSRF is enforced on every POST (S2, S16): the isolation matrix posts without tokens on
purpose (its client does not check CSRF), so this test shows that a real browser's POST
without the token is refused by every view, signed in or not — no view is exempt."""

import pytest
from django.middleware.csrf import get_token
from django.test import Client
from django.test.client import RequestFactory

from tests.helpers import sign_in
from tests.security import matrix, registry
from tests.security.urlwalk import walk

pytestmark = [pytest.mark.security, pytest.mark.django_db]

CSRF_EXEMPT_ALLOWED: set[str] = set()  # none: the mail intake is a command, not a view


def test_s16_no_view_is_csrf_exempt():
    """S16: no view of the portal opts out of CSRF protection."""
    exempt = [
        r.label for r in walk()
        if getattr(r.callback, "csrf_exempt", False) and r.name not in CSRF_EXEMPT_ALLOWED
    ]  # fmt: skip
    assert not exempt, exempt


def test_s16_every_post_without_a_token_is_refused(world):
    """S16: a POST without a CSRF token is refused (403) by every URL of the walk, for the
    signed-in owner (with the owner's own objects) and anonymously; with the token the
    same client gets past the check."""
    target = world.targets["B"]
    signed_in = sign_in(Client(enforce_csrf_checks=True), target.owner, target.owner_device)
    anonymous = Client(enforce_csrf_checks=True)
    accepted = []
    checked = 0
    with matrix.quiet_request_log():
        for route in walk():
            if not route.name:
                continue
            try:
                objects = registry.make_objects(route, target) if route.id_kwargs else {}
                strings = registry.string_values(route)
            except (registry.NotApplicable, KeyError):
                objects, strings = {}, {k: "x" for k in route.kwargs if k not in route.int_kwargs}
            values = {**{k: registry.url_value(v) for k, v in objects.items()}, **strings}
            if "customer" in route.converters:
                values["customer"] = target.customer.number
            for k in route.int_kwargs:
                values.setdefault(k, 1)
            url = route.url(**values)
            for who, client in (("owner", signed_in), ("anonymous", anonymous)):
                response = client.post(url, {"x": "1"})
                checked += 1
                if response.status_code != 403:
                    accepted.append(f"{who} POST {url} ({route.label}): {response.status_code}")
    assert not accepted, "POSTs without a CSRF token that were not refused:\n  " + "\n  ".join(
        accepted
    )
    assert checked > 50
    # Control: with the token the check passes (the answer is the view's own).
    token = get_token(RequestFactory().get("/"))
    signed_in.cookies["csrftoken"] = token
    response = signed_in.post(
        f"/c/{target.customer.number}/", {"csrfmiddlewaretoken": token}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code != 403
