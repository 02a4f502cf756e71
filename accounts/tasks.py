"""Jobs of the accounts app. Tasks take ids or nothing, and are idempotent (S26)."""

from celery import shared_task

from accounts import services


@shared_task
def expire_invitations() -> int:
    """Mark pending invitations past their seven days as expired (U2). One conditional
    UPDATE: safe on two workers at once. Acceptance checks the end time itself, so a late
    run never widens access."""
    return services.invitations_expire()


@shared_task
def remind_access_reviews() -> int:
    """Ask the owners of every customer whose access review is due to check who can act
    for it (issue 7). Each customer's row is claimed with a conditional UPDATE: one mail
    per review, however many workers run it."""
    return services.access_reviews_remind_due()
