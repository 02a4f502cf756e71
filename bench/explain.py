"""EXPLAIN ANALYZE the queries bench/run.py captured for one page (profiling aid).

    python bench/explain.py .run/bench/queries.json dashboard [--all]

Prints each query's execution time; with --all also the plans of queries over 1 ms.
Run with the same environment as the bench (DATABASE_URL of portal_bench).
"""

import json
import os
import sys

import psycopg


def main() -> int:
    path, key = sys.argv[1], sys.argv[2]
    show_plans = "--all" in sys.argv
    everything = json.load(open(path))
    queries = everything[key]
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        # Statements the portal prepares on its connections (portal.prepared).
        for prepare in everything.get("_prepared", {}).values():
            conn.execute(prepare)
        for sql in queries:
            if not sql.lstrip().upper().startswith(("SELECT", "EXECUTE")):
                print(f"(skipped) {sql[:100]}")
                continue
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql).fetchall()
            plan = [r[0] for r in rows]
            ms = next(
                float(line.split(":")[1].split()[0]) for line in plan if "Execution Time" in line
            )
            print(f"{ms:8.2f} ms  {sql[:150]}")
            if show_plans and ms > 1:
                print("\n".join("            " + line for line in plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
