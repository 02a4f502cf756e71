"""Print bench/results.json as the Markdown table of docs/PERFORMANCE.md.

python bench/table.py [bench/results.json] [bench/results-small.json]
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    full = json.loads(
        Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "bench/results.json").read_text()
    )
    small_path = Path(sys.argv[2] if len(sys.argv) > 2 else ROOT / "bench/results-small.json")
    small = json.loads(small_path.read_text()) if small_path.exists() else {"pages": []}
    small_queries = {p["key"]: p["queries"] for p in small["pages"]}
    goals = full["goals"]
    print(
        "| page | rps | ratio to bare | CPU ratio | p50 ms | p95 ms | queries (full / small) "
        "| CPU ms per request (app + db) | goals missed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for p in full["pages"]:
        bare = p["key"] == "bare"
        misses = "(ceiling)" if bare else (", ".join(p["misses"]) or "none")
        print(
            f"| {p['name']} | {p['rps']:.1f} | {p['ratio']:.1%} | {p['cpu_ratio']:.1%} "
            f"| {p['p50_ms']:.1f} | {p['p95_ms']:.1f} "
            f"| {p['queries']} / {small_queries.get(p['key'], '–')} "
            f"| {p['app_cpu_ms']:.1f} + {p['db_cpu_ms']:.1f} | {misses} |"
        )
    print()
    print(
        f"Goals: ratio ≥ {goals['ratio']:.0%}, p95 ≤ {goals['p95_ms']:.0f} ms, "
        f"≤ {goals['queries']} queries. Measured {full['measured_at']}, "
        f"{full['load']['connections']} connections, {full['load']['seconds_per_page']} s per page; "
        f"total run {full['timings'].get('total_seconds', '?')} s "
        f"(dataset {full['timings'].get('dataset')}: {full['timings'].get('dataset_seconds')} s)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
