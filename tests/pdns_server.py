"""A real PowerDNS for the tests: Debian's ``pdns-server`` with ``pdns-backend-sqlite3``.

A pytest plugin: ``pytest_plugins = [..., "tests.pdns_server"]`` in ``tests/conftest.py``.

- ``pdns_server`` (session): ``pdns_server --config-dir=<tmp>`` on free loopback ports
  (DNS over UDP/TCP and the HTTP API), a fresh sqlite database, API on, caches off so
  that a change answers at once. It can be stopped and started again on the same ports
  (``.stop()``, ``.start()``) to show that nothing is lost while it is down.
- ``pdns`` (function): the running server with all zones removed, and the portal's
  ``PDNS_API_URL``/``PDNS_API_KEY`` pointed at it. ``pdns.answers(name, type)`` asks it
  over DNS with dnspython.
- Every other test runs with PowerDNS *not configured* (``PDNS_API_URL`` empty), the
  embedded default, so that no test depends on the environment it runs in.

The ports and the key are chosen when pytest starts and exported as ``PDNS_API_URL`` and
``PDNS_API_KEY``, so a real Celery worker (``tests.servers.celery_worker``), whenever it
is started, pushes to this server. The server itself starts only when a test asks for it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PDNS_BINARY = shutil.which("pdns_server") or "/usr/sbin/pdns_server"
SCHEMA = Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql")
START_SECONDS = 20
PACKAGES = "pdns-server pdns-backend-sqlite3"


def _free_port(taken=()) -> int:
    """A loopback port free for both TCP and UDP (DNS listens on both)."""
    import socket

    for _attempt in range(50):
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
        if port in taken:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free loopback port for PowerDNS")


@dataclass
class PdnsServer:
    """One PowerDNS process in a temporary folder; stop and start keep ports and data."""

    directory: Path
    dns_port: int
    api_port: int
    api_key: str
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    @property
    def log_path(self) -> Path:
        return self.directory / "pdns.log"

    def _write_config(self) -> None:
        database = self.directory / "pdns.sqlite3"
        if not database.exists():
            with sqlite3.connect(database) as db:
                db.executescript(SCHEMA.read_text())
        config = {
            "launch": "gsqlite3",
            "gsqlite3-database": str(database),
            "local-address": "127.0.0.1",
            "local-port": self.dns_port,
            "api": "yes",
            "api-key": self.api_key,
            "webserver": "yes",
            "webserver-address": "127.0.0.1",
            "webserver-port": self.api_port,
            "webserver-allow-from": "127.0.0.0/8",
            "daemon": "no",
            "guardian": "no",
            "socket-dir": str(self.directory),
            "security-poll-suffix": "",
            "disable-syslog": "yes",
            "loglevel": "4",
            # Answers reflect every change at once.
            "cache-ttl": "0",
            "negquery-cache-ttl": "0",
            "query-cache-ttl": "0",
            "zone-cache-refresh-interval": "0",
            "default-soa-content": "ns1.provider.test. hostmaster.@ 0 10800 3600 604800 3600",
        }
        text = "".join(f"{key}={value}\n" for key, value in config.items())
        (self.directory / "pdns.conf").write_text(text)

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.is_running():
            return
        self._write_config()
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's life
        self.process = subprocess.Popen(
            [PDNS_BINARY, f"--config-dir={self.directory}"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + START_SECONDS
        while not self._answers_api():
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"pdns_server exited with {self.process.returncode}:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"pdns_server did not start in {START_SECONDS} s:\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM to our own process (exit status 143 is normal) and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def _answers_api(self) -> bool:
        import requests

        try:
            response = requests.get(
                f"{self.api_url}/servers/localhost",
                headers={"X-API-Key": self.api_key},
                timeout=0.5,
            )
        except requests.RequestException:
            return False
        return response.status_code == 200

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # --- helpers for tests -------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs):
        import requests

        return requests.request(
            method,
            f"{self.api_url}/servers/localhost{path}",
            headers={"X-API-Key": self.api_key},
            timeout=5,
            **kwargs,
        )

    def zones(self) -> list[str]:
        return [zone["name"] for zone in self.api("GET", "/zones").json()]

    def delete_all_zones(self) -> None:
        for name in self.zones():
            self.api("DELETE", f"/zones/{name}")

    def answers(self, name: str, rtype: str) -> list[str]:
        """What the server answers over DNS (UDP) for ``name``/``rtype``, as zone-file
        text, sorted; an empty list for no such name or no data."""
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.dns_port
        resolver.lifetime = 3
        resolver.cache = None
        try:
            answer = resolver.resolve(name, rtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return []  # no such name, or no zone for it (REFUSED)
        if answer.rrset is None:
            return []
        return sorted(rdata.to_text() for rdata in answer.rrset)

    def ttl(self, name: str, rtype: str) -> int | None:
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = self.dns_port
        resolver.lifetime = 3
        try:
            answer = resolver.resolve(name, rtype, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return None
        return answer.rrset.ttl if answer.rrset is not None else None


_reserved: dict = {}


def pytest_configure(config):
    """Choose the ports and key now and export them, so that a Celery worker started later
    by any test pushes to this server (the server starts only when a test needs it)."""
    if _reserved:
        return
    dns_port = _free_port()
    _reserved.update(
        dns_port=dns_port, api_port=_free_port({dns_port}), api_key=secrets.token_urlsafe(24)
    )
    os.environ["PDNS_API_URL"] = f"http://127.0.0.1:{_reserved['api_port']}/api/v1"
    os.environ["PDNS_API_KEY"] = _reserved["api_key"]


@pytest.fixture(scope="session")
def pdns_server():
    if not os.access(PDNS_BINARY, os.X_OK) or not SCHEMA.exists():
        pytest.fail(
            f"PowerDNS is not installed (Debian packages {PACKAGES}; `make install`)",
            pytrace=False,
        )
    directory = Path(tempfile.mkdtemp(prefix="pdns-test-"))
    server = PdnsServer(directory=directory, **_reserved)
    try:
        server.start()
    except RuntimeError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(autouse=True)
def _pdns_not_configured(settings):
    """Unless a test asks for ``pdns``: no DNS server configured (the embedded default)."""
    settings.PDNS_API_URL = ""
    settings.PDNS_API_KEY = ""


@pytest.fixture
def pdns(pdns_server, settings, _pdns_not_configured):
    """The running PowerDNS, emptied, with the portal configured to push to it."""
    pdns_server.start()  # a test before may have stopped it
    pdns_server.delete_all_zones()
    settings.PDNS_API_URL = pdns_server.api_url
    settings.PDNS_API_KEY = pdns_server.api_key
    yield pdns_server
    pdns_server.start()
