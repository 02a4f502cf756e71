"""DNS push jobs (A1, S26). Tasks take ids, call services and are idempotent."""

from celery import shared_task

from hosting import services

# The task retries by itself for about 40 minutes (5 s doubling to 5 min); after that,
# and whenever a task was lost, the periodic push_pending job keeps trying.
MAX_TASK_RETRIES = 12


@shared_task(bind=True, max_retries=MAX_TASK_RETRIES, acks_late=True)
def push_zone(self, zone_id: int) -> str:
    """Push the waiting changes of one zone to PowerDNS; retry with backoff while it is down."""
    outcome = services.dns_push_zone(zone_id)
    # In-process (eager) mode nobody should wait on a retry loop inside a request: the
    # periodic job picks the change up instead.
    if outcome == services.Push.UNAVAILABLE and not self.request.is_eager:
        if self.request.retries < self.max_retries:
            raise self.retry(countdown=services.retry_delay(self.request.retries + 1))
    return outcome


@shared_task
def push_pending() -> dict:
    """Every minute: push whatever is still waiting (S26)."""
    return services.dns_push_due()
