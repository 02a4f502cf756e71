"""make bench's CPU figures (bench/run.py): the time of a process that ends during a page's
run still counts, as a PostgreSQL backend replaced after CONN_MAX_AGE does."""

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

_RUN = Path(__file__).resolve().parents[2] / "bench" / "run.py"

# A parent whose child burns about half a second of CPU, then ends; the parent lives on.
_PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
child.wait()
time.sleep(30)
"""
_CHILD = """
import time
time.sleep(0.3)
end = time.process_time() + 0.5
while time.process_time() < end:
    pass
"""


def _bench_run():
    spec = importlib.util.spec_from_file_location("bench_run", _RUN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cpu_of_a_child_that_ended_during_the_run_counts():
    run = _bench_run()
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _CHILD])  # noqa: S603
    try:
        deadline = time.monotonic() + 10
        while not run.cpu_times(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.01)  # the child is up
        with run.CpuWatch(parent.pid, every=0.05) as watch:
            while run.cpu_times(parent.pid) and time.monotonic() < deadline:
                time.sleep(0.05)  # until the child ended
            time.sleep(0.1)
        assert run.cpu_times(parent.pid) == {}  # only the ended child was watched
        assert watch.spent >= 0.4
    finally:
        parent.kill()
        parent.wait()
