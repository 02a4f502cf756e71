"""Every page, seen in German and in Hungarian, shows none of the portal's English texts:
catches strings that are translated in locale/ but never reach the page (formatted too
early, at import time) and pages that do not switch language.

The pages are the accessibility run's (tests/a11y/harness.py), fetched with the test
client: text needs no browser."""

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.utils import translation

from accounts.models import User
from tests.a11y import harness
from tests.a11y.fixtures import demo_device, demo_user
from tests.helpers import sign_in
from tests.i18n.test_catalogues import catalogue

pytestmark = pytest.mark.django_db

# Pages that show text stored when something happened, in the language of that moment:
# the activity log's summaries are written as text (accounts.audit), so entries made in
# English (by the demo, by jobs) stay English. Left out here, reported as an open point.
STORED_TEXT_PAGES = {"accounts:audit_log"}
ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")


class _Text(HTMLParser):
    """The text a person or a screen reader gets: text nodes (one per line), the title
    and the naming attributes; not scripts or styles."""

    def __init__(self):
        super().__init__()
        self.lines, self.lang, self._skip = [], None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag in ("script", "style"):
            self._skip += 1
        self.lines += [attrs[a] for a in ATTRIBUTES if attrs.get(a)]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.lines.append(" ".join(data.split()))


def _leak_patterns(language):
    """English texts whose translation differs, as patterns; placeholders match anything.
    Short texts count only as a whole text node (they may be part of names or data)."""
    # The language menu names each language in its own words, English too.
    own_names = {str(name) for _code, name in settings.LANGUAGES}
    with translation.override("en"):
        own_names |= {str(name) for _code, name in settings.LANGUAGES}
    patterns = []
    for entry in catalogue(language):
        if entry.msgid in entry.msgstr or "\n" in entry.msgid or entry.msgid in own_names:
            continue
        text = re.escape(entry.msgid.strip())
        text = re.sub(r"%\\\([a-z_]+\\\)[sd]", ".+?", text)
        if len(entry.msgid) >= 30:
            patterns.append((entry.msgid, re.compile(text)))
        elif len(entry.msgid) >= 4 and "%" not in entry.msgid:
            patterns.append((entry.msgid, re.compile(rf"^{text}$", re.MULTILINE)))
    return patterns


class TextRun(harness.RouteWalker):
    """Walks the routes like the accessibility run, reading each page's text."""

    def __init__(self, client, language, customers, user):
        self.role, self.client, self.language = f"text-{language}", client, language
        self.customers, self.subject_user = customers, user
        self.patterns = _leak_patterns(language)
        self.problems, self.seen = [], set()

    def visit(self, route, path, state):
        response = self.client.get(path)
        content_type = response.get("Content-Type", "")
        if response.status_code != 200 or "text/html" not in content_type:
            return response.status_code
        if path in self.seen:
            return 200
        self.seen.add(path)
        parser = _Text()
        parser.feed(response.content.decode())
        if parser.lang != self.language:
            self.problems.append(f"{path}: <html lang={parser.lang!r}>")
        text = "\n".join(parser.lines)
        for msgid, pattern in self.patterns:
            if pattern.search(text):
                self.problems.append(f"{path}: English text {msgid!r}")
        return 200


@pytest.mark.parametrize("language", ["de", "hu"])
def test_every_page_speaks_the_persons_language(demo_db, client, language):
    """The owner (all permissions, data in every list) in German or Hungarian, on every
    page it can open; the agency's user on the pages of the accounts delegated to it."""
    anna = demo_user("anna@nordlicht.example")
    User.objects.filter(pk=anna.pk).update(language=language)
    anna.refresh_from_db()
    nordlicht = demo_db["nordlicht"]
    run = TextRun(
        sign_in(client, anna, demo_device(anna)),
        language,
        [nordlicht, *nordlicht.sub_accounts.order_by("number")],
        anna,
    )
    routes = [r for r in harness.portal_routes() if r.name not in STORED_TEXT_PAGES]
    run.visit_routes(routes, "filled")
    assert len(run.seen) > 20
    assert not run.problems, f"{len(run.problems)} untranslated:\n" + "\n".join(
        dict.fromkeys(run.problems)
    )
