"""Driving the portal with the keyboard alone, checking the focus is visible at each step."""

from __future__ import annotations

# The focused element shows its focus: it matches :focus-visible, has an outline of at
# least 2 px or a box shadow, and is on screen. Chrome does not always count a date or
# time field as :focus-visible when Tab moves through its parts or to its calendar
# button (then the field is not even :focus, only :focus-within); portal.css outlines
# those fields on :focus-within, so that is what counts for them.
FOCUS_STATE = """() => {
  const el = document.activeElement;
  const what = el ? el.outerHTML.slice(0, 160) : "nothing";
  if (!el || el === document.body || el === document.documentElement)
    return {ok: false, visible: false, what: "the page itself (focus was lost)"};
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  const box = el.getBoundingClientRect();
  const onScreen = box.width > 0 && box.height > 0 && box.bottom > 0 && box.right > 0
    && box.top < innerHeight && box.left < innerWidth;
  const dateTime = el.matches("input[type=date], input[type=datetime-local], input[type=time]");
  const focusVisible = el.matches(":focus-visible") || (dateTime && el.matches(":focus-within"));
  return {ok: focusVisible && (outline || shadow) && onScreen, visible: onScreen, focusVisible,
          outline: `${style.outlineStyle} ${style.outlineWidth}`, what};
}"""


class Keyboard:
    """Tab, type and press keys; never the mouse. Every focus change is checked."""

    def __init__(self, page, max_tabs: int = 80):
        self.page = page
        self.max_tabs = max_tabs
        self.steps = 0

    def assert_focus_visible(self) -> None:
        state = self.page.evaluate(FOCUS_STATE)
        if not state["ok"]:
            # Bootstrap scrolls smoothly: give the focused element a moment to arrive.
            for _ in range(30):
                self.page.wait_for_timeout(100)
                state = self.page.evaluate(FOCUS_STATE)
                if state["ok"]:
                    break
        self.steps += 1
        assert state["ok"], f"focus not visible on {self.page.url}: {state}"

    def active_matches(self, selector: str) -> bool:
        return self.page.evaluate("s => document.activeElement.matches(s)", selector)

    def wait_focus(self, selector: str, seconds: float = 3) -> None:
        """Waits until ``selector`` has the focus (polling: CSP forbids eval)."""
        for _ in range(int(seconds * 10)):
            if self.active_matches(selector):
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"{selector} never got the focus on {self.page.url}")

    def settle(self, seconds: float = 3) -> None:
        """Waits for a fresh page to finish loading and, when it has an ``autofocus``
        element, for the browser to move the focus there. Chrome applies autofocus at a
        later rendering step than the load event; a Tab pressed before that lands on
        whatever the page is doing then, not where a person's first Tab would."""
        self.page.wait_for_load_state("load")
        if self.page.evaluate("() => window.__keyboardSettled === true"):
            return  # once per page: later on, the focus is where our keys put it
        for _ in range(int(seconds * 10)):
            pending = self.page.evaluate(
                "() => document.readyState !== 'complete' || ("
                "(!document.activeElement || document.activeElement === document.body)"
                " && !!document.querySelector('[autofocus]'))"
            )
            if not pending:
                break
            self.page.wait_for_timeout(100)
        self.page.evaluate("() => { window.__keyboardSettled = true; }")

    def tab_to(self, selector: str, backwards: bool = False) -> None:
        """Presses Tab until the element matching ``selector`` has the focus."""
        self.settle()
        if self.active_matches(selector):
            self.assert_focus_visible()
            return
        for _ in range(self.max_tabs):
            self.page.keyboard.press("Shift+Tab" if backwards else "Tab")
            self.assert_focus_visible()
            if self.active_matches(selector):
                return
        raise AssertionError(f"Tab never reached {selector} on {self.page.url}")

    def fill(self, selector: str, text: str) -> None:
        self.tab_to(selector)
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(text)

    def press(self, key: str, navigates: bool = False) -> None:
        if navigates:
            with self.page.expect_navigation(wait_until="load"):
                self.page.keyboard.press(key)
            self.page.wait_for_load_state("load")
        else:
            self.page.keyboard.press(key)

    def activate(self, selector: str) -> None:
        """Tab to a link or button and press Enter, waiting for the next page."""
        self.tab_to(selector)
        self.press("Enter", navigates=True)

    def check(self, selector: str) -> None:
        """Tab to a checkbox or radio button and tick it with the space bar."""
        self.tab_to(selector)
        if not self.page.evaluate("s => document.querySelector(s).checked", selector):
            self.page.keyboard.press("Space")

    def select(self, selector: str, label: str) -> None:
        """Chooses an option of a select by typing its label's first letters (as people do
        with a closed select), then checks it took."""
        self.tab_to(selector)
        self.page.keyboard.type(label)
        chosen = self.page.evaluate(
            "s => { const el = document.querySelector(s); return el.options[el.selectedIndex].text; }",
            selector,
        )
        assert chosen.startswith(label), f"typing {label!r} chose {chosen!r} in {selector}"

    def skip_to_content(self) -> None:
        """The first Tab on a fresh page reaches the skip link (on a page that puts the
        focus in a field at once, Shift+Tab from there does); Enter moves to <main>."""
        self.settle()
        autofocused = self.page.evaluate("document.activeElement !== document.body")
        if autofocused:
            self.tab_to("a.skip-link", backwards=True)
        else:
            self.page.keyboard.press("Tab")
            self.assert_focus_visible()
            assert self.active_matches("a.skip-link"), "the first Tab stop is not the skip link"
        self.page.keyboard.press("Enter")
        assert self.active_matches("main#main"), "the skip link did not move the focus to main"
        self.assert_focus_visible()
