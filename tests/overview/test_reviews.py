"""Access reviews (issue 7, S27, S26): every 90 days (or as the customer chose) the owners
get a mail with who can act and a link to confirm or clean up; confirming is a POST,
recorded in the audit trail; an overdue review shows on the dashboard."""

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import services, tasks
from accounts.models import AccessReview, AuditEvent, Customer, User
from accounts.selectors import access_review_of
from tests.delegation.factories import approved_grant, clock
from tests.factories import CustomerFactory, HostingAccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def url(name, customer):
    return reverse(f"accounts:{name}", kwargs={"customer": customer.number})


def age(customer, days):
    Customer.objects.filter(pk=customer.pk).update(created_at=timezone.now() - timedelta(days=days))
    customer.refresh_from_db()


def test_first_review_is_due_90_days_after_the_customer_began(customer):
    review = access_review_of(customer)
    assert review.pk is None
    assert review.due_at == customer.created_at + timedelta(days=90)
    assert not review.is_overdue()


# --- confirming -----------------------------------------------------------------------


def test_s27_owner_confirms_with_a_post_recorded_in_the_audit_trail(client_for, customer, owner):
    """S27: who, for which customer, what, when, from where; the next review moves on."""
    age(customer, 120)
    client = client_for(owner)
    before = timezone.now()
    response = client.post(url("access_review_confirm", customer), REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 302
    assert response["Location"] == url("access_overview", customer)
    review = AccessReview.objects.get(customer=customer)
    assert review.confirmed_by == owner
    assert review.confirmed_at >= before
    assert review.due_at == review.confirmed_at + timedelta(days=90)
    event = AuditEvent.objects.get(action="access_review.confirmed")
    assert (event.actor, event.customer, event.ip) == (owner, customer, "192.0.2.7")
    assert event.data["counts"]["members"] == 1
    page = client.get(url("access_overview", customer)).content.decode()
    assert "Last confirmed on" in page


def test_s10_confirming_is_never_a_get(client_for, customer, owner):
    """S10: a mail scanner following the link changes nothing."""
    response = client_for(owner).get(url("access_review_confirm", customer))
    assert response.status_code == 405
    assert not AccessReview.objects.exists()


def test_owner_chooses_the_interval(client_for, customer, owner):
    """Configurable per customer: 30 days after the customer began (or the last review)."""
    client = client_for(owner)
    client.post(url("access_review_settings", customer), {"interval_days": "30"})
    review = AccessReview.objects.get(customer=customer)
    assert review.interval_days == 30
    assert review.due_at == customer.created_at + timedelta(days=30)
    assert AuditEvent.objects.filter(action="access_review.interval_changed").exists()
    client.post(url("access_review_confirm", customer))
    review.refresh_from_db()
    assert review.due_at == review.confirmed_at + timedelta(days=30)


@pytest.mark.parametrize("value", ["5", "1000", "x", ""])
def test_intervals_outside_the_offer_are_refused(client_for, customer, owner, value):
    response = client_for(owner).post(
        url("access_review_settings", customer), {"interval_days": value}, follow=True
    )
    assert b"Choose one of the offered intervals." in response.content
    assert not AccessReview.objects.exists()


# --- the dashboard ----------------------------------------------------------------------


def test_overdue_review_shows_on_the_dashboard_until_confirmed(client_for, customer, owner):
    age(customer, 91)
    client = client_for(owner)
    dashboard = reverse("portal:dashboard", args=[customer.number])
    html = client.get(dashboard).content.decode()
    assert "Access review due:" in html
    assert f"{url('access_overview', customer)}#review" in html
    client.post(url("access_review_confirm", customer))
    assert "Access review due:" not in client.get(dashboard).content.decode()


def test_review_not_yet_due_is_not_on_the_dashboard(client_for, customer, owner):
    age(customer, 89)
    html = client_for(owner).get(reverse("portal:dashboard", args=[customer.number]))
    assert b"Access review due:" not in html.content


def test_u3_members_who_cannot_open_the_overview_are_not_told(client_for, customer, member):
    age(customer, 200)
    html = client_for(member).get(reverse("portal:dashboard", args=[customer.number]))
    assert b"Access review due:" not in html.content


# --- the reminder job -------------------------------------------------------------------


@pytest.fixture
def due(customer, owner, agency, delegate, django_capture_on_commit_callbacks):
    """A customer past its first 90 days, with a second (German-speaking) owner, an
    inactive owner and a grant ending on a date whose month name differs by language."""
    age(customer, 95)
    MembershipFactory(
        customer=customer, owner=True, user__email="inhaber@example.com", user__language="de"
    )
    MembershipFactory(
        customer=customer,
        owner=True,
        user__email="left@example.com",
        user__status=User.Status.INACTIVE,
    )
    account = HostingAccountFactory(customer=customer, name="shop.example")
    ends = timezone.make_aware(datetime(timezone.now().year + 1, 3, 5, 12, 0))
    with django_capture_on_commit_callbacks(execute=True):
        approved_grant(
            grantor=customer,
            agency=agency,
            accounts=[account],
            by=owner,
            approver=delegate,
            ends_at=ends,
        )
    mail.outbox.clear()
    return customer


def test_job_mails_each_active_owner_in_their_language_once(
    due, owner, agency, django_capture_on_commit_callbacks
):
    """Each active owner gets one mail, in their language, with who can act and why and
    the link to the overview; a second run (or a second worker) sends nothing (S26)."""
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.remind_access_reviews.delay().get() == 1
        assert tasks.remind_access_reviews.delay().get() == 0
    by_address = {m.to[0]: m for m in mail.outbox}
    assert set(by_address) == {owner.email, "inhaber@example.com"}
    english, german = by_address[owner.email], by_address["inhaber@example.com"]
    link = f"http://127.0.0.1:8000{url('access_overview', due)}#review"
    for message in (english, german):
        assert due.display_number in message.subject
        assert link in message.body
        assert agency.name in message.body
        assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "March" in english.body and "März" in german.body
    review = AccessReview.objects.get(customer=due)
    assert review.reminded_at is not None
    assert AuditEvent.objects.filter(action="access_review.requested", customer=due).count() == 1


def test_next_reminder_only_after_the_next_due_date(
    due, owner, agency, django_capture_on_commit_callbacks
):
    """Confirming moves the next review 90 days on; the job asks again only then."""
    with django_capture_on_commit_callbacks(execute=True):
        services.access_reviews_remind_due()
        services.access_review_confirm(customer=due, by=owner)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.access_reviews_remind_due() == 0
    assert mail.outbox == []
    with (
        django_capture_on_commit_callbacks(execute=True),
        clock(timezone.now() + timedelta(days=91)),
    ):
        services.access_reviews_remind_due()
    assert {m.to[0] for m in mail.outbox} >= {owner.email, "inhaber@example.com"}
    assert sum(owner.email in m.to for m in mail.outbox) == 1


def test_customers_without_owners_are_asked_at_their_account_address(
    django_capture_on_commit_callbacks,
):
    lonely = CustomerFactory(email="office@lonely.example")
    age(lonely, 100)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.access_reviews_remind_due() == 1
    [message] = mail.outbox
    assert message.to == ["office@lonely.example"]


def test_young_customers_are_not_asked_yet(customer, owner, django_capture_on_commit_callbacks):
    age(customer, 30)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.access_reviews_remind_due() == 0
    assert mail.outbox == []
    assert not AccessReview.objects.exists()


def test_beat_runs_the_job(settings):
    entries = [e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "accounts.tasks.remind_access_reviews" in entries


def test_s27_the_activity_page_names_review_events(client_for, customer, owner):
    """S27: customers read their own trail, with readable labels."""
    client = client_for(owner)
    client.post(url("access_review_confirm", customer))
    client.get(url("access_overview_export", customer))
    html = client.get(reverse("accounts:audit_log", args=[customer.number])).content.decode()
    assert "access review confirmed" in html
    assert "who can act for us exported" in html
