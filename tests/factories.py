"""factory-boy factories for the ground models (accounts, delegation).

Each app's own factories live beside its tests (tests/<app>/factories.py)."""

import factory
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Customer, HostingAccount, Membership, User
from accounts.services import next_customer_number
from delegation.models import Grant

PASSWORD = "correct-horse-battery"  # noqa: S105


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    status = User.Status.ACTIVE
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

    class Params:
        inactive = factory.Trait(status=User.Status.INACTIVE)
        unverified = factory.Trait(status=User.Status.UNVERIFIED)
        staff = factory.Trait(is_staff=True, is_superuser=True)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    number = factory.LazyFunction(next_customer_number)
    name = factory.Faker("company")
    email = factory.Sequence(lambda n: f"office{n}@customer.example")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    customer = factory.SubFactory(CustomerFactory)
    is_owner = False

    class Params:
        owner = factory.Trait(is_owner=True)


class HostingAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HostingAccount

    customer = factory.SubFactory(CustomerFactory)
    kind = HostingAccount.Kind.DOMAIN
    name = factory.Sequence(lambda n: f"domain{n}.example")

    class Params:
        package = factory.Trait(
            kind=HostingAccount.Kind.PACKAGE,
            name=factory.Sequence(lambda n: f"P-{200000 + n}"),
            php_version="8.3",
            storage_gb=10,
        )
        server = factory.Trait(
            kind=HostingAccount.Kind.SERVER,
            name=factory.Sequence(lambda n: f"de-01-srv-{n % 10000:04d}"),
            ipv4="192.0.2.10",
        )


class GrantFactory(factory.django.DjangoModelFactory):
    """A grant; use ``tests.helpers.activate_grant`` to make it live with guardian rows."""

    class Meta:
        model = Grant

    grantor = factory.SubFactory(CustomerFactory)
    agency = factory.SubFactory(CustomerFactory)
    state = Grant.State.PENDING
    created_at = factory.LazyFunction(timezone.now)


class TOTPDeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TOTPDevice

    user = factory.SubFactory(UserFactory)
    name = "test app"
    confirmed = True
