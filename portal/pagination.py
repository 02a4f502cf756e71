"""Paging through lists that can grow past what is worth counting (make bench).

Django's Paginator counts every row of a list on each page view: for a manager whose
organisation has 50,000 tickets that is a count of 30,000 open ones per view. Lists that
can grow like that count at most ``cap`` + 1 rows and say "more than …" past it; the
filters and the search narrow them down (the helpdesk admin does the same).
"""

from collections.abc import Callable

from django.core.paginator import Paginator
from django.db.models import Func, IntegerField, Subquery, Value
from django.utils.functional import cached_property

from portal.prepared import PER_CUSTOMER, PreparedPages, PreparedQuery

COUNT_CAP = 1000


class CappedCountPaginator(Paginator):
    """Counts at most ``cap`` + 1 rows: a page costs the same at a thousand rows and at
    a million. Pages past the cap are not offered; ``capped`` says the total is more."""

    cap = COUNT_CAP

    def __init__(self, object_list, per_page, *args, cap: int | None = None, **kwargs):
        super().__init__(object_list, per_page, *args, **kwargs)
        if cap is not None:
            self.cap = cap

    @cached_property
    def count(self):
        # Without the list's order, so that the filter's own index answers it, and
        # without its annotations: the agency dashboard's grant columns are subqueries,
        # which counting 1,001 rows ran 2,002 times (24 ms per view in make bench).
        if isinstance(self.object_list, PagedList):
            return self.object_list.count()  # capped by its query (CompiledList)
        return self.object_list.order_by().values("pk")[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    @property
    def shown_pages(self) -> int:
        """The number of pages known to be full: "more than" this many when capped."""
        return self.cap // self.per_page if self.capped else self.num_pages


class PagedList:
    """The object list of a ``Paginator`` whose total and pages come from the given
    functions (queries compiled once per process, ``portal.prepared``): ``count()``, and
    one page at a time by slice as ``Paginator`` asks, read as ``rows(offset, page_size)``;
    an empty page reads nothing (nor does an empty slice of a queryset)."""

    ordered = True  # Paginator: the order is the list's own

    def __init__(self, count: Callable[[], int], rows: Callable[[int, int], list], page_size):
        self._count = count
        self._rows = rows
        self.page_size = page_size

    def count(self) -> int:
        return self._count()

    def __getitem__(self, key: slice) -> list:
        if not isinstance(key, slice) or key.step is not None:
            raise TypeError("PagedList: only a page of rows, as Paginator asks for it")
        start, stop = key.start or 0, key.stop
        if stop is None or not 0 <= stop - start <= self.page_size:
            raise ValueError("PagedList: at most one page of rows")
        if stop == start:
            return []
        return self._rows(start, self.page_size)[: stop - start]


class _CappedCount(Subquery):
    """The number of rows of a subquery that reads at most its limit's rows."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS capped)"


def counts_query(customer_id, querysets: dict, cap: int | None = None):
    """One row with the number of rows of each queryset as ``n_<key>``: a scalar ``COUNT``
    subquery each, selected beside the customer's row. ``count_together`` runs it; a
    list's count compiled once per process (``portal.prepared``) is built from it.
    With ``cap``, each count stops at ``cap`` + 1 rows (``CappedCountPaginator``)."""
    from accounts.models import Customer

    columns = {}
    for key, queryset in querysets.items():
        if cap is not None:
            rows = queryset.order_by().select_related(None).values("pk")[: cap + 1]
            columns[f"n_{key}"] = _CappedCount(rows, output_field=IntegerField())
            continue
        counted = (
            queryset.order_by()
            .select_related(None)
            # A plain function, not an aggregate: no GROUP BY, one row with the count.
            .annotate(_n=Func(Value(1), function="COUNT", output_field=IntegerField()))
            .values("_n")
        )
        columns[f"n_{key}"] = Subquery(counted, output_field=IntegerField())
    return Customer.objects.filter(pk=customer_id).values(**columns)


def count_together(customer, querysets: dict) -> dict:
    """The number of rows of every queryset, in one query (``counts_query``). A page with
    several paginated lists (the access overview's seven sections and the sub-accounts,
    the members and invitations) counted them one by one: a round trip each on every view
    (make bench)."""
    counts = {key: 0 for key, queryset in querysets.items() if queryset.query.is_empty()}
    counted = {key: queryset for key, queryset in querysets.items() if key not in counts}
    if counted:
        row = counts_query(customer.pk, counted).get()
        counts.update({column[2:]: number for column, number in row.items()})
    return counts


class CompiledList:
    """A list of a customer's rows whose count and pages are compiled once per process
    (``portal.prepared``): ``build(customer_id, **values)`` is the list's queryset,
    ``parameters`` the types of the values beside the customer. With none, they are
    prepared on the server per customer (``PER_CUSTOMER``); with some (a ticket status),
    planned by PostgreSQL per call.
    Building and compiling a list's count and page cost 0.5–1 ms of Python per view, more
    than PostgreSQL takes to run them (make bench). ``capped`` counts at most ``COUNT_CAP``
    + 1 rows, for ``CappedCountPaginator``."""

    def __init__(self, build: Callable, *, capped: bool = False, **parameters: type):
        cap = COUNT_CAP if capped else None

        def counted(customer_id, **values):
            return counts_query(customer_id, {"rows": build(customer_id, **values)}, cap=cap)

        server_side = False if parameters else PER_CUSTOMER
        self._count = PreparedQuery(counted, server_side=server_side, customer_id=int, **parameters)
        self._pages = PreparedPages(build, server_side=server_side, **parameters)

    def paged(self, customer_id: int, page_size: int, **values) -> PagedList:
        """The object list for a ``Paginator`` (``CappedCountPaginator`` when capped)."""

        def count() -> int:
            rows = self._count(customer_id=customer_id, **values)
            return rows[0]["n_rows"] if rows else 0  # no such customer: nothing listed

        return PagedList(
            count,
            lambda offset, size: self._pages(customer_id, offset, size, **values),
            page_size,
        )
