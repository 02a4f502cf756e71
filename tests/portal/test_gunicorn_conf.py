"""The production server's settings file (gunicorn.conf.py, read by the image's and make
bench's gunicorn from their working directory)."""

import gc
import runpy
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


@pytest.fixture
def collector():
    """The collector's settings as the test found them, restored afterwards."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_workers_freeze_what_they_loaded_and_collect_young_objects_less_often(collector):
    """make bench: nearly every list view paid a young collection, and now and then one over
    all of the worker's objects; a worker freezes what it loaded and collects young
    objects after 10,000 new ones."""
    conf = runpy.run_path(str(CONF))
    before = gc.get_threshold()
    kept = [object() for _ in range(10)]
    conf["post_worker_init"](worker=None)
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (10_000, *before[1:])
    assert kept  # still usable: frozen objects are only out of the collector's sight
    cycle = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1  # cycles made afterwards are still found


def test_server_log_masks_tokens():
    """S11: the access log goes through the logger that masks tokens."""
    conf = runpy.run_path(str(CONF))
    assert conf["logger_class"] == "portal.redact.GunicornLogger"
