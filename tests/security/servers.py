"""The portal as production runs it, for the header, log and fault tests (S11, S16, S28).

``portal_server()`` starts gunicorn with the command of the image's ``CMD`` (Dockerfile)
and production settings (``DEBUG=0``) on pytest-django's test database, behind a pretend
TLS proxy: requests carry ``X-Forwarded-Proto: https``. Tests that use it need committed
rows (``transactional_db``) and PostgreSQL (``make security`` starts it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import requests

from tests.servers import ARTIFACTS, ROOT, _database_url, free_port

PRODUCTION_SECRET = "prod-test-" + secrets.token_urlsafe(40)


def image_command() -> list[str]:
    """The web command of the image (Dockerfile ``CMD``), as a list."""
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^CMD\s+(\[.*\])\s*$", text, re.MULTILINE)
    assert match, "no JSON CMD in Dockerfile"
    return json.loads(match.group(1))


def production_env(**extra) -> dict[str, str]:
    from django.conf import settings

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    env.update(
        DEBUG="0",
        SECRET_KEY=PRODUCTION_SECRET,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=_database_url(settings.DATABASES["default"]),
        EMAIL_URL="dummymail://",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


_collected = False


def collectstatic() -> None:
    """DEBUG=0 serves hashed static names from the manifest: build it once per run."""
    global _collected
    if _collected:
        return
    result = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=production_env(DATABASE_URL="sqlite:////tmp/portal-collectstatic.sqlite3"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    _collected = True


@dataclass
class PortalServer:
    process: subprocess.Popen
    port: int
    log_path: Path
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def request(self, method, path, *, https=True, cookies=True, **kwargs) -> requests.Response:
        """A request as a browser behind TLS would send it; keeps cookies by hand (they
        are Secure, so a cookie jar would not send them over this plain socket)."""
        headers = dict(kwargs.pop("headers", {}))
        if https:
            headers.setdefault("X-Forwarded-Proto", "https")
        if method.upper() == "POST":
            headers.setdefault("Origin", self.origin)
            headers.setdefault("Referer", self.origin + path)
        if cookies and self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        timeout = kwargs.pop("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        response = requests.request(
            method, self.base + path, headers=headers, timeout=timeout, **kwargs
        )
        for cookie in set_cookies(response):
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def csrf_token(self, html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert match, "no CSRF token in the form"
        return match.group(1)

    def sign_in(self, email: str, password: str) -> requests.Response:
        page = self.get("/login/")
        return self.post(
            "/login/",
            data={
                "csrfmiddlewaretoken": self.csrf_token(page.text),
                "username": email,
                "password": password,
            },
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def production_user(**membership):
    """An owner whose password the production process can check (the test process hashes
    with a fast hasher; gunicorn only knows the real ones)."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    from accounts.models import User
    from tests.factories import PASSWORD, MembershipFactory

    user = MembershipFactory(owner=True, **membership).user
    User.objects.filter(pk=user.pk).update(
        password=PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    )
    user.refresh_from_db()
    return user


def set_cookies(response) -> list[SimpleCookie]:
    parsed = []
    for header in response.raw.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(header)
        parsed.append(cookie)
    return parsed


def raw_set_cookie(response, name: str) -> str:
    """The Set-Cookie header that sets ``name``, as sent."""
    for header in response.raw.headers.getlist("Set-Cookie"):
        if header.startswith(name + "="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers}")


def start_portal_server(workers: int = 2, **env) -> PortalServer:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail(
            "the production server tests need PostgreSQL: run them with make security "
            "(or scripts/services.sh start && . .run/env)",
            pytrace=False,
        )
    collectstatic()
    port = free_port()
    command = image_command()
    assert command[0] == "gunicorn"
    command = [sys.executable, "-m", "gunicorn", *command[1:]]
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    command[command.index("--workers") + 1] = str(workers)
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"gunicorn-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=production_env(**env), stdout=log, stderr=subprocess.STDOUT
        )
    server = PortalServer(process, port, log_path)
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            if server.get("/healthz", timeout=1).status_code == 200:
                return server
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"gunicorn did not answer within 30 s:\n{server.log()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture
def portal_server(transactional_db):
    servers = []

    def start(**env):
        server = start_portal_server(**env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
