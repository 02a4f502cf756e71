"""The measuring half of ``make bench`` (scripts/bench.sh starts the servers first).

For every page of ``--pages`` (written by ``manage.py bench_data --pages``):
1. queries per request: Django's test client with CaptureQueriesContext, in this process,
   against the same database and settings as the server (one warm-up request first, as a
   running worker has its caches warm);
2. load: wrk at 8 connections against gunicorn for ``--seconds`` after a short warm-up,
   latency percentiles from bench/report.lua's ``done()`` hook.

The bare view (/healthz: the full middleware stack, no session, no query) is driven
before every page and once more at the end; a page's ratio is its requests per second over
the mean of the bare runs just before and after it. That keeps the ratio honest when other
work on the machine comes and goes during the run.

Beside the wall-clock figures it records the CPU time the gunicorn workers and the
PostgreSQL backends spent per request (from /proc), which does not depend on how busy the
machine is. Prints a table and writes the results as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "report.lua"
CONNECTIONS = 8

# Goals of issue 9, on the full dataset.
GOAL_RATIO = 0.10
GOAL_P95_MS = 50.0
GOAL_QUERIES = 10


def count_queries(pages: list[dict]) -> dict[str, dict]:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    results = {}
    for page in pages:
        client = Client(SERVER_NAME="127.0.0.1")
        if page["cookie"]:
            name, value = page["cookie"].split("=", 1)
            assert name == settings.SESSION_COOKIE_NAME  # noqa: S101 - our own file
            client.cookies[name] = value
        client.get(page["url"])  # warm-up
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page["url"])
        results[page["key"]] = {
            "status": response.status_code,
            "bytes": len(response.content),
            "queries": len(queries.captured_queries),
            "sql": [q["sql"] for q in queries.captured_queries],
        }
    return results


def wrk(url: str, cookie: str, seconds: int) -> dict:
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s"]
    command += ["-s", str(LUA)]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, check=True)  # noqa: S603
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[len("BENCH ") :])
    raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


def cpu_times(parent: int | None) -> dict[int, float]:
    """CPU seconds (user + system) of each child of ``parent`` (gunicorn's workers,
    PostgreSQL's backends), from /proc."""
    if not parent:
        return {}
    ticks = os.sysconf("SC_CLK_TCK")
    times = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == parent:  # ppid
            times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return times


class CpuWatch:
    """CPU seconds the children of ``parent`` spend while a page is driven, read from
    /proc every ``every`` seconds: a child that ends in between counts with the time last
    read (a PostgreSQL backend whose connection reached CONN_MAX_AGE is replaced during
    the run; counted only by the processes alive at the end, the contacts page showed
    0.17 ms of PostgreSQL per request instead of 2.7)."""

    def __init__(self, parent: int | None, every: float = 0.25):
        self.parent, self.every = parent, every
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)

    def __enter__(self) -> CpuWatch:
        self.first = cpu_times(self.parent)
        self.last = dict(self.first)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.last.update(cpu_times(self.parent))

    def _follow(self) -> None:
        while not self._stop.wait(self.every):
            self.last.update(cpu_times(self.parent))

    @property
    def spent(self) -> float:
        return sum(seconds - self.first.get(pid, 0.0) for pid, seconds in self.last.items())


def drain(base: str, limit: float = 120.0) -> None:
    """Wait until the server answers the bare view promptly again: requests of a slow
    page that wrk gave up on are still being served and would slow the next run."""
    import urllib.request

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=limit) as answer:  # noqa: S310
                answer.read()
        except OSError:
            pass
        if time.monotonic() - started < 0.5:
            return
    print("  (the server stayed busy after the last page)", flush=True)


