"""Where a page's time goes: cProfile over requests to one page of ``make bench``.

Run with the bench's environment while its database is up (``BENCH_KEEP=1 make bench``
leaves it running), e.g.::

    . .run/env; DEBUG=0 SECRET_KEY=x ALLOWED_HOSTS=127.0.0.1 SECURE_SSL_REDIRECT=0 \\
        DATABASE_URL=postgres://$PGUSER@127.0.0.1:$PG_PORT/portal_bench \\
        .venv/bin/python bench/hotspots.py --pages .run/bench/pages.json invoices

It sends the page's requests through Django's test client in this process (the same
middleware, templates and queries as a gunicorn worker), prints the mean time per request
and the functions that take most of it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", required=True, help="pages.json of bench_data --pages")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--sort", default="tottime", help="pstats sort key")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("page", help="a page key, e.g. invoices")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    pages = {page["key"]: page for page in json.loads(Path(args.pages).read_text())["pages"]}
    page = pages[args.page]
    client = Client(SERVER_NAME="127.0.0.1")
    if page["cookie"]:
        name, value = page["cookie"].split("=", 1)
        assert name == settings.SESSION_COOKIE_NAME  # noqa: S101 - our own file
        client.cookies[name] = value
    for _ in range(20):  # warm caches, as a running worker has them
        response = client.get(page["url"])
    if response.status_code != 200:
        print(f"{page['url']} answered {response.status_code}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    cpu = time.process_time()
    for _ in range(args.requests):
        client.get(page["url"])
    wall = (time.perf_counter() - start) / args.requests * 1000
    cpu = (time.process_time() - cpu) / args.requests * 1000
    print(f"{args.page}: {wall:.1f} ms per request, {cpu:.1f} ms of it CPU in this process")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        client.get(page["url"])
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
