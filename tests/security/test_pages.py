"""S11, S16, S25 on every rendered page: no third-party assets (every src, href and form
action is relative or same-origin), no inline script or style (the CSP forbids them), and
token pages send no Referer beyond the portal.

The pages are those of the URL walk: each tenant page as its own owner sees it (with the
registry's objects), every page without ids signed in and anonymously.
"""

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tests.helpers import sign_in
from tests.security import matrix, registry
from tests.security.urlwalk import walk

pytestmark = [pytest.mark.security, pytest.mark.django_db]

SAME_ORIGIN_HOSTS = {"", "testserver"}
URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "data", "srcset"}


class Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if value is None:
                continue
            if name in URL_ATTRIBUTES:
                for part in value.split(",") if name == "srcset" else [value]:
                    self.urls.append(part.strip().split(" ")[0])
            if name == "style":
                self.inline.append(f"style attribute on <{tag}>")
            if name.startswith("on"):
                self.inline.append(f"{name} handler on <{tag}>")
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            self.urls.append((attrs.get("content") or "").partition("url=")[2])
        if tag == "script":
            self._in_script = "src" not in attrs and attrs.get("type") != "application/json"
        if tag == "style":
            self.inline.append("<style> element")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.inline.append("inline <script>")


def external(url: str) -> bool:
    """True for a URL that leaves the portal's origin (data: images and fragments stay)."""
    url = url.strip()
    if not url or url.startswith(("#", "data:image/", "mailto:", "tel:")):
        return False
    if url.lower().startswith(("javascript:", "data:")):
        return True
    parts = urlsplit(url)
    if url.startswith("//"):
        return parts.hostname not in SAME_ORIGIN_HOSTS
    return bool(parts.scheme) and parts.hostname not in SAME_ORIGIN_HOSTS


def pages(world):
    """(label, client, url): every page of the walk that answers a GET."""
    target = world.targets["B"]
    owner = sign_in(Client(), target.owner, target.owner_device)
    anonymous = Client()
    for route in walk():
        if route.name.startswith("admin:") or not route.name:
            continue
        try:
            strings = registry.string_values(route)
        except KeyError:
            strings = {k: "x" for k in route.kwargs if k not in route.int_kwargs}
        try:
            objects = registry.make_objects(route, target)
        except (registry.NotApplicable, KeyError):
            continue
        values = {**{k: registry.url_value(v) for k, v in objects.items()}, **strings}
        if "customer" in route.converters:
            values["customer"] = target.customer.number
        url = route.url(**values)
        yield route.label, owner, url
        if not route.int_kwargs:
            yield route.label + " (anonymous)", anonymous, url


def test_s11_no_third_party_assets_or_inline_code_on_any_page(world):
    """S11, S16: every page the walk renders loads nothing from another origin, posts
    nowhere else, and has no inline script, style or event handler."""
    problems, rendered = [], 0
    with matrix.quiet_request_log():
        for label, client, url in pages(world):
            response = client.get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            rendered += 1
            parser = Assets()
            parser.feed(response.content.decode("utf-8", errors="replace"))
            for asset in parser.urls:
                if external(asset):
                    problems.append(f"{label} {url}: external {asset}")
            for inline in set(parser.inline):
                problems.append(f"{label} {url}: {inline}")
            for css in re.findall(r"url\(([^)]+)\)", response.content.decode(errors="replace")):
                if external(css.strip("'\" ")):
                    problems.append(f"{label} {url}: external CSS {css}")
    assert not problems, "\n  ".join(["pages that load or run foreign code:", *problems])
    assert rendered > 20


def test_s11_token_pages_keep_the_referrer_and_are_not_cached(world):
    """S11: the pages a mailed token opens (password reset and set-password, invitation,
    address confirmation) send Referrer-Policy same-origin and are never cached."""
    token_routes = [
        r for r in walk()
        if r.name in {"accounts:password_reset_confirm", "accounts:set_password",
                      "accounts:invitation_open", "contacts:email_confirm"}
    ]  # fmt: skip
    assert len(token_routes) >= 3
    client = Client()
    for route in token_routes:
        url = route.url(uidb64="MQ", token="x" * 30)
        response = client.get(url, follow=True)
        assert response.status_code in (200, 400, 404), (url, response.status_code)
        assert response["Referrer-Policy"] == "same-origin", url
        cache = response.get("Cache-Control", "")
        assert "no-store" in cache or "no-cache" in cache or "max-age=0" in cache, (url, cache)


def test_s11_the_scan_catches_a_foreign_asset():
    """S11: the parser itself: a CDN script and an inline handler are found."""
    parser = Assets()
    parser.feed('<script src="https://cdn.example/x.js"></script><a onclick="x()" href="/a">')
    assert [u for u in parser.urls if external(u)] == ["https://cdn.example/x.js"]
    assert parser.inline == ["onclick handler on <a>"]
    assert not external("/static/portal/portal.css") and not external("#main")
    assert external("//evil.example/x.png") and external("javascript:alert(1)")
