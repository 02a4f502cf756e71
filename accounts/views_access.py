"""Who can act for us (issue 7): one page with every person and organisation that can act
for the customer or its hosting accounts, each with the policy's own reason; its CSV
export for auditors; the owners' periodic access review.

The rows come from ``portal.policy.overview_sections``/``overview_rows`` — the same rules
that decide access — so the page cannot disagree with what the portal enforces. The
actions are the existing views' (member edit and remove, grant revoke, invitation
cancel, contact edit), offered where the policy lets this user use them.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connections
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.audit import audit
from accounts.forms import AccessReviewIntervalForm
from accounts.models import Customer
from portal import policy
from portal.pagination import PagedList, counts_query
from portal.policy import Action, OverviewSection
from portal.prepared import PreparedQuery

# Ten rows per section: seven sections of 25 rows made the page cost 107 ms of CPU per
# view (make bench) and a long scroll; each section pages on its own.
PAGE_SIZE = 10
EXPORT_BATCH = 500
# Spreadsheet programs run a cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _page_param(section: OverviewSection) -> str:
    return f"{section}_page"


# --- the sections' queries, compiled once per process (make bench) --------------------
#
# Building and compiling the seven sections' querysets, their counts and their pages
# (``policy.overview_sections``) cost about a third of the page's Python: 20 ms of CPU per
# view. The same queries, with the same rows in the same order, are compiled here once per
# process: the counts for each shape of the page (a sub-account has the main account's
# users, a main account its sub-accounts), each section's pages one by one (Django writes
# LIMIT and OFFSET into the SQL). Each is prepared on the server per customer (and main
# account), with the moment and the window's start as its parameters: PostgreSQL plans it
# knowing the customer (three members or a thousand) and parses and plans it once.

# Probes for the values that vary: the customer, its main account, the moment and the
# start of the ended sections' window. What a query holds of them is read from its SQL,
# so that a section that starts using a value compiles it as a parameter too.
_PROBES = {
    "customer_id": -1_999_999_901,
    "parent_id": -1_999_999_902,
    "at": datetime(2001, 2, 3, 4, 5, 6, 789_012, tzinfo=UTC),
    "cutoff": datetime(2000, 11, 5, 4, 5, 6, 789_012, tzinfo=UTC),
}
_COMPILED_PAGES = 64  # pages further on are read through the ORM
# key -> (the compiled query, the names of its parameters)
_prepared: dict[tuple, tuple[PreparedQuery, tuple[str, ...]]] = {}


def _sections(customer_id, at, cutoff, parent_id=None) -> dict:
    """``policy.overview_sections`` for a customer known by its id and main account's."""
    customer = Customer(pk=customer_id, parent_id=parent_id)
    return policy.overview_sections(customer, at, cutoff=cutoff)


def _counted(customer_id, at, cutoff, parent_id=None):
    """The sections' and the sub-accounts' counts in one query (``counts_query``); a
    sub-account has no sub-accounts of its own (C1)."""
    querysets = {
        str(section): queryset
        for section, queryset in _sections(customer_id, at, cutoff, parent_id).items()
    }
    if parent_id is None:
        querysets["sub_accounts"] = Customer.objects.filter(parent_id=customer_id)
    return counts_query(customer_id, querysets)


def _section_page(section, offset):
    def section_page(customer_id, at, cutoff, parent_id=None):
        sections = _sections(customer_id, at, cutoff, parent_id)
        return sections[section][offset : offset + PAGE_SIZE]

    return section_page


def _values(customer, at) -> dict:
    values = {
        "customer_id": customer.pk,
        "at": at,
        "cutoff": at - timedelta(days=policy.OVERVIEW_ENDED_DAYS),
    }
    if customer.parent_id is not None:
        values["parent_id"] = customer.parent_id
    return values


