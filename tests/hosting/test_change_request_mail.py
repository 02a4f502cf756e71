"""Mail when staff carry out or decline a change request (A2, A3): the person who asked
and the customer's "orders and access data" recipients — contacts by K5, members who
chose those mails by U3 — each in their own language, a delegate apart (D4)."""

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Membership
from delegation.models import Grant
from hosting import services
from tests.contacts.factories import ContactFactory
from tests.factories import GrantFactory, HostingAccountFactory, MembershipFactory
from tests.helpers import activate_grant
from tests.hosting.factories import access_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def package(customer):
    return HostingAccountFactory(
        customer=customer, package=True, php_version="8.1", storage_gb=10, name="shop.example"
    )


def ask(account, user, kind="php_version", value="8.3"):
    return services.change_request_create(
        account=account, kind=kind, value=value, actor=user, access=access_of(user, account)
    )


def sent_to() -> dict[str, object]:
    return {message.to[0]: message for message in mail.outbox}


def test_a2_done_is_mailed_to_the_requester_and_the_orders_recipients(
    package, customer, owner, staff_user, django_capture_on_commit_callbacks
):
    """A2, K5: carried out → the requester and the standard contact each get a mail with
    the request, the account and a link to it."""
    ContactFactory(customer=customer, email="office@alice.example")
    cr = ask(package, owner)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.change_request_complete(change_request=cr, staff_user=staff_user)
    messages = sent_to()
    assert set(messages) == {"alice@example.com", "office@alice.example"}
    message = messages["office@alice.example"]
    assert f"Request #{cr.pk} carried out" in message.subject
    assert customer.display_number in message.subject
    assert "shop.example" in message.body and "8.1 → 8.3" in message.body
    assert package.get_absolute_url() in message.body
    # Each address alone: one recipient per message.
    assert all(len(m.to) == 1 and not m.cc for m in mail.outbox)


def test_a2_decline_carries_the_staff_note(
    package, customer, owner, staff_user, django_capture_on_commit_callbacks
):
    cr = ask(package, owner, "storage", "50")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_reject(
            change_request=cr, staff_user=staff_user, note="needs a bigger plan"
        )
    message = sent_to()["alice@example.com"]
    assert f"Request #{cr.pk} declined" in message.subject
    assert "needs a bigger plan" in message.body


def test_u3_members_who_chose_order_mails_get_them_if_they_may_read_them(
    package, customer, owner, staff_user, django_capture_on_commit_callbacks
):
    """U3: "orders and access data" goes to members who chose it and may view products;
    a member who chose it without that permission, and one who did not choose it, do not."""
    MembershipFactory(customer=customer, user__email="ops@alice.example", notify_orders=True)
    MembershipFactory(
        customer=customer,
        user__email="books@alice.example",
        notify_orders=True,
        can_view_products=False,
        can_view_invoices=True,
    )
    MembershipFactory(customer=customer, user__email="quiet@alice.example", notify_orders=False)
    cr = ask(package, owner)
    Membership.objects.filter(user=owner).update(notify_orders=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_complete(change_request=cr, staff_user=staff_user)
    # The owner asked; ops chose the mails; no contact: the account e-mail (K5).
    assert set(sent_to()) == {"alice@example.com", "ops@alice.example", customer.email.lower()}


def test_mail_is_in_each_recipients_language(
    package, customer, owner, staff_user, django_capture_on_commit_callbacks
):
    owner.language = "de"
    owner.save(update_fields=["language"])
    ContactFactory(customer=customer, email="office@alice.example")
    cr = ask(package, owner)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_complete(change_request=cr, staff_user=staff_user)
    messages = sent_to()
    assert "ausgeführt" in messages["alice@example.com"].subject
    assert "carried out" in messages["office@alice.example"].subject


def test_d4_a_delegate_who_asked_is_told_alone_and_only_while_the_grant_lives(
    package, customer, agency, delegate, owner, staff_user, django_capture_on_commit_callbacks
):
    """D4: the agency's person gets their own mail, never one addressed to the grantor's
    contacts; once the grant has ended, nothing about the account reaches them."""
    ContactFactory(customer=customer, email="office@alice.example")
    grant = activate_grant(
        GrantFactory(grantor=customer, agency=agency, created_by=owner), [package]
    )
    first = ask(package, delegate)
    second = ask(package, delegate, "storage", "50")
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_complete(change_request=first, staff_user=staff_user)
    messages = sent_to()
    assert messages["charlie@example.com"].to == ["charlie@example.com"]
    assert set(messages) == {"charlie@example.com", "office@alice.example"}

    mail.outbox.clear()
    Grant.objects.filter(pk=grant.pk).update(ends_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_complete(change_request=second, staff_user=staff_user)
    assert set(sent_to()) == {"office@alice.example"}
