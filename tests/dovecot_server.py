"""A real Dovecot IMAP server for the tests, on a free loopback port, from a temp folder.

A pytest plugin: ``pytest_plugins = [..., "tests.dovecot_server"]`` in ``tests/conftest.py``.

- ``dovecot_server`` (session): Dovecot (Debian ``dovecot-imapd``) with one mailbox user,
  configured entirely in a temporary folder (nothing read from /etc/dovecot), stopped by
  its own PID at the end. How it is set up, and its pitfalls, are in SERVICES.md.
- ``imap_settings`` (function): the portal's IMAP_* settings pointed at it, the mailbox
  emptied first.

``dovecot_server.append(raw)`` puts a message into INBOX, ``.messages(folder)`` lists
(uid, flags, raw) of a folder, ``.clear()`` empties every folder.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
START_SECONDS = 15

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{dir}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {dir}/users
  default_fields = uid=nobody gid=nogroup home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Dovecot:
    host: str
    port: int
    user: str
    password: str
    directory: Path
    process: subprocess.Popen = field(repr=False)

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver a message into ``folder``, unseen."""
        conn = self.connect()
        try:
            typ, data = conn.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert typ == "OK", data
        finally:
            conn.logout()

    def messages(self, folder: str = "INBOX") -> list[tuple[int, str, bytes]]:
        """(uid, flags, raw) of every message in ``folder``; [] when it does not exist."""
        conn = self.connect()
        try:
            typ, _data = conn.select(folder, readonly=True)
            if typ != "OK":
                return []
            typ, data = conn.uid("SEARCH", None, "ALL")
            result = []
            for uid in (data[0] or b"").split():
                typ, parts = conn.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                meta, raw = parts[0]
                flags = re.search(rb"FLAGS \(([^)]*)\)", meta)
                result.append((int(uid), (flags.group(1) if flags else b"").decode(), raw))
            return result
        finally:
            conn.logout()

    def clear(self) -> None:
        """Delete every message of every folder."""
        conn = self.connect()
        try:
            typ, folders = conn.list()
            for line in folders or []:
                name = line.decode().rsplit(' "/" ', 1)[-1].strip('"')
                typ, count = conn.select(name)
                if typ == "OK" and count[0] not in (b"0", None):
                    conn.store("1:*", "+FLAGS", "(\\Deleted)")
                    conn.expunge()
        finally:
            conn.logout()


def _wait_ready(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(100).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    process.kill()
    pytest.fail(f"Dovecot did not start on port {port}:\n{text[-3000:]}", pytrace=False)


@pytest.fixture(scope="session")
def dovecot_server():
    if not os.access(DOVECOT, os.X_OK):
        pytest.fail("no dovecot binary (Debian package dovecot-imapd; make install)")
    directory = Path(tempfile.mkdtemp(prefix="dovecot-"))
    # The auth process must read the user file and the imap process (as nobody) the mail.
    directory.chmod(0o755)
    nobody = pwd.getpwnam("nobody")
    mail = directory / "mail"
    mail.mkdir()
    os.chown(mail, nobody.pw_uid, nobody.pw_gid)
    user, password = "support", secrets.token_urlsafe(16)
    (directory / "users").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    (directory / "users").chmod(0o644)
    port = _free_port()
    config = directory / "dovecot.conf"
    config.write_text(CONFIG.format(dir=directory, port=port))
    log = directory / "dovecot.log"
    process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own config
        [DOVECOT, "-F", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=open(directory / "stderr.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    _wait_ready(port, process, log)
    server = Dovecot("127.0.0.1", port, user, password, directory, process)
    yield server
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def imap_settings(settings, dovecot_server):
    """IMAP_* pointed at ``dovecot_server`` (plain IMAP on loopback), mailbox emptied."""
    settings.IMAP_HOST = dovecot_server.host
    settings.IMAP_PORT = dovecot_server.port
    settings.IMAP_SSL = False
    settings.IMAP_USER = dovecot_server.user
    settings.IMAP_PASSWORD = dovecot_server.password
    settings.IMAP_FOLDER = "INBOX"
    settings.IMAP_DONE_FOLDER = ""
    dovecot_server.clear()
    return dovecot_server
