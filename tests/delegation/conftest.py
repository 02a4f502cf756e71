import pytest

from tests.delegation.factories import make_grant


@pytest.fixture
def pending(customer, agency, account, owner):
    """A pending grant of ``account`` to ``agency`` and its key: (grant, key)."""
    return make_grant(grantor=customer, agency=agency, accounts=[account], by=owner)
