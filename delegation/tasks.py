"""Grant jobs (D3, D6, S26). Each claims its rows with a conditional UPDATE, so running
twice or on two workers does the work once. Access never waits for them: the policy
checks the end time on every request."""

from celery import shared_task

from delegation import services


@shared_task
def expire_grants() -> int:
    """Mark ended grants and unused keys expired, remove guardian rows, mail both sides."""
    return services.grants_expire_due()


@shared_task
def remind_grants() -> int:
    """Remind both sides a week before a grant ends, once per grant."""
    return services.grants_remind_due()


@shared_task
def redact_key_mails() -> int:
    """Blank grant keys in stored copies of key mails once they are sent."""
    return services.key_mails_redact()
