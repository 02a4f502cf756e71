"""C1 in the database: a PostgreSQL trigger refuses a second level of sub-accounts even
for writes that bypass the model (a direct UPDATE, two requests at once)."""

import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction

from tests.factories import CustomerFactory

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only"
)


def set_parent(customer_id, parent_id):
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_customer SET parent_id = %s WHERE id = %s", [parent_id, customer_id]
        )


@pytest.mark.django_db
def test_a_direct_update_cannot_put_a_customer_under_a_sub_account(main_customer, sub_customer):
    """C1: sub-accounts have no sub-accounts."""
    other = CustomerFactory()
    with pytest.raises(IntegrityError, match="C1"), transaction.atomic():
        set_parent(other.pk, sub_customer.pk)


@pytest.mark.django_db
def test_a_direct_update_cannot_make_a_main_account_a_sub_account(main_customer, sub_customer):
    """C1: a main account cannot become a sub-account."""
    other = CustomerFactory()
    with pytest.raises(IntegrityError, match="C1"), transaction.atomic():
        set_parent(main_customer.pk, other.pk)


@pytest.mark.django_db
def test_an_insert_under_a_sub_account_is_refused(sub_customer):
    """C1: also for new rows, bypassing Customer.clean()."""
    with pytest.raises(IntegrityError, match="C1"), transaction.atomic():
        CustomerFactory(parent=sub_customer)


@pytest.mark.django_db
def test_one_level_is_allowed(main_customer):
    other = CustomerFactory()
    set_parent(other.pk, main_customer.pk)
    other.refresh_from_db()
    assert other.parent_id == main_customer.pk


@pytest.mark.django_db(transaction=True)
def test_two_transactions_cannot_build_two_levels_together():
    """C1: A under B and B under C at the same moment: one of them fails."""
    a, b, c = CustomerFactory(), CustomerFactory(), CustomerFactory()
    first_done = threading.Event()
    errors = []

    def first():
        try:
            with transaction.atomic():
                set_parent(a.pk, b.pk)
                first_done.set()
                threading.Event().wait(0.5)  # hold the locks a moment
        except IntegrityError as error:
            errors.append(("first", error))
        finally:
            first_done.set()
            connections.close_all()

    def second():
        first_done.wait(5)
        try:
            with transaction.atomic():
                set_parent(b.pk, c.pk)  # waits for the first, then sees A under B
        except IntegrityError as error:
            errors.append(("second", error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert [who for who, _error in errors] == ["second"]
    b.refresh_from_db()
    a.refresh_from_db()
    assert a.parent_id == b.pk and b.parent_id is None
