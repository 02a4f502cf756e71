import pytest
from django.urls import reverse

from tests.factories import HostingAccountFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def dashboard_url(customer):
    return reverse("portal:dashboard", kwargs={"customer": customer.number})


def test_anonymous_is_redirected_to_login(customer):
    """S2: anonymous requests are redirected to the sign-in page."""
    response = __import__("django.test", fromlist=["Client"]).Client().get(dashboard_url(customer))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_owner_sees_own_hosting_accounts(client_for, owner, customer, account, other_account):
    response = client_for(owner).get(dashboard_url(customer))
    assert response.status_code == 200
    assert b"alice.example" in response.content
    assert b"bob.example" not in response.content


def test_other_tenant_gets_404(client_for, outsider, customer):
    """S1: another tenant's customer answers 404."""
    assert client_for(outsider).get(dashboard_url(customer)).status_code == 404


def test_main_account_user_reaches_sub_account(client_for, main_user, sub_customer):
    """C3: users of the main account act in each sub-account from one login."""
    HostingAccountFactory(customer=sub_customer, name="sub-shop.example")
    response = client_for(main_user).get(dashboard_url(sub_customer))
    assert response.status_code == 200
    assert b"sub-shop.example" in response.content


def test_sub_account_user_does_not_reach_main_account(client_for, main_customer, sub_customer):
    """C3: a sub-account's own users keep access to their own account only."""
    sub_user = MembershipFactory(customer=sub_customer, owner=True).user
    assert client_for(sub_user).get(dashboard_url(main_customer)).status_code == 404


def test_inactive_user_is_signed_out(client_for, owner, customer):
    """U6, S5: an inactive user's session ends on the next request."""
    client = client_for(owner)
    owner.status = owner.Status.INACTIVE
    owner.save()
    response = client.get(dashboard_url(customer))
    assert response.status_code == 302


def test_delegate_sees_granted_account_on_agency_dashboard(client_for, delegate, agency, grant):
    """D4: granted accounts appear beside the agency's own."""
    response = client_for(delegate).get(dashboard_url(agency))
    assert response.status_code == 200
    assert b"alice.example" in response.content


def test_dashboard_query_count_is_fixed(client_for, owner, customer, django_assert_max_num_queries):
    """Query count stays the same at two sizes."""
    client = client_for(owner)
    HostingAccountFactory.create_batch(3, customer=customer)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(dashboard_url(customer))
    HostingAccountFactory.create_batch(30, customer=customer)
    with CaptureQueriesContext(connection) as large:
        client.get(dashboard_url(customer))
    assert len(small) == len(large)
