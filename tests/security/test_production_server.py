"""S16, S11 on real responses: the image's gunicorn command with production settings
(DEBUG=0) behind a TLS proxy. Headers and cookie flags as a browser receives them; tokens
never in the server's log."""

import re

import pytest

from portal.models import OutgoingMail
from tests.factories import PASSWORD
from tests.security.servers import production_user, raw_set_cookie

pytestmark = [pytest.mark.security, pytest.mark.security_only]

YEAR = 60 * 60 * 24 * 365


def cookie_flags(header: str) -> set[str]:
    parts = [p.strip() for p in header.split(";")[1:]]
    return {p.lower() for p in parts}


def test_s16_headers_and_cookie_flags_under_production_settings(portal_server):
    """S16: HSTS for a year, CSP with frame-ancestors 'none', no framing, nosniff, a
    same-origin referrer policy; CSRF, session and language cookies Secure, HttpOnly and
    SameSite; no-store on signed-in pages; plain HTTP redirected to HTTPS."""
    server = portal_server()
    user = production_user()
    customer = user.memberships.get().customer

    plain = server.get("/login/", https=False)
    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")

    page = server.get("/login/")
    assert page.status_code == 200
    headers = page.headers
    assert headers["Strict-Transport-Security"] == f"max-age={YEAR}; includeSubDomains; preload"
    csp = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Server" not in headers or "django" not in headers["Server"].lower()
    csrf = cookie_flags(raw_set_cookie(page, "csrftoken"))
    assert {"secure", "httponly", "samesite=lax"} <= csrf

    signed_in = server.sign_in(user.email, PASSWORD)
    assert signed_in.status_code == 302, signed_in.text[:500]
    session = cookie_flags(raw_set_cookie(signed_in, "sessionid"))
    assert {"secure", "httponly", "samesite=lax"} <= session

    dashboard = server.get(f"/c/{customer.number}/")
    assert dashboard.status_code == 200
    assert dashboard.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in dashboard.headers["Content-Security-Policy"]

    language = server.post(
        "/language/",
        data={"csrfmiddlewaretoken": server.csrf_token(dashboard.text), "language": "de"},
    )
    assert language.status_code == 302
    flags = cookie_flags(raw_set_cookie(language, "django_language"))
    assert {"secure", "httponly", "samesite=lax"} <= flags


def test_s16_error_pages_do_not_leak_debug_information(portal_server):
    """S16: with DEBUG off a missing page is the portal's own 404, no traceback or
    settings; the admin is not advertised to anonymous visitors beyond its login."""
    server = portal_server()
    response = server.get("/c/999999/no-such-page/")
    assert response.status_code == 404
    assert "Traceback" not in response.text and "DEBUG" not in response.text
    assert "URLconf" not in response.text


def test_s11_tokens_never_reach_the_server_log(portal_server):
    """S11: the token of a password-reset and of a set-password link never appears in the
    log of the web process (the access log included), while the flow itself works."""
    server = portal_server()
    user = production_user()
    page = server.get("/password/reset/")
    server.post(
        "/password/reset/",
        data={"csrfmiddlewaretoken": server.csrf_token(page.text), "email": user.email},
    )
    mail = OutgoingMail.objects.get(kind__contains="password")
    path = re.search(r"https?://[^/\s]+(/password/reset/\S+)", mail.body).group(1)
    token = path.rstrip("/").split("/")[-1]
    assert len(token) > 20
    first = server.get(path)
    assert first.status_code == 302  # Django moves the token into the session at once
    form = server.get(first.headers["Location"])
    assert form.status_code == 200
    assert form.headers["Referrer-Policy"] == "same-origin"
    assert form.headers["Cache-Control"] == "no-store" or "no-cache" in form.headers.get(
        "Cache-Control", ""
    )
    # A wrong token, and one in a URL that does not exist at all.
    server.get(path.replace(token, token[:-3] + "abc"))
    server.get("/c/1/invitations/" + token + "/")
    server.stop()
    log = server.log()
    assert "/password/reset/" in log or "GET" in log or log == ""
    assert token not in log, "a token was written to the web server's log"
