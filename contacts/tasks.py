"""Periodic contact jobs. Idempotent: each claims rows with a conditional UPDATE, so two
workers (or a second run) do each row once (S26). Expiry is also checked on every read,
so a late job never widens what anyone may do."""

from celery import shared_task

from contacts import services


@shared_task
def clear_expired_pending_addresses() -> int:
    """K4: pending addresses not confirmed within 7 days are cleared."""
    return services.pending_addresses_clear_expired()


@shared_task
def end_expired_authorisations() -> int:
    """K12: time-limited authorisations from register extracts end by themselves."""
    return services.authorisations_end_expired()