def _run(key: tuple, build, values: dict) -> list:
    """The rows of ``build(**values)``, compiled once per process under ``key`` with those
    of ``values`` as parameters that its SQL holds."""
    prepared = _prepared.get(key)
    if prepared is None:
        probes = {name: _PROBES[name] for name in values}
        queryset = build(**probes)
        connection = connections[queryset.db]
        _sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
        adapt = connection.ops.adapt_datetimefield_value  # SQLite's takes datetimes only
        held = [*params, *(adapt(p) for p in params if isinstance(p, datetime))]
        parameters = {name: type(probe) for name, probe in probes.items() if probe in held}
        unused = {name: probe for name, probe in probes.items() if name not in parameters}
        per_customer = tuple(name for name in ("customer_id", "parent_id") if name in parameters)
        query = PreparedQuery(partial(build, **unused), server_side=per_customer, **parameters)
        prepared = _prepared[key] = (query, tuple(parameters))
    query, names = prepared
    return query(**{name: values[name] for name in names})


def _counts(values: dict) -> dict[str, int]:
    """How many rows each section has, and how many sub-accounts (one query)."""
    shape = "parent_id" in values
    (row,) = _run(("counts", shape), _counted, values)
    return {column[2:]: number or 0 for column, number in row.items()}


def _page_rows(section, values: dict, offset: int, size: int) -> list:
    """One page of a section: ``size`` rows from ``offset`` on."""
    if offset % PAGE_SIZE or offset // PAGE_SIZE >= _COMPILED_PAGES or size != PAGE_SIZE:
        return list(_section_page(section, offset)(**values)[:size])
    key = (section, "parent_id" in values, offset)
    return _run(key, _section_page(section, offset), values)


def _page_links(request, param: str, page) -> dict:
    """Links to the previous and next page of one section, keeping the other sections'
    pages where they were."""
    links = {}
    for name, wanted, number in (
        ("previous", page.has_previous(), page.number - 1),
        ("next", page.has_next(), page.number + 1),
    ):
        if wanted:
            query = request.GET.copy()
            query[param] = number
            links[name] = f"?{query.urlencode()}#{param}"
    return links


def _actions(request, customer, row, main_access) -> dict:
    """What this user may do with a row, through the existing views (the policy decides)."""
    access = request.access
    section = row.section
    obj = row.obj
    if section == OverviewSection.MEMBERS:
        may = policy.may_change_membership(request.user, access, obj)
        return {"change": may, "remove": may}
    if section == OverviewSection.MAIN_ACCOUNT:
        may = main_access is not None and policy.may_change_membership(
            request.user, main_access, obj
        )
        return {"change_in_main": may}
    if section in (OverviewSection.GRANTS, OverviewSection.GRANT_KEYS):
        return {"revoke": access.allows(Action.MANAGE_DELEGATIONS)}
    if section == OverviewSection.ENDED_GRANTS:
        return {"details": access.allows(Action.MANAGE_DELEGATIONS)}
    if section == OverviewSection.INVITATIONS:
        return {"cancel": obj.is_usable()}
    if section == OverviewSection.CONTACTS:
        return {"change": access.allows(Action.MANAGE_CONTACTS)}
    return {}


def _main_access(request, customer):
    """How this user acts in the main account, to offer changing its members there."""
    if customer.parent_id is None:
        return None
    access = policy.customer_access(request.user, customer.parent)
    if access is None or not access.allows(Action.MANAGE_USERS):
        return None
    return access


@login_required
def access_overview(request, customer):
    """Every person and organisation that can act for this customer, and why."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    at = timezone.now()
    main_access = _main_access(request, customer)
    values = _values(customer, at)
    counts = _counts(values)
    pages = {}
    # The sections in the policy's order, as counted (the main account's users only on a
    # sub-account's page).
    for section in [OverviewSection(key) for key in counts if key != "sub_accounts"]:
        listed = PagedList(
            partial(counts.get, str(section)), partial(_page_rows, section, values), PAGE_SIZE
        )
        pages[section] = Paginator(listed, PAGE_SIZE).get_page(
            request.GET.get(_page_param(section))
        )
    rows = policy.overview_page_rows(
        customer, {section: page.object_list for section, page in pages.items()}, at
    )
    sections = [
        {
            "key": str(section),
            "title": policy.OVERVIEW_TITLES[section],
            "page": page,
            "param": _page_param(section),
            "links": _page_links(request, _page_param(section), page),
            "rows": [
                {"row": row, "can": _actions(request, customer, row, main_access)}
                for row in rows[section]
            ],
        }
        for section, page in pages.items()
    ]
    review = selectors.access_review_of(customer)
    return render(
        request,
        "accounts/access_overview.html",
        {
            "customer": customer,
            "sections": sections,
            "review": review,
            "review_overdue": review.is_overdue(at),
            "can_review": request.access.allows(Action.CUSTOMER_SETTINGS),
            "interval_form": AccessReviewIntervalForm(
                initial={"interval_days": review.interval_days}
            ),
            "sub_account_count": counts.get("sub_accounts", 0),
            "ended_days": policy.OVERVIEW_ENDED_DAYS,
        },
    )


# --- export -------------------------------------------------------------------------


def csv_safe(value) -> str:
    """A cell as text that no spreadsheet runs as a formula (CSV injection): a leading
    = + - @ (or tab, carriage return) gets a quote in front."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _when(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="minutes") if moment else ""


