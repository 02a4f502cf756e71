"""Mail jobs. Tasks take ids and are idempotent (S26)."""

from celery import shared_task

from portal import mail


@shared_task(bind=True, max_retries=8, acks_late=True)
def send_mail(self, mail_id: int) -> bool:
    try:
        return mail.deliver(mail_id)
    except Exception as exc:  # noqa: BLE001 - retried with backoff, the row keeps it
        raise self.retry(exc=exc, countdown=min(600, 2**self.request.retries * 5)) from exc


@shared_task
def flush_outbox() -> int:
    """Send whatever is still queued (the broker was down, or a worker died)."""
    sent = 0
    for mail_id in mail.pending_ids():
        try:
            sent += bool(mail.deliver(mail_id))
        except Exception:  # noqa: BLE001, S112 - stays queued, tried again next run
            continue
    return sent


@shared_task(ignore_result=False)
def ping() -> str:
    """A round trip through the broker, used by the health check and the tests."""
    return "pong"
