"""``make run``: the portal on its embedded default, SQLite without a broker. Every
migration applies there, the demo data loads, and the demo's people can open every page
of their customers (the suite runs on PostgreSQL, which hid an index SQLite refuses and a
page that failed on SQLite only)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Signs in as each demo login without two-factor and opens each customer's pages; prints
# one line per page: e-mail, path, status.
PAGES = r"""
import os, sys
import django
django.setup()
from django.test import Client
from accounts.models import Membership
from portal.management.commands.seed_demo import DEMO_PASSWORD
PAGES = ["", "contacts/", "users/", "administrators/", "delegated/", "access/",
         "tickets/", "invoices/", "activity/", "sub-accounts/"]
for email in sys.argv[1:]:
    client = Client(SERVER_NAME="127.0.0.1", raise_request_exception=False)
    answer = client.post("/login/", {"username": email, "password": DEMO_PASSWORD})
    print(email, "/login/", answer.status_code, answer.get("Location", ""))
    for membership in Membership.objects.filter(user__email=email).select_related("customer"):
        for page in PAGES:
            path = f"/c/{membership.customer.number}/{page}"
            print(email, path, client.get(path).status_code)
"""


@pytest.mark.slow
def test_make_run_migrates_seeds_and_serves_the_demo_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env["DJANGO_SETTINGS_MODULE"] = "portal.settings"

    def manage(*args, **kwargs):
        return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
            **kwargs,
        )

    for command in (["manage.py", "migrate", "--noinput"], ["manage.py", "seed_demo"]):
        done = manage(*command)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "System check identified" not in done.stderr, done.stderr[-3000:]
    done = manage("-c", PAGES, "maria@alpenblick.example", "lena@webwerk.example")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split() for line in done.stdout.splitlines()]
    signed_in = [line for line in lines if line[1] == "/login/"]
    assert [(line[2], line[3]) for line in signed_in] == [("302", "/"), ("302", "/")]
    pages = [line for line in lines if line[1] != "/login/"]
    assert len(pages) >= 20
    failed = [line for line in pages if line[2] not in ("200", "403")]
    assert not failed, done.stdout
    # The owner sees all of her customer's pages, the access overview among them.
    owner = {line[1].split("/", 3)[3]: line[2] for line in pages if line[0].startswith("maria")}
    assert set(owner.values()) == {"200"}, owner
