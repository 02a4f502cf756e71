"""Helpdesk jobs. The IMAP poller runs from beat; two at once are harmless (the intake
drops a message it has seen), a lock just saves the double work."""

from celery import shared_task
from django.core.cache import cache

from helpdesk import imap

LOCK = "helpdesk:imap-poll"


@shared_task
def poll_imap() -> dict:
    """Fetch and process unseen mail of the support mailbox (H2)."""
    if not cache.add(LOCK, "1", timeout=600):
        return {"skipped": "another poll is running"}
    try:
        result = imap.poll()
    finally:
        cache.delete(LOCK)
    return {"fetched": result.fetched, "outcomes": result.outcomes, "stopped": result.stopped}