def _csv_records(row) -> list[list]:
    """One record per person or organisation; a grant gives one per agency user."""
    accounts = ", ".join(a.name for a in row.accounts)
    base = [
        policy.OVERVIEW_TITLES[row.section],
        row.organisation,
        row.reason,
        "; ".join(str(d) for d in row.details),
        accounts,
        row.state_label,
        _when(row.since),
        _when(row.until),
        _("yes") if row.ending_soon else "",
        _when(row.last_activity),
    ]
    if row.people:
        return [[person.user.get_full_name(), person.user.email, *base] for person in row.people]
    return [[row.who, row.email, *base]]


@login_required
def access_overview_export(request, customer):
    """The overview as CSV for auditors: every row of every section, no pagination."""
    customer = policy.get_customer_for(request, customer, Action.MANAGE_USERS)
    at = timezone.now()
    out = io.StringIO()
    out.write("\ufeff")  # spreadsheet programs then read UTF-8
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Name"),
            _("E-mail address"),
            _("Section"),
            _("Organisation"),
            _("Why"),
            _("Permissions and details"),
            _("Hosting accounts"),
            _("State"),
            _("Since"),
            _("Until"),
            _("Ending soon"),
            _("Last activity"),
        ]
    )
    count = 0
    for section, queryset in policy.overview_sections(customer, at).items():
        paginator = Paginator(queryset, EXPORT_BATCH)
        for number in paginator.page_range:
            objects = paginator.page(number).object_list
            for row in policy.overview_rows(customer, section, objects, at):
                for record in _csv_records(row):
                    writer.writerow([csv_safe(cell) for cell in record])
                    count += 1
    audit(
        "access_overview.exported",
        request=request,
        customer=customer,
        summary=f"who can act exported as CSV ({count} rows)",
        rows=count,
    )
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    # Only digits and dashes: a file name nothing can break out of (S23).
    # The day as the portal shows dates (TIME_ZONE), not UTC's: after 23:00 UTC in winter
    # Berlin's is the next.
    filename = f"access-K-{customer.number}-{timezone.localdate(at):%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- access reviews -----------------------------------------------------------------


@login_required
@require_POST
def access_review_confirm(request, customer):
    """An owner confirms who can act for the customer (S27: recorded)."""
    customer = policy.get_customer_for(request, customer, Action.CUSTOMER_SETTINGS)
    review = services.access_review_confirm(customer=customer, by=request.user, request=request)
    messages.success(
        request,
        _("Thank you. The next access review is due on %(date)s.")
        % {"date": formats.date_format(timezone.localtime(review.due_at), "DATE_FORMAT")},
    )
    return redirect("accounts:access_overview", customer=customer.number)


@login_required
@require_POST
def access_review_settings(request, customer):
    """An owner chooses how often access is reviewed."""
    customer = policy.get_customer_for(request, customer, Action.CUSTOMER_SETTINGS)
    form = AccessReviewIntervalForm(request.POST)
    if form.is_valid():
        try:
            review = services.access_review_set_interval(
                customer=customer,
                days=form.cleaned_data["interval_days"],
                by=request.user,
                request=request,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                _("Access is now reviewed every %(days)s days; the next review is due on %(date)s.")
                % {
                    "days": review.interval_days,
                    "date": formats.date_format(timezone.localtime(review.due_at), "DATE_FORMAT"),
                },
            )
    else:
        messages.error(request, _("Choose one of the offered intervals."))
    return redirect("accounts:access_overview", customer=customer.number)
