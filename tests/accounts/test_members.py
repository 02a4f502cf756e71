"""The users page: permissions (U3), removal and "has left" (U4), effective at once (S5)."""

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm

from accounts import services
from accounts.models import AuditEvent, Membership, StaffRequest, User, UserSession
from portal.policy import MANAGE_ACCOUNT_PERM
from portal.prepared import executed_sql
from tests.accounts.factories import InvitationFactory
from tests.factories import HostingAccountFactory, MembershipFactory
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def list_url(customer):
    return reverse("accounts:member_list", kwargs={"customer": customer.number})


def member_url(name, membership):
    return reverse(
        f"accounts:{name}",
        kwargs={"customer": membership.customer.number, "membership": membership.pk},
    )


def invoices_url(customer):
    return reverse("accounts:invoice_list", kwargs={"customer": customer.number})


def permissions(*names):
    return dict.fromkeys(names, "on")


def membership_of(user, customer):
    return Membership.objects.get(user=user, customer=customer)


def test_members_are_listed_with_their_permissions(client_for, owner, member, customer):
    """U3: every member with the permissions and notification mails they have."""
    page = client_for(owner).get(list_url(customer)).content.decode()
    assert member.email in page and owner.email in page
    assert "owner (all permissions)" in page
    assert "view products and services, open tickets" in page


def test_an_inactive_status_is_shown_only_to_staff(client_for, owner, customer):
    """U4: staff set people inactive; customers do not see that status."""
    MembershipFactory(customer=customer, user__email="gone@example.com", user__inactive=True)
    page = client_for(owner).get(list_url(customer)).content.decode()
    assert "gone@example.com" in page
    assert "inactive" not in page.lower()


def test_list_query_count_is_fixed(client_for, owner, customer):
    """Same number of queries with 2 and 20 members and invitations."""
    client = client_for(owner)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(list_url(customer)).status_code == 200
        return len(queries)

    MembershipFactory.create_batch(2, customer=customer)
    InvitationFactory.create_batch(2, customer=customer)
    small = count()
    MembershipFactory.create_batch(18, customer=customer)
    InvitationFactory.create_batch(18, customer=customer)
    assert count() == small


def test_u2_members_and_invitations_counted_in_one_query(client_for, owner, customer):
    """U2: both lists page on their own; their totals come from one query, and a page past
    the first shows the right rows."""
    MembershipFactory.create_batch(30, customer=customer)
    InvitationFactory.create_batch(27, customer=customer)
    client = client_for(owner)
    client.get(list_url(customer))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(list_url(customer) + "?page=2&ipage=2")
    counting = [
        q["sql"] for q in queries.captured_queries if "COUNT(" in executed_sql(q["sql"]).upper()
    ]
    assert len(counting) == 1
    assert response.context["page"].paginator.count == 31  # and the owner
    assert response.context["invitations"].paginator.count == 27
    assert len(response.context["page"].object_list) == 6
    assert len(response.context["invitations"].object_list) == 2


def test_users_pages_answer_anonymous_outsider_and_forbidden(
    client, client_for, owner, member, outsider, customer
):
    """S2 anonymous to login; S1 another tenant 404; U3 without "manage users" 403."""
    target = membership_of(member, customer)
    urls = [list_url(customer), member_url("member_edit", target)]
    for url in urls:
        assert reverse("accounts:login") in client.get(url)["Location"]
    for name in ("member_remove", "member_left"):
        assert reverse("accounts:login") in client.post(member_url(name, target))["Location"]
    outsider_client = sign_in(Client(), outsider)
    for url in urls:
        assert outsider_client.get(url).status_code == 404
    member_client = sign_in(Client(), member)
    for url in urls:
        assert member_client.get(url).status_code == 403
    assert (
        member_client.post(member_url("member_remove", membership_of(owner, customer))).status_code
        == 403
    )


def test_a_membership_of_another_customer_is_404(
    client_for, owner, customer, outsider, other_customer
):
    """S1: a membership id of another tenant under the attacker's own customer is 404."""
    foreign = membership_of(outsider, other_customer)
    url = reverse(
        "accounts:member_remove", kwargs={"customer": customer.number, "membership": foreign.pk}
    )
    assert client_for(owner).post(url).status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


def test_a_granted_permission_works_on_the_next_request(owner, member, customer):
    """U3, S5: the owner gives "view and pay invoices"; the member's very next request has
    it, in the same session (nothing was taken away, so it stays signed in)."""
    owner_client = sign_in(Client(), owner)
    member_client = sign_in(Client(), member)
    assert member_client.get(invoices_url(customer)).status_code == 403
    target = membership_of(member, customer)
    response = owner_client.post(
        member_url("member_edit", target),
        permissions("can_view_products", "can_open_tickets", "can_view_invoices"),
    )
    assert response.status_code == 302
    assert member_client.get(invoices_url(customer)).status_code == 200


def test_taking_a_permission_away_ends_the_persons_sessions(owner, customer):
    """S5: a permission taken away counts from the next request, and every session of that
    person ends."""
    accountant = MembershipFactory(customer=customer, can_view_invoices=True).user
    owner_client = sign_in(Client(), owner)
    accountant_client = sign_in(Client(), accountant)
    assert accountant_client.get(invoices_url(customer)).status_code == 200
    owner_client.post(
        member_url("member_edit", membership_of(accountant, customer)),
        permissions("can_view_products"),
    )
    response = accountant_client.get(invoices_url(customer))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert not UserSession.objects.filter(user=accountant).exists()
    assert not membership_of(accountant, customer).can_view_invoices
    again = sign_in(Client(), accountant)
    assert again.get(invoices_url(customer)).status_code == 403


