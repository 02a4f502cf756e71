import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import AccessReview, Customer, User
from tests.helpers import sign_in

pytestmark = pytest.mark.django_db


def test_demo_shows_an_overdue_review_and_who_can_act(client):
    """Issue 7 in the demo: Nordlicht's review is overdue and its owner sees it on the
    dashboard and reads the overview; seeding twice changes nothing."""
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    nordlicht = Customer.objects.get(name="Nordlicht Media GmbH")
    assert AccessReview.objects.count() == 2
    anna = User.objects.get(email="anna@nordlicht.example")
    sign_in(client, anna)
    dashboard = client.get(reverse("portal:dashboard", args=[nordlicht.number]))
    assert b"Access review due:" in dashboard.content
    page = client.get(reverse("accounts:access_overview", args=[nordlicht.number]))
    assert page.status_code == 200
    assert b"anna@nordlicht.example" in page.content
