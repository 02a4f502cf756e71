"""gunicorn reads this file from its working directory (the image's /app, the repository
for ``make bench``) on every start.

The access log goes through a logger that masks tokens in request lines (S11).

Each worker, once it has loaded the portal, moves what it has made so far out of the
garbage collector's sight (``gc.freeze``: Django's settings, URL patterns, models and
templates live as long as the worker) and lets 10,000 new objects build up between young
collections instead of 700. A list view keeps about 700 objects for a while (querysets,
model instances, template contexts): with the defaults it ran a young collection on
nearly every view, an older one every tenth, and now and then one over all of the
worker's objects (make bench, measured in-process: 0.15–0.55 ms of a list view, 1.4 ms of
the access overview's and the admin search's; with these settings 0.1–0.2 and 0.4–0.5 ms).
Cycles are still collected.
"""

import gc

logger_class = "portal.redact.GunicornLogger"

YOUNG_COLLECTION_THRESHOLD = 10_000


def post_worker_init(worker):
    gc.collect()
    gc.freeze()
    _young, *older = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *older)
