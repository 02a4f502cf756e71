"""factory-boy factories for contacts."""

from datetime import timedelta

import factory
from django.utils import timezone

from contacts.models import Contact, RegisterExtract
from tests.factories import CustomerFactory


class ContactFactory(factory.django.DjangoModelFactory):
    """A confirmed standard contact by default; traits for the other shapes."""

    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@contacts.example")
    email_confirmed_at = factory.LazyFunction(timezone.now)
    is_standard = True

    class Params:
        accounting = factory.Trait(is_standard=False, is_accounting=True)
        technical = factory.Trait(is_standard=False, is_technical=True)
        domain = factory.Trait(is_standard=False, is_domain=True)
        monitoring = factory.Trait(is_standard=False, is_monitoring=True)
        owner_only = factory.Trait(is_standard=False, is_owner=True)
        signatory_only = factory.Trait(is_standard=False, is_signatory=True)
        unconfirmed = factory.Trait(
            email="",
            email_confirmed_at=None,
            pending_email=factory.Sequence(lambda n: f"pending{n}@contacts.example"),
            pending_requested_at=factory.LazyFunction(timezone.now),
        )
        pending = factory.Trait(
            pending_email=factory.Sequence(lambda n: f"new{n}@contacts.example"),
            pending_requested_at=factory.LazyFunction(timezone.now),
        )
        expired = factory.Trait(
            pending_email=factory.Sequence(lambda n: f"late{n}@contacts.example"),
            pending_requested_at=factory.LazyFunction(lambda: timezone.now() - timedelta(days=8)),
        )
        authorised = factory.Trait(is_authorised=True)
        primary = factory.Trait(is_primary=True)
        archived = factory.Trait(archived_at=factory.LazyFunction(timezone.now))


class RegisterExtractFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegisterExtract

    customer = factory.SubFactory(CustomerFactory)
    file = factory.django.FileField(filename="extract.pdf", data=b"%PDF-1.4 register extract")
    original_name = "extract.pdf"
    content_type = "application/pdf"
    person_name = "Dr. Greta Vogel"
    person_email = factory.Sequence(lambda n: f"director{n}@contacts.example")
