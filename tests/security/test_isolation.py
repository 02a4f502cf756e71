"""S1: the isolation matrix, generated from the URL patterns themselves.

``make security`` prints its totals last: ``isolation: N requests, M leaks``.
"""

import pytest

from tests.security import matrix
from tests.security.urlwalk import tenant_routes

pytestmark = [pytest.mark.security, pytest.mark.django_db]


def report(title, lines, limit=60):
    shown = "\n  ".join(lines[:limit])
    more = f"\n  ... and {len(lines) - limit} more" if len(lines) > limit else ""
    return f"{title} ({len(lines)}):\n  {shown}{more}"


def test_s1_every_role_gets_404_for_another_tenants_objects(world, isolation_totals):
    """S1: every URL with a customer number or an object id answers 404 to every role of
    another tenant (owner, a member with each single permission, delegate, main-account
    user, sub-account user, staff with and without two-factor) and a login redirect to
    anonymous, unverified and inactive people, for GET and POST, with the other tenant's
    customer number and with the role's own number and the other tenant's ids. A URL the
    matrix could not reach fails it."""
    result = matrix.run(world)
    isolation_totals.update(requests=result.requests, leaks=len(result.leaks))
    print(f"\n{result.line()} over {result.routes} URL patterns, {len(world.roles)} roles")
    problems = []
    if result.leaks:
        problems.append(report("leaks", result.leaks))
    if result.not_reached:
        problems.append(report("URLs not reached", result.not_reached))
    assert not problems, "\n".join(problems)
    assert result.requests > 0


def test_s1_matrix_covers_every_tenant_url():
    """S1: the matrix is generated from the resolver: every pattern with a customer number
    or an integer id is in it (the dashboard and the hosting-account page at least)."""
    names = {route.name for route in tenant_routes()}
    assert {"portal:dashboard", "portal:account_detail"} <= names


class LeakyURLConf:
    """The portal's URLs plus one view that skips the policy."""

    @staticmethod
    def leaky(request, customer, account):
        from django.http import HttpResponse

        from accounts.models import HostingAccount

        return HttpResponse(HostingAccount.objects.get(pk=account).description)

    from django.urls import include, path

    urlpatterns = [
        path("c/<int:customer>/leaky/<int:account>/", leaky, name="leaky"),
        path("", include("portal.urls")),
    ]


def test_s1_matrix_catches_a_leaky_view(world, settings):
    """S1: the matrix itself works: a view that skips the policy is reported as a leak."""
    from django.urls import get_resolver

    from tests.security.urlwalk import walk

    settings.ROOT_URLCONF = LeakyURLConf
    routes = [r for r in walk(get_resolver(LeakyURLConf)) if r.name == "leaky"]
    assert routes
    result = matrix.run(world, routes=routes)
    assert result.leaks
    assert any("marker" in leak for leak in result.leaks)
    assert not result.not_reached
