"""factory-boy factories for the helpdesk."""

import factory
from django.utils import timezone

from helpdesk.models import Attachment, Message, Participant, Ticket
from helpdesk.services import next_ticket_number
from tests.factories import CustomerFactory, UserFactory


class TicketFactory(factory.django.DjangoModelFactory):
    """An open ticket of a customer, opened in the portal by a user."""

    class Meta:
        model = Ticket
        skip_postgeneration_save = True

    number = factory.LazyFunction(next_ticket_number)
    customer = factory.SubFactory(CustomerFactory)
    requester = factory.SubFactory(UserFactory)
    requester_email = factory.LazyAttribute(
        lambda t: t.requester.email if t.requester else "x@example.com"
    )
    subject = factory.Sequence(lambda n: f"PHP version of package number {n}")
    status = Ticket.Status.NEW
    source = Ticket.Source.WEB

    class Params:
        waiting = factory.Trait(status=Ticket.Status.WAITING)
        closed = factory.Trait(
            status=Ticket.Status.CLOSED, closed_at=factory.LazyFunction(timezone.now)
        )

    @factory.post_generation
    def with_message(obj, create, extracted, **kwargs):
        if create and extracted is not False:
            MessageFactory(ticket=obj, author=obj.requester, author_email=obj.requester_email)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    ticket = factory.SubFactory(TicketFactory, with_message=False)
    kind = Message.Kind.CUSTOMER
    body = factory.Sequence(lambda n: f"Please change it to PHP 8.3, message {n}.")
    source = Ticket.Source.WEB

    class Params:
        staff = factory.Trait(kind=Message.Kind.STAFF, source=Ticket.Source.STAFF)
        note = factory.Trait(kind=Message.Kind.NOTE, source=Ticket.Source.STAFF)


class ParticipantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participant

    ticket = factory.SubFactory(TicketFactory)
    email = factory.Sequence(lambda n: f"copied{n}@example.com")


class AttachmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attachment

    message = factory.SubFactory(MessageFactory)
    file = factory.django.FileField(filename="upload", data=b"%PDF-1.4 test")
    filename = "report.pdf"
    content_type = "application/pdf"
    size = 13


# Makers for the isolation matrix (tests/security/registry.py, S1): the URL kwargs
# "ticket" and "attachment" of the helpdesk, in the signature ``(target, made, route)``.


def make_ticket(target, made, route):
    """A ticket of the target with its marker in the subject and the first message."""
    name = target.next_name("ticket")
    ticket = TicketFactory(customer=target.customer, subject=f"{name} subject", with_message=False)
    MessageFactory(ticket=ticket, author=ticket.requester, body=f"{name} body")
    return ticket


def make_attachment(target, made, route):
    """A file on the URL's ticket (or a fresh ticket of the target)."""
    ticket = made.get("ticket") or make_ticket(target, made, route)
    return AttachmentFactory(
        message=ticket.messages.first(), filename=f"{target.next_name('file')}.pdf"
    )
