"""The demo holds tickets in every state, and seeding twice changes nothing."""

import io

import pytest
from django.core.management import call_command

from helpdesk.models import InboundMail, Message, Ticket

pytestmark = pytest.mark.django_db


def test_demo_has_tickets_in_every_state_and_is_idempotent(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO())
    counts = (Ticket.objects.count(), Message.objects.count(), InboundMail.objects.count())
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Ticket.Status.values)
    assert Ticket.objects.filter(customer__isnull=True).exists()  # H2: a stranger's mail
    assert Message.objects.filter(kind=Message.Kind.NOTE).exists()
    assert InboundMail.objects.filter(outcome=InboundMail.Outcome.QUARANTINED).exists()
    assert Ticket.objects.filter(agency__isnull=False).exists()  # D5: the delegate's ticket
    kovacs = Ticket.objects.get(subject__startswith="Szerver")
    assert kovacs.customer.name.startswith("Kovács") and kovacs.requester is None  # K9
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=io.StringIO())
    assert (Ticket.objects.count(), Message.objects.count()) == counts[:2]