def test_removing_a_membership_ends_access_at_once(owner, member, customer, other_customer):
    """U4, S5: removed, the person's next request is signed out; signed in again they
    cannot reach the customer; the login and their other memberships stay."""
    MembershipFactory(customer=other_customer, user=member)
    owner_client = sign_in(Client(), owner)
    member_client = sign_in(Client(), member)
    assert member_client.get(customer.get_absolute_url()).status_code == 200
    response = owner_client.post(member_url("member_remove", membership_of(member, customer)))
    assert response.status_code == 302
    assert reverse("accounts:login") in member_client.get(customer.get_absolute_url())["Location"]
    again = sign_in(Client(), member)
    assert again.get(customer.get_absolute_url()).status_code == 404
    assert again.get(other_customer.get_absolute_url()).status_code == 200
    assert User.objects.filter(pk=member.pk, status=User.Status.ACTIVE).exists()
    event = AuditEvent.objects.get(action="membership.removed")
    assert event.customer == customer and event.actor == owner


def test_removing_also_drops_object_permissions(owner, customer):
    """S6: object permissions on the customer's hosting accounts go with the membership."""
    restricted = MembershipFactory(customer=customer, restricted_to_accounts=True)
    account = HostingAccountFactory(customer=customer)
    assign_perm(MANAGE_ACCOUNT_PERM, restricted.user, account)
    services.membership_remove(membership=restricted, by=owner)
    assert not UserObjectPermission.objects.filter(user=restricted.user).exists()


def test_the_last_owner_is_never_removed_or_demoted(owner, customer, main_customer, main_user):
    """U4: a customer keeps at least one owner."""
    only = membership_of(owner, customer)
    with pytest.raises(ValidationError):
        services.membership_remove(membership=only, by=owner)
    with pytest.raises(ValidationError):
        services.membership_update(membership=only, changes={"is_owner": False}, by=owner)
    assert membership_of(owner, customer).is_owner
    # Through the page: a main account's owner acting for a sub-account tries it.
    customer.parent = main_customer
    customer.save()
    client = sign_in(Client(), main_user)
    response = client.post(member_url("member_remove", only), follow=True)
    assert "only owner" in response.content.decode()
    assert Membership.objects.filter(pk=only.pk).exists()
    # With a second owner, one of them can go.
    second = MembershipFactory(customer=customer, owner=True)
    services.membership_remove(membership=only, by=second.user)
    assert not Membership.objects.filter(pk=only.pk).exists()


def test_nobody_changes_their_own_membership(client_for, owner, customer):
    """U3: one's own permissions are changed by another owner or manager."""
    mine = membership_of(owner, customer)
    client = client_for(owner)
    assert client.get(member_url("member_edit", mine)).status_code == 403
    assert client.post(member_url("member_remove", mine)).status_code == 403


def test_a_manager_cannot_change_an_owner_or_give_what_they_lack(customer, owner):
    """U3: managers change non-owners only, and the permissions they do not hold keep
    their value."""
    manager = MembershipFactory(customer=customer, can_manage_users=True).user
    accountant = MembershipFactory(customer=customer, can_view_invoices=True)
    client = sign_in(Client(), manager)
    assert client.get(member_url("member_edit", membership_of(owner, customer))).status_code == 403
    client.post(
        member_url("member_edit", accountant),
        permissions("is_owner", "can_manage_delegations", "can_change_dns", "notify_orders"),
    )
    accountant.refresh_from_db()
    assert accountant.can_view_invoices  # locked for this manager: unchanged
    assert not accountant.is_owner and not accountant.can_manage_delegations
    assert accountant.notify_orders and not accountant.can_change_dns


def test_permission_changes_are_audited(client_for, owner, member, customer):
    """S27: who changed which permission of whom."""
    client_for(owner).post(
        member_url("member_edit", membership_of(member, customer)),
        permissions("can_view_products", "can_open_tickets", "can_change_dns"),
    )
    event = AuditEvent.objects.get(action="membership.changed")
    assert event.customer == customer and event.actor == owner
    assert event.data["added"] == ["can_change_dns"]
    assert member.email in event.summary


def test_has_left_sends_staff_a_request(
    client_for, owner, member, customer, staff_client, django_capture_on_commit_callbacks
):
    """U4: "has left the organisation" tells support (a request in the admin and a mail);
    the membership and the user stay as they are until staff act."""
    target = membership_of(member, customer)
    client = client_for(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(member_url("member_left", target), {"note": "left in May"})
        client.post(member_url("member_left", target))
    assert response.status_code == 302
    staff_request = StaffRequest.objects.get()
    assert staff_request.user == member and staff_request.customer == customer
    assert staff_request.requested_by == owner and staff_request.note == "left in May"
    assert [m.to for m in mail.outbox] == [[settings.SUPPORT_EMAIL]]
    assert member.email in mail.outbox[0].subject
    member.refresh_from_db()
    assert member.status == User.Status.ACTIVE
    assert Membership.objects.filter(pk=target.pk).exists()
    page = client.get(list_url(customer)).content.decode()
    assert "reported as left" in page
    admin_page = staff_client.get(reverse("admin:accounts_staffrequest_changelist"))
    assert str(member) in admin_page.content.decode()
