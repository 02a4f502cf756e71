"""The accessibility tally, a pytest plugin registered from ``tests/conftest.py``.

Every axe run adds to one tally; the terminal summary ends the accessibility part with
``accessibility: N pages checked, M violations`` whenever accessibility tests ran, so that
``make test`` shows it without ``-s``. Tests marked ``screens`` rewrite docs/screens/ and
run only when asked for (``pytest -m screens``, ``make screens``).
"""

from dataclasses import dataclass, field


@dataclass
class Tally:
    pages: int = 0
    violations: int = 0
    # route name -> how it was handled: "checked", "post-only", "not-html"
    routes: dict[str, str] = field(default_factory=dict)
    # route name -> why no URL could be built or reached
    unresolved: dict[str, str] = field(default_factory=dict)
    roles: set[str] = field(default_factory=set)

    def handled(self, name: str, how: str) -> None:
        if self.routes.get(name) != "checked":
            self.routes[name] = how
        self.unresolved.pop(name, None)


TALLY = Tally()


def pytest_collection_modifyitems(config, items):
    """Screens are refreshed on request only: they rewrite files in the repository."""
    if "screens" in (config.option.markexpr or ""):
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("screens") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not TALLY.roles:
        return
    terminalreporter.write_sep("-", "accessibility (axe-core, WCAG 2.2 A and AA)")
    terminalreporter.write_line(
        f"accessibility: {TALLY.pages} pages checked, {TALLY.violations} violations"
    )
