"""Jobs and mail through a real Celery worker on Redis (S26)."""

import time

import pytest
from django.db import transaction

from portal import mail
from portal.models import OutgoingMail
from portal.tasks import flush_outbox, ping

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def queue_test_mail(to="someone@example.com"):
    with transaction.atomic():
        return mail.queue(
            kind="test",
            to=[to],
            template="accounts/mail/set_password",
            context={"user": None, "link": "https://portal.example/x"},
        )


def test_round_trip_through_real_worker(real_celery):
    """A task goes through Redis to a real worker and its result comes back."""
    assert ping.delay().get(timeout=20) == "pong"


def test_mail_is_sent_by_the_worker_after_commit(real_celery, smtp_server):
    """S26: mail is stored, enqueued on commit and sent by the worker once."""
    smtp_server.clear()
    message = queue_test_mail("worker@example.com")
    received = smtp_server.wait_for(1, timeout=20)
    assert received[0]["To"] == "worker@example.com"
    assert received[0]["Auto-Submitted"] == "auto-generated"
    deadline = time.monotonic() + 10
    while message.state != OutgoingMail.State.SENT and time.monotonic() < deadline:
        time.sleep(0.1)
        message.refresh_from_db()
    assert message.state == OutgoingMail.State.SENT
    # Running the job again sends nothing twice.
    assert flush_outbox() == 0


def test_mail_waits_in_outbox_while_broker_is_down(settings, smtp_settings, smtp_server):
    """S26: with the broker unreachable the request still succeeds and the mail is kept
    until the outbox job sends it."""
    from kombu import pools

    from portal.celery import app

    def use_broker(url):
        # kombu keeps one producer pool per broker URL, process-wide, and a pool closed
        # with force_close_all() stays closed ("Acquire on closed pool" for every later
        # task). Reset the registry and the app's references so the next use builds
        # fresh pools for ``url``; the tests after this one keep a working broker.
        pools.reset()
        app.conf.broker_url = url
        app._pool = None
        app.amqp._producer_pool = None

    smtp_server.clear()
    old = app.conf.broker_url
    app.conf.task_always_eager = False
    use_broker("redis://127.0.0.1:9/0")
    try:
        message = queue_test_mail("later@example.com")
    finally:
        use_broker(old)
        app.conf.task_always_eager = True
    message.refresh_from_db()
    assert message.state == OutgoingMail.State.QUEUED
    assert flush_outbox() == 1
    assert smtp_server.wait_for(1, timeout=10)[0]["To"] == "later@example.com"
    assert flush_outbox() == 0