def measure(base: str, page: dict, seconds: int, warmup: int, server_pid, db_pid) -> dict:
    url = base + page["url"]
    if warmup:
        wrk(url, page["cookie"], warmup)
        drain(base)
    with CpuWatch(server_pid) as app, CpuWatch(db_pid) as db:
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        raw = wrk(url, page["cookie"], seconds)
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    app_cpu, db_cpu = app.spent, db.spent
    drain(base)
    wrk_cpu = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    duration = raw["duration_us"] / 1e6
    requests = max(raw["requests"], 1)
    return {
        "app_cpu_ms": round(app_cpu * 1000 / requests, 2),
        "db_cpu_ms": round(db_cpu * 1000 / requests, 2),
        "wrk_cpu_ms": round(wrk_cpu * 1000 / requests, 3),
        "rps": round(raw["requests"] / duration, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p95_ms": round(raw["p95_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "requests": raw["requests"],
        "not_200": raw["not_200"] + raw["errors"]["timeout"] + raw["errors"]["connect"],
        "avg_bytes": round(raw["bytes"] / max(raw["requests"], 1)),
    }


def verdict(row: dict) -> list[str]:
    misses = []
    if row["ratio"] < GOAL_RATIO:
        misses.append("rps")
    if row["p95_ms"] > GOAL_P95_MS:
        misses.append("p95")
    if row["queries"] > GOAL_QUERIES:
        misses.append("queries")
    if row["not_200"]:
        misses.append("errors")
    return misses


def table(rows: list[dict], other: dict[str, int], other_scale: str) -> str:
    head = (
        f"{'page':<34} {'rps':>7} {'ratio':>6} {'p50 ms':>7} {'p95 ms':>7} {'queries':>7} "
        f"{'cpu ms':>7} {'cpu ratio':>9}"
    )
    if other:
        head += f" {'q@' + other_scale:>8}"
    lines = [head + "  goals", "-" * (len(head) + 14)]
    for row in rows:
        line = (
            f"{row['name']:<34} {row['rps']:>7.1f} {row['ratio']:>6.1%} {row['p50_ms']:>7.1f} "
            f"{row['p95_ms']:>7.1f} {row['queries']:>7} "
            f"{row['cpu_ms']:>7.1f} {row['cpu_ratio']:>9.1%}"
        )
        if other:
            line += f" {other.get(row['key'], '-')!s:>8}"
        if row["key"] == "bare":
            line += "  (ceiling)"
        else:
            misses = row["misses"]
            line += "  ok" if not misses else "  MISSES " + ", ".join(misses)
        lines.append(line)
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--other", help="results of the other scale, to compare query counts")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--timings", help="JSON with the build timings to record")
    parser.add_argument("--server-pid", type=int, help="gunicorn's master, for CPU time")
    parser.add_argument("--db-pid", type=int, help="PostgreSQL's postmaster, for CPU time")
    args = parser.parse_args()

    spec = json.loads(Path(args.pages).read_text())
    pages = spec["pages"]
    print(f"queries per request ({len(pages)} pages, Django test client) ...", flush=True)
    counted = count_queries(pages)
    prepared = _prepared_statements()  # what their EXECUTEs run (bench/explain.py)
    broken = {k: v for k, v in counted.items() if v["status"] != 200}
    if broken:
        for key, value in broken.items():
            print(f"  {key}: HTTP {value['status']} instead of 200", file=sys.stderr)
        return 1

    bare = next(p for p in pages if p["key"] == "bare")
    bare_seconds = max(3, args.seconds // 3)
    print(f"wrk: {CONNECTIONS} connections, {args.seconds} s per page", flush=True)
    started = time.monotonic()

    def run(page, seconds, warmup):
        return measure(args.base_url, page, seconds, warmup, args.server_pid, args.db_pid)

    measured, bare_runs = {}, [run(bare, bare_seconds, 1)]
    for page in pages:
        if page["key"] == "bare":
            continue
        m = run(page, args.seconds, args.warmup)
        bare_runs.append(run(bare, bare_seconds, 1))
        m["bare_rps"] = round((bare_runs[-2]["rps"] + bare_runs[-1]["rps"]) / 2, 1)
        measured[page["key"]] = m
        print(
            f"  {page['name']:<34} {m['rps']:>7.1f} rps  p95 {m['p95_ms']:>6.1f} ms  "
            f"(bare {m['bare_rps']:.0f} rps)",
            flush=True,
        )
    load_seconds = time.monotonic() - started
    measured["bare"] = {
        **bare_runs[0],
        "rps": round(sum(b["rps"] for b in bare_runs) / len(bare_runs), 1),
        "p50_ms": max(b["p50_ms"] for b in bare_runs),
        "p95_ms": max(b["p95_ms"] for b in bare_runs),
        "rps_runs": [b["rps"] for b in bare_runs],
        **{
            k: round(sum(b[k] for b in bare_runs) / len(bare_runs), 3)
            for k in ("app_cpu_ms", "db_cpu_ms", "wrk_cpu_ms")
        },
        "bare_rps": round(sum(b["rps"] for b in bare_runs) / len(bare_runs), 1),
    }

    rows = []
    for page in pages:
        m = measured[page["key"]]
        q = counted[page["key"]]
        row = {
            "key": page["key"],
            "name": page["name"],
            "url": page["url"],
            **m,
            "ratio": round(m["rps"] / m["bare_rps"], 3) if m["bare_rps"] else 0.0,
            "cpu_ms": round(m["app_cpu_ms"] + m["db_cpu_ms"], 2),
            "queries": q["queries"],
            "bytes": q["bytes"],
        }
        row["misses"] = [] if page["key"] == "bare" else verdict(row)
        rows.append(row)
    # What the ratio comes to on an otherwise idle machine, where server, database and
    # wrk share the cores and nothing else runs: the bare view's CPU per request (all
    # three) over the page's. Measured, not assumed: the CPU times come from this run.
    bare_row = next(r for r in rows if r["key"] == "bare")
    bare_total = bare_row["cpu_ms"] + bare_row["wrk_cpu_ms"]
    for row in rows:
        spent = row["cpu_ms"] + row["wrk_cpu_ms"]
        row["cpu_ratio"] = round(bare_total / spent, 3) if spent else 0.0

    other, other_scale = {}, ""
    if args.other and Path(args.other).exists():
        previous = json.loads(Path(args.other).read_text())
        other_scale = previous.get("scale", "other")
        other = {r["key"]: r["queries"] for r in previous.get("pages", [])}

    print()
    print(table(rows, other, other_scale))
    if spec.get("missing"):
        print("\nnot measured (their URLs do not exist yet):", ", ".join(spec["missing"]))
    changed = [r["key"] for r in rows if r["key"] in other and other[r["key"]] != r["queries"]]
    if changed:
        print(f"\nquery counts differ from the {other_scale} scale: {', '.join(changed)}")

    result = {
        "scale": spec["scale"],
        "scale_numbers": spec["scale_numbers"],
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load": {
            "tool": "wrk",
            "connections": CONNECTIONS,
            "seconds_per_page": args.seconds,
            "warmup_seconds": args.warmup,
            "server": "gunicorn, 2 sync workers, production settings (DEBUG=0)",
            "bare_view": "/healthz: the full middleware stack, no session, no queries; "
            "driven before every page and at the end, a page's ratio is against the two "
            "bare runs around it",
            "cpu": "app_cpu_ms/db_cpu_ms/wrk_cpu_ms: CPU time of gunicorn's workers, "
            "PostgreSQL's backends and wrk per request during the measured run; cpu_ms = "
            "app + db; cpu_ratio = the bare view's (cpu_ms + wrk_cpu_ms) over the page's, "
            "the throughput ratio of an otherwise idle machine",
        },
        "goals": {"ratio": GOAL_RATIO, "p95_ms": GOAL_P95_MS, "queries": GOAL_QUERIES},
        "pages": rows,
        "missing_pages": spec.get("missing", []),
        "query_counts_differ_from_other_scale": changed,
        "timings": {"load_seconds": round(load_seconds)},
    }
    if args.timings and Path(args.timings).exists():
        result["timings"].update(json.loads(Path(args.timings).read_text()))
    Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    # The SQL of each page, for profiling; beside the pages file (not committed).
    sql_file = Path(args.pages).with_name("queries.json")
    queries = {k: v["sql"] for k, v in counted.items()}
    queries["_prepared"] = prepared
    sql_file.write_text(json.dumps(queries, indent=1))
    print(f"\nwrote {os.path.relpath(args.out, ROOT)}")
    return 0


def _prepared_statements() -> dict[str, str]:
    """The ``PREPARE`` of each statement the pages prepared on this process's connection
    (portal.prepared), by name."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, statement FROM pg_prepared_statements WHERE starts_with(name, %s)",
            ["portal_"],
        )
        return dict(cursor.fetchall())


if __name__ == "__main__":
    sys.exit(main())
