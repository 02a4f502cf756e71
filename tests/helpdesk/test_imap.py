"""The IMAP poller against a real Dovecot on loopback (H2, S20, S26)."""

import pytest

from helpdesk import intake, tasks
from helpdesk.models import InboundMail, Ticket
from tests.helpdesk.conftest import make_mail

pytestmark = pytest.mark.django_db


def test_poller_opens_ticket_and_marks_message_seen(
    imap_settings, django_capture_on_commit_callbacks
):
    """H2: a message APPENDed to the mailbox becomes a ticket; the message is marked seen."""
    imap_settings.append(
        make_mail(sender="erika@unknown.example", subject="Server de-01-srv-0042 down")
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.poll_imap()
    assert result["fetched"] == 1
    ticket = Ticket.objects.get()
    assert ticket.subject == "Server de-01-srv-0042 down"
    assert ticket.source == Ticket.Source.MAIL
    ((_uid, flags, _raw),) = imap_settings.messages()
    assert "\\Seen" in flags
    # a second run finds nothing new
    assert tasks.poll_imap()["fetched"] == 0
    assert Ticket.objects.count() == 1


def test_poller_moves_processed_mail(imap_settings, settings, django_capture_on_commit_callbacks):
    """H2: with IMAP_DONE_FOLDER set, processed mail is moved there."""
    settings.IMAP_DONE_FOLDER = "Processed"
    imap_settings.append(make_mail())
    with django_capture_on_commit_callbacks(execute=True):
        tasks.poll_imap()
    assert imap_settings.messages() == []
    assert len(imap_settings.messages("Processed")) == 1
    assert Ticket.objects.count() == 1


def test_refetched_message_is_not_processed_twice(
    imap_settings, django_capture_on_commit_callbacks
):
    """S26: a message fetched again (a crash before it was marked seen) is dropped."""
    raw = make_mail()
    imap_settings.append(raw)
    imap_settings.append(raw)  # the same bytes again
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.poll_imap()
    assert result["outcomes"] == {"ticket": 1, "dropped": 1}
    assert Ticket.objects.count() == 1


def test_oversized_message_is_never_downloaded(imap_settings, settings, monkeypatch):
    """S20: the size is asked first; an oversized message is dropped without fetching."""
    settings.MAX_INBOUND_MAIL_BYTES = 500
    monkeypatch.setattr(intake, "mail_ingest", lambda *a, **k: pytest.fail("fetched"))
    imap_settings.append(make_mail(body="x" * 2000))
    tasks.poll_imap()
    dropped = InboundMail.objects.get()
    assert (dropped.outcome, dropped.reason) == ("dropped", "too large")
    assert "\\Seen" in imap_settings.messages()[0][1]


def test_message_stays_unseen_when_database_is_down(imap_settings, monkeypatch):
    """H2, S26: on a temporary failure the message stays unseen for the next run."""

    def down(raw, source):
        raise intake.TemporaryFailure("database unavailable")

    monkeypatch.setattr(intake, "mail_ingest", down)
    imap_settings.append(make_mail())
    result = tasks.poll_imap()
    assert result["stopped"] == "database unavailable"
    assert "\\Seen" not in imap_settings.messages()[0][1]


def test_poller_does_nothing_without_imap_host(settings):
    settings.IMAP_HOST = ""
    assert tasks.poll_imap()["stopped"] == "IMAP_HOST is not set"
