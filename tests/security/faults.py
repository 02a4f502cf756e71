"""Breaking the real servers on purpose (S26, S28).

The services are the ones ``scripts/services.sh start`` gave this checkout (``make
security`` starts them): ``.run/services.state`` names their folders and ports, so Redis
can be shut down and started again on the same port, and PostgreSQL restarted with
``pg_ctl restart`` as its own OS user. Celery workers here are private to one test: their
own processes, queues and log files, so killing one disturbs nothing else.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import ARTIFACTS, ROOT, _database_url, _log_tail

STATE = ROOT / ".run" / "services.state"


def service_state() -> dict[str, str]:
    if not STATE.exists() or not os.environ.get("REDIS_URL"):
        pytest.fail(
            "fault tests need the services of this checkout: run `make security` (or "
            "scripts/services.sh start && . .run/env)",
            pytrace=False,
        )
    state = {}
    for line in STATE.read_text().splitlines():
        key, _, value = line.partition("=")
        state[key] = shlex.split(value)[0] if value else ""
    return state


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout:g} s")
        time.sleep(interval)


# --- Redis ------------------------------------------------------------------------------


class Redis:
    """The checkout's Redis, stopped and started on the same port and folder."""

    def __init__(self):
        state = service_state()
        self.port = int(state["REDIS_PORT"])
        self.dir = Path(state["BASE"]) / "redis"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), "shutdown", "nosave"],
            capture_output=True,
            timeout=10,
        )
        wait_until(lambda: not self.ping(), 10, what="Redis down")

    def start(self) -> None:
        # The same command as scripts/services.sh.
        subprocess.run(
            [
                "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                "--save", "", "--appendonly", "no", "--daemonize", "yes",
                "--dir", str(self.dir), "--pidfile", str(self.dir / "redis.pid"),
                "--logfile", str(self.dir / "redis.log"),
            ],
            check=True,
            capture_output=True,
            timeout=10,
        )  # fmt: skip
        wait_until(self.ping, 10, what="Redis up")


# --- PostgreSQL -------------------------------------------------------------------------


class Postgres:
    def __init__(self):
        state = service_state()
        self.data = Path(state["PGDIR"]) / "data"
        self.bin = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))

    def restart(self) -> subprocess.CompletedProcess:
        """``pg_ctl restart -m fast``: every connection is cut, the server comes back with
        the options it was started with."""
        # The server's output goes to its log file: a pipe here would be held open by the
        # new postmaster and never reach end-of-file.
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                   str(self.data.parent / "postgres.log"), "-m", "fast", "-w", "-t", "60",
                   "restart"]  # fmt: skip
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, timeout=90,
        )  # fmt: skip


# --- Celery workers ---------------------------------------------------------------------


@dataclass
class Worker:
    process: subprocess.Popen
    name: str
    queues: str
    log_path: Path

    def log(self) -> str:
        return _log_tail(self.log_path, 80)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Pool children of a killed main process would linger: end them by their ids.
        for pid in self.children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start_worker(
    *,
    queues: str,
    pool: str = "solo",
    concurrency: int = 1,
    include: tuple[str, ...] = (),
    env: dict | None = None,
    tag: str = "fault",
) -> Worker:
    """A real ``celery -A portal worker`` on the test database and the checkout's Redis."""
    from django.conf import settings

    from portal.celery import app

    name = f"{tag}-{os.getpid()}-{time.monotonic_ns()}@{socket.gethostname()}"
    worker_env = {
        **os.environ,
        "DATABASE_URL": _database_url(settings.DATABASES["default"]),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CONN_MAX_AGE": "0",
        **(env or {}),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"celery-{tag}.log"
    command = [
        sys.executable, "-m", "celery", "-A", "portal", "worker", f"--pool={pool}",
        f"--concurrency={concurrency}", "-Q", queues, "-n", name, "--loglevel=INFO",
        "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    for module in include:
        command += ["--include", module]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT
        )
    worker = Worker(process, name, queues, log_path)

    def answers():
        if process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n{worker.log()}")
        try:
            return app.control.ping(destination=[name], timeout=0.5)
        except Exception:  # noqa: BLE001 - the broker may be coming up
            return False

    try:
        wait_until(answers, 60, interval=0.2, what=f"worker {name} answering")
    except AssertionError:
        worker.stop()
        raise
    return worker
