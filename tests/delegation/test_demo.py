import io

import pytest
from django.core.management import call_command

from delegation.demo import DEMO_KEY
from delegation.models import Grant
from delegation.services import key_matches
from portal import policy

pytestmark = pytest.mark.django_db


def test_demo_agency_holds_active_pending_and_expired_grants():
    """Issue 5: Webwerk Agentur holds active, pending and expired grants; seeding twice
    changes nothing."""
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())
    grants = Grant.objects.filter(agency__name="Webwerk Agentur").select_related("grantor")
    assert sorted((g.grantor.name, g.state) for g in grants) == [
        ("Alpenblick Pension", "pending"),
        ("Kovács Pékség Kft.", "active"),
        ("Nordlicht Shop", "expired"),
    ]
    lena = grants[0].agency.memberships.get(user__email="lena@webwerk.example").user
    delegated = policy.delegated_accounts(lena, grants[0].agency)
    assert sorted(delegated.values_list("name", flat=True)) == [
        "P-100250",
        "kovacs-pekseg.example",
    ]
    pending = grants.get(state="pending")
    assert key_matches(pending, DEMO_KEY)
