"""Access reviews (issue 7): every ``interval_days`` (90 unless the customer chose
otherwise) the owners are asked by mail to check who can act for the customer, and
confirm it on the access overview. Confirming is recorded in the audit trail (S27).

Who can act, and why, comes from the policy (``portal.policy.overview_summary``); this
module only keeps the dates, sends the mail and writes the audit trail.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.audit import audit
from accounts.models import ACCESS_REVIEW_DAYS, AccessReview, Customer, User
from portal import mail, policy

BATCH = 200


def _due_again_q() -> Q:
    """Not yet reminded for the current due date."""
    return Q(reminded_at__isnull=True) | Q(reminded_at__lt=F("due_at"))


def _locked_review(customer: Customer) -> AccessReview:
    review, _created = AccessReview.objects.select_for_update().get_or_create(
        customer=customer, defaults={"due_at": AccessReview.first_due(customer)}
    )
    return review


@transaction.atomic
def access_review_confirm(*, customer: Customer, by: User, request=None) -> AccessReview:
    """The owner confirms that everyone on the access overview should be there: the next
    review is due ``interval_days`` from now; recorded in the audit trail (S27)."""
    now = timezone.now()
    review = _locked_review(customer)
    review.confirmed_at = now
    review.confirmed_by = by
    review.due_at = now + timedelta(days=review.interval_days)
    review.full_clean()
    review.save()
    counts = {
        str(section): queryset.count()
        for section, queryset in policy.overview_sections(customer, now).items()
    }
    audit(
        "access_review.confirmed",
        request=request,
        actor=by,
        customer=customer,
        summary=f"who can act confirmed; next review due {review.due_at:%Y-%m-%d}",
        next_due=review.due_at.isoformat(),
        counts=counts,
    )
    return review


@transaction.atomic
def access_review_set_interval(
    *, customer: Customer, days: int, by: User, request=None
) -> AccessReview:
    """Change how often the owners are asked; the next review is due that many days after
    the last confirmation (or after the customer was created)."""
    review = _locked_review(customer)
    if days == review.interval_days:
        return review
    old = review.interval_days
    start = review.confirmed_at or customer.created_at
    review.interval_days = days
    review.due_at = start + timedelta(days=days)
    try:
        review.full_clean()
    except ValidationError as error:
        raise ValidationError(_("Choose one of the offered intervals.")) from error
    review.save()
    audit(
        "access_review.interval_changed",
        request=request,
        actor=by,
        customer=customer,
        summary=f"access review every {days} days (was {old})",
        interval_days=days,
        next_due=review.due_at.isoformat(),
    )
    return review


def _overview_link(customer: Customer) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse(
        "accounts:access_overview", kwargs={"customer": customer.number}
    )


@transaction.atomic
def access_review_remind(*, review_id: int, at: datetime | None = None) -> bool:
    """Mail the owners of one customer whose review is due, once per due date: the one
    run whose conditional UPDATE sets ``reminded_at`` sends it (S26). Each owner gets the
    summary in their own language; with no owner, the customer's account e-mail."""
    at = at or timezone.now()
    claimed = AccessReview.objects.filter(_due_again_q(), pk=review_id, due_at__lte=at).update(
        reminded_at=at
    )
    if not claimed:
        return False
    review = AccessReview.objects.select_related("customer").get(pk=review_id)
    customer = review.customer
    context = {"customer": customer, "review": review, "link": _overview_link(customer)}
    owners = list(policy.access_reviewers(customer))
    recipients = [(owner.email, owner.language, owner) for owner in owners]
    if not recipients and customer.email:
        recipients = [(customer.email, settings.LANGUAGE_CODE, None)]
    for address, language, owner in recipients:
        # The reasons are the policy's own texts: build them in the reader's language.
        with translation.override(language):
            summary = policy.overview_summary(customer, at)
            mail.queue(
                kind="access_review",
                to=[address],
                template="accounts/mail/access_review",
                context={**context, "summary": summary, "recipient": owner},
                language=language,
            )
    audit(
        "access_review.requested",
        customer=customer,
        summary=f"owners asked to review who can act ({len(recipients)} mails)",
        due=review.due_at.isoformat(),
    )
    return True


def access_reviews_create_missing(at: datetime | None = None) -> int:
    """Rows for customers that have none and whose first review is due by ``at``."""
    at = at or timezone.now()
    born_before = at - timedelta(days=ACCESS_REVIEW_DAYS)
    missing = Customer.objects.filter(access_review__isnull=True, created_at__lte=born_before)
    rows = [
        AccessReview(customer=customer, due_at=AccessReview.first_due(customer))
        for customer in missing.only("pk", "created_at")[:BATCH]
    ]
    AccessReview.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def access_reviews_remind_due(at: datetime | None = None) -> int:
    """The periodic job: ask the owners of every customer whose review is due. Safe to
    run twice or on two workers; returns how many customers this run reminded."""
    at = at or timezone.now()
    access_reviews_create_missing(at)
    ids = list(
        AccessReview.objects.filter(_due_again_q(), due_at__lte=at)
        .order_by("due_at")
        .values_list("pk", flat=True)[:BATCH]
    )
    return sum(access_review_remind(review_id=pk, at=at) for pk in ids)
