"""A task for the killed-worker test (S28), loaded into the test's worker with
``celery worker --include tests.security.fault_tasks``.

It works the way the portal's jobs are written (DESIGN.md, "Mail and jobs"): its effect is
a conditional UPDATE that claims the row, so running it twice does the work once. Every
attempt is recorded with the process that ran it, so the test can kill that process, and
count both the attempts (at least two: the task was redelivered) and the effect (one).
"""

import os
import time

from celery import shared_task
from django.db import connection

ATTEMPTS = "security_fault_attempt"
JOBS = "security_fault_job"


def create_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {ATTEMPTS} "
            "(id serial PRIMARY KEY, job text NOT NULL, pid int NOT NULL, "
            "at timestamptz NOT NULL DEFAULT now())"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {JOBS} "
            "(job text PRIMARY KEY, state text NOT NULL DEFAULT 'todo', "
            "effects int NOT NULL DEFAULT 0)"
        )


def drop_tables() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {ATTEMPTS}, {JOBS}")


@shared_task(name="tests.security.fault_tasks.counted_job")
def counted_job(job: str, before: float = 0.0, after: float = 0.0) -> bool:
    """Do ``job`` once: record the attempt, wait ``before``, claim-and-apply, wait ``after``.

    Only the first attempt waits: that is the one the test kills."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ATTEMPTS} (job, pid) VALUES (%s, %s)",  # noqa: S608
            [job, os.getpid()],
        )
        cursor.execute(f"SELECT count(*) FROM {ATTEMPTS} WHERE job = %s", [job])  # noqa: S608
        first = cursor.fetchone()[0] == 1
    if not first:
        before = after = 0.0
    time.sleep(before)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {JOBS} SET state = 'done', effects = effects + 1 "  # noqa: S608
            "WHERE job = %s AND state = 'todo'",
            [job],
        )
        applied = cursor.rowcount == 1
    time.sleep(after)
    return applied


# --- read by the test -------------------------------------------------------------------


def add_job(job: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {JOBS} (job) VALUES (%s)", [job])  # noqa: S608


def attempt_pids(job: str) -> list[int]:
    """The process of each attempt at ``job``, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pid FROM {ATTEMPTS} WHERE job = %s ORDER BY id", [job])  # noqa: S608
        return [row[0] for row in cursor.fetchall()]


def job_state(job: str) -> tuple[str, int]:
    """(state, how many times the effect was applied)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT state, effects FROM {JOBS} WHERE job = %s", [job])  # noqa: S608
        return tuple(cursor.fetchone())
