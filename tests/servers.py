"""Real servers for the tests: a Celery worker, an SMTP sink and headless Chromium.

A pytest plugin: ``pytest_plugins = ["tests.servers"]`` in ``tests/conftest.py``.

- ``celery_worker`` (session): a real ``celery -A portal worker`` on ``REDIS_URL`` and on
  pytest-django's test database. Tests that use it are ``transactional_db`` tests (the
  worker must see committed rows) and set ``settings.CELERY_TASK_ALWAYS_EAGER = False``.
  Mail the worker sends goes to ``smtp_server``. Skipped only when ``REDIS_URL`` is unset.
- ``smtp_server`` (session): an aiosmtpd sink on 127.0.0.1; ``smtp_settings`` (function)
  points Django's SMTP backend at it and empties it first.
- ``browser`` (session) and ``page`` (function, a fresh context per test): Debian's
  Chromium through Playwright's sync API; a failing test leaves a screenshot in
  ``test-artifacts/``.
- ``free_port()``: a free TCP port on 127.0.0.1.

``make test`` starts PostgreSQL and Redis and exports DATABASE_URL and REDIS_URL; by hand:
``scripts/services.sh start && . .run/env && pytest ...``.
"""

import email
import email.policy
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import pytest

# Playwright's sync API keeps an event loop running in the test thread, and Django then
# refuses database calls from it ("async unsafe"), live_server tests included. Django reads
# it at every call; nothing above imports Django, so this is early enough.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WORKER_START_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- SMTP -----------------------------------------------------------------------------


@dataclass
class Delivery:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class SMTPSink:
    """An aiosmtpd handler that keeps every message delivered to it."""

    host: str = "127.0.0.1"
    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._changed:
            self.deliveries.append(
                Delivery(envelope.mail_from, list(envelope.rcpt_tos), raw, message)
            )
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        """Parsed messages, oldest first."""
        with self._changed:
            return [d.message for d in self.deliveries]

    @property
    def raw(self) -> list[bytes]:
        with self._changed:
            return [d.raw for d in self.deliveries]

    @property
    def recipients(self) -> list[list[str]]:
        """Envelope recipients (RCPT TO) of each message: Bcc shows only here."""
        with self._changed:
            return [d.rcpt_tos for d in self.deliveries]

    def clear(self) -> None:
        with self._changed:
            self.deliveries.clear()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        """Waits until at least ``count`` messages arrived; returns them all."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise AssertionError(
                    f"expected {count} message(s) within {timeout:g} s, got {len(self.deliveries)}"
                )
            return [d.message for d in self.deliveries]


@pytest.fixture(scope="session")
def smtp_server():
    from aiosmtpd.controller import Controller

    sink = SMTPSink()
    for attempt in range(3):
        sink.port = free_port()
        # hostname named explicitly: the default may pick ::1.
        controller = Controller(sink, hostname=sink.host, port=sink.port)
        try:
            controller.start()
            break
        except Exception:
            if attempt == 2:
                raise
    yield sink
    controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """Django's SMTP backend pointed at ``smtp_server``, emptied first."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    smtp_server.clear()
    return smtp_server


# --- Celery ---------------------------------------------------------------------------


@dataclass
class CeleryWorker:
    process: subprocess.Popen
    app: object
    name: str
    log_path: Path


def _database_url(db: dict) -> str:
    """A DATABASE_URL for another process, for the database Django uses now."""
    engine, name = db["ENGINE"], str(db["NAME"])
    if "postgresql" in engine:
        user = quote(db.get("USER") or "", safe="")
        password = quote(db.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = db.get("HOST") or "127.0.0.1"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{quote(name, safe='')}"
    if "sqlite" in engine and "memory" not in name and os.path.isabs(name):
        return f"sqlite:///{name}"
    pytest.fail(
        f"celery_worker needs a test database another process can open, not {engine} "
        f"{name!r}: run under `make test`, which uses PostgreSQL",
        pytrace=False,
    )


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, smtp_server):
    """A real Celery worker on the test database; terminated at the end of the session."""
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        pytest.skip("REDIS_URL is not set: a real Celery worker needs Redis (make test starts one)")

    from django.conf import settings

    from portal.celery import app

    # settings.DATABASES holds the test database's name once django_db_setup has run.
    database_url = _database_url(settings.DATABASES["default"])
    name = f"portal-test-{os.getpid()}@{socket.gethostname()}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CONN_MAX_AGE": "0",  # no idle connection to hold up dropping the test database
        "EMAIL_URL": f"smtp://{smtp_server.host}:{smtp_server.port}",
    }
    app.control.purge()  # tasks left queued by earlier tests would run now
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "celery-worker.log"
    # fmt: off
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "worker",
        "--pool=solo", "-Q", "celery", "-n", name, "--loglevel=INFO",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]
    # fmt: on
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def stop():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # warm shutdown: finishes the current task
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    deadline = time.monotonic() + WORKER_START_SECONDS
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"Celery worker exited with {process.returncode}:\n{_log_tail(log_path)}",
                pytrace=False,
            )
        try:
            if app.control.ping(destination=[name], timeout=0.5):
                break
        except Exception:  # noqa: S110 - the broker connection is retried until the deadline
            pass
        if time.monotonic() > deadline:
            stop()
            pytest.fail(
                f"Celery worker did not answer within {WORKER_START_SECONDS} s:\n"
                f"{_log_tail(log_path)}",
                pytrace=False,
            )
        time.sleep(0.2)

    yield CeleryWorker(process, app, name, log_path)
    stop()


# --- Browser --------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item, for ``page`` to see a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM} (Debian package chromium; make install)")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
    except BaseException:
        playwright.stop()
        raise
    yield chromium
    chromium.close()
    playwright.stop()


@pytest.fixture
def page(browser, request):
    """A page in a fresh browser context; screenshot to test-artifacts/ when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    reports = (getattr(request.node, f"rep_{when}", None) for when in ("setup", "call"))
    if any(report is not None and report.failed for report in reports):
        ARTIFACTS.mkdir(exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            page.screenshot(path=str(ARTIFACTS / f"{stem}.png"), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"screenshot of {request.node.nodeid} failed: {exc}")
    context.close()
