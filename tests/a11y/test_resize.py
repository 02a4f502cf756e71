"""Text resized to 200% and the page zoomed to 200% lose nothing: no page needs scrolling
sideways (WCAG 1.4.4, 1.4.10). Data tables scroll inside their own box, which 1.4.10
allows. Target sizes (2.5.8) are axe's ``target-size`` rule in test_pages.py."""

import pytest
from playwright.sync_api import Error as PlaywrightError

from portal.management.commands.seed_demo import DEMO_PASSWORD
from tests.a11y import harness
from tests.a11y.fixtures import demo_device, demo_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll("body *")].filter((el) => {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 1 || box.width === 0) return false;
    // inside a box that scrolls by itself (a responsive table) is fine
    for (let p = el.parentElement; p; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return false;
    }
    return true;
  }).map((el) => el.outerHTML.slice(0, 100));
  return {scroll: document.documentElement.scrollWidth - width, wide: wide.slice(0, 3)};
}"""


def _main_pages(demo):
    """Sign-in, the account switcher, dashboard, one account of each kind, sign-in and
    security, and every customer page that takes just the customer (the lists)."""
    nordlicht = demo["nordlicht"]
    pages = ["/", f"/c/{nordlicht.number}/", "/security/"]
    pages += [a.get_absolute_url() for a in nordlicht.hosting_accounts.order_by("kind")]
    pages += [
        route.url({"customer": nordlicht.number})
        for route in harness.portal_routes()
        if route.param_names == ("customer",)
    ]
    return list(dict.fromkeys(pages))


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({"viewport": (1280, 800), "font": "200%"}, id="text-200%"),
        pytest.param({"viewport": (640, 400), "scale": 2}, id="zoom-200%"),
        pytest.param({"viewport": (320, 640)}, id="reflow-320px"),
    ],
)
def test_main_pages_need_no_sideways_scrolling(demo, browser, live_server, how):
    """1.4.4 and 1.4.10 on the main pages, signed in as the owner with data in the lists:
    text at 200%, the whole page at 200% (a 1280 px window seen at 640 CSS px) and 320 px."""
    width, height = how["viewport"]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=how.get("scale", 1),
        locale="en-US",
    )
    page = context.new_page()
    try:
        anna = demo_user("anna@nordlicht.example")
        problems = []

        def check(path):
            try:
                response = page.goto(live_server.url + path)
            except PlaywrightError:  # an action that answers only POST (405)
                return
            if response is None or response.status != 200:
                return
            if how.get("font"):
                page.evaluate("size => document.documentElement.style.fontSize = size", how["font"])
            found = page.evaluate(OVERFLOW)
            if found["scroll"] > 1:
                problems.append(f"{path}: {found['scroll']} px sideways; e.g. {found['wide']}")

        check("/login/")
        harness.sign_in(page, live_server.url, anna.email, DEMO_PASSWORD, demo_device(anna))
        for path in _main_pages(demo):
            check(path)
        assert not problems, "pages that scroll sideways:\n" + "\n".join(problems)
    finally:
        context.close()
