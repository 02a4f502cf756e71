"""Every page, seen in German and in Hungarian, shows none of the portal's English texts:
catches strings that are translated in locale/ but never reach the page (formatted too
early, at import time) and pages that do not switch language."""

import re

import pytest
from django.utils import translation

from portal.management.commands.seed_demo import DEMO_PASSWORD
from tests.a11y import harness
from tests.a11y.fixtures import demo_device, demo_user
from tests.i18n.test_catalogues import catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Pages that show text stored when something happened, in the language of that moment:
# the activity log's summaries are written as text (accounts.audit), so entries made in
# English (by the demo, by jobs) stay English. Left out here, reported as an open point.
STORED_TEXT_PAGES = {"accounts:audit_log"}

VISIBLE_TEXT = """() => {
  const parts = [document.title, document.body.innerText];
  for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], [alt]"))
    for (const name of ["aria-label", "title", "placeholder", "alt"])
      if (el.hasAttribute(name)) parts.push(el.getAttribute(name));
  return parts.join("\\n").replace(/[ \\t\\u00a0]+/g, " ");
}"""


def _leak_patterns(language):
    """English texts whose translation differs, as patterns; placeholders match anything.
    Short words are matched as whole lines only (they may be names or data)."""
    from django.conf import settings

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


class TextRun(harness.RoleRun):
    """Visits pages like the accessibility run, reading their text instead of axe."""

    language: str = "de"
    patterns: list = ()

    def audit(self, state, once_key=None, wait=True):
        path = self.page.url.split("//", 1)[-1].split("/", 1)[-1]
        key = (once_key or path, state)
        if key in self.seen:
            return False
        self.seen.add(key)
        self.checked += 1
        lang = self.page.evaluate("document.documentElement.lang")
        if lang != self.language and not path.startswith("admin"):
            self.problems.append(f"/{path}: <html lang={lang!r}>")
        text = self.page.evaluate(VISIBLE_TEXT)
        for msgid, pattern in self.patterns:
            if pattern.search(text):
                self.problems.append(f"/{path} [{state}]: English text {msgid!r}")
        return True


@pytest.mark.parametrize("language", ["de", "hu"])
def test_every_page_speaks_the_persons_language(demo, browser, live_server, language):
    """The owner (all permissions, data in every list) in German or Hungarian: every
    page it can open (the error texts of forms come from the forms at request time, where
    nothing is formatted too early)."""
    from accounts.models import User

    anna = demo_user("anna@nordlicht.example")
    User.objects.filter(pk=anna.pk).update(language=language)
    nordlicht = demo["nordlicht"]
    context = browser.new_context(locale={"de": "de-DE", "hu": "hu-HU"}[language])
    try:
        page = context.new_page()
        run = TextRun(
            role=f"text-{language}",
            page=page,
            base_url=live_server.url,
            customers=[nordlicht, *nordlicht.sub_accounts.order_by("number")],
            subject_user=anna,
        )
        run.language, run.patterns = language, _leak_patterns(language)
        harness.sign_in(run.page, run.base_url, anna.email, DEMO_PASSWORD, demo_device(anna))
        routes = [r for r in harness.portal_routes() if r.name not in STORED_TEXT_PAGES]
        run.visit_routes(routes, "filled")
        assert run.checked > 5
        assert not run.problems, f"{len(run.problems)} untranslated:\n" + "\n".join(
            dict.fromkeys(run.problems)
        )
    finally:
        context.close()
