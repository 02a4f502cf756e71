"""Factories for invitations, link requests and staff requests (tests/accounts)."""

import secrets
from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import Invitation, StaffRequest, SubAccountLinkRequest
from tests.factories import CustomerFactory, UserFactory


class InvitationFactory(factory.django.DjangoModelFactory):
    """An invitation; its clear-text token is on ``invitation.token`` (never stored)."""

    class Meta:
        model = Invitation

    customer = factory.SubFactory(CustomerFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))
    token_hash = factory.LazyAttribute(lambda o: Invitation.hash_token(o.token))
    invited_by = factory.SubFactory(UserFactory)
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + timedelta(days=7))

    class Params:
        expired = factory.Trait(
            created_at=factory.LazyFunction(lambda: timezone.now() - timedelta(days=8)),
        )
        cancelled = factory.Trait(state=Invitation.State.CANCELLED)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        token = kwargs.pop("token", None)
        obj = super()._create(model_class, *args, **kwargs)
        obj.token = token
        return obj


class LinkRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubAccountLinkRequest

    main = factory.SubFactory(CustomerFactory)
    sub = factory.SubFactory(CustomerFactory)
    requested_by = factory.SubFactory(UserFactory)


class StaffRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffRequest

    kind = StaffRequest.Kind.USER_LEFT
    customer = factory.SubFactory(CustomerFactory)
    user = factory.SubFactory(UserFactory)
    requested_by = factory.SubFactory(UserFactory)
