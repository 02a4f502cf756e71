"""Fixtures and hooks of the security suite (``make security``: ``pytest -m security``).

- Tests marked ``security_only`` (fault tests, the dependency audit) are heavy or need the
  network; they run when the run selects ``-m security`` and are skipped, with that reason,
  in a plain ``pytest``/``make test``.
- The isolation matrix stores its totals; the last line of the run prints them:
  ``isolation: N requests, M leaks``.
"""

import pytest

ISOLATION_KEY = pytest.StashKey[dict]()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "security_only: runs only under make security (pytest -m security)"
    )
    config.stash[ISOLATION_KEY] = {}


def selected_security(config) -> bool:
    return "security" in (config.option.markexpr or "")


def pytest_collection_modifyitems(config, items):
    if selected_security(config):
        return
    skip = pytest.mark.skip(reason="heavy or networked: runs under make security")
    for item in items:
        if item.get_closest_marker("security_only"):
            item.add_marker(skip)


def pytest_unconfigure(config):
    totals = config.stash.get(ISOLATION_KEY, {})
    if totals:
        # After pytest's own summary, so that it is the last line of `make security`.
        print(f"\nisolation: {totals['requests']} requests, {totals['leaks']} leaks", flush=True)


@pytest.fixture
def isolation_totals(request):
    return request.config.stash[ISOLATION_KEY]


@pytest.fixture
def world(db):
    from tests.security.world import build_world

    return build_world()


from tests.security.servers import portal_server  # noqa: E402, F401  (a fixture)
