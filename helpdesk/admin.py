"""Staff work the helpdesk in the Django admin (H4): the ticket list with filters by status,
customer and assignee and a search, assignment, internal notes, replies and status
changes, quarantined mail (S19), and links to the staff actions on users and contacts.

Built to stay fast at a million tickets: no full-table counts (a capped count instead of
the paginator's), related rows fetched with the list, filters that never list every
customer, indexes that match each filter with the list's order.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.templatetags.admin_list import (
    pagination,
    paginator_number,
    result_headers,
    search_form,
)
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_backends
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.template import engines
from django.template.defaultfilters import linebreaksbr
from django.template.loader import select_template
from django.templatetags.static import static
from django.urls import NoReverseMatch, path, reverse
from django.utils.encoding import iri_to_uri
from django.utils.formats import localize
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language, gettext, ngettext
from django.utils.translation import gettext_lazy as _
from markupsafe import Markup

from accounts.models import User
from contacts.selectors import lookup_registered_contacts
from helpdesk import intake, services
from helpdesk.forms import AttachmentsField
from helpdesk.models import Attachment, InboundMail, Message, Participant, Ticket
from helpdesk.views import download_response
from portal import links
from portal.choices import per_language
from portal.jinja import Dates, fill
from portal.pagination import COUNT_CAP, CappedCountPaginator
from portal.prepared import PreparedQuery

# The change lists count at most COUNT_CAP + 1 rows (portal.pagination): a common word
# matches tens of thousands of subjects at provider scale; counting 10,001 of them cost
# 23 ms in PostgreSQL per view (make bench), 1,001 costs 6 ms, and 1.6 ms read from the
# index ticket_updated_subject alone (migration 0003: UPPER(subject) beside the list's
# order). Past the cap, a filter or a longer search narrows the list.


def _active_staff():
    return (
        User.objects.filter(is_staff=True, status=User.Status.ACTIVE)
        .order_by("email")
        .values("pk", "email")
    )


# The same query on every view of the ticket list: compiled once per process and prepared
# once per connection (portal.prepared); the partial index user_staff_email answers it.
_ACTIVE_STAFF = PreparedQuery(_active_staff)


def _user_permissions(user_id):
    """The permissions ``ModelBackend`` gives a user, its own and its groups', in one query
    instead of its two (``_permissions_of``)."""
    fields = ("content_type__app_label", "codename")
    own = Permission.objects.filter(user=user_id).values(*fields).order_by()
    grouped = Permission.objects.filter(group__user=user_id).values(*fields).order_by()
    return own.union(grouped, all=True)


_USER_PERMISSIONS = PreparedQuery(_user_permissions, user_id=int)


def _permissions_of(user) -> None:
    """Fills ``ModelBackend``'s cache of the user's permissions (``_perm_cache``) as its
    ``get_all_permissions`` would, from one query compiled once per process: the admin's
    first permission check otherwise builds and runs two (the user's own, the groups'):
    1.3 against 0.2 ms of Python per view (make bench). Not for a superuser, whom ``has_perm``
    answers without them, nor where ModelBackend is not the backend that gives them."""
    if (
        not user.is_active
        or user.is_anonymous
        or user.is_superuser
        or hasattr(user, "_perm_cache")
        or not any(type(backend) is ModelBackend for backend in get_backends())
    ):
        return
    rows = _USER_PERMISSIONS(user_id=user.pk)
    user._perm_cache = {f"{row['content_type__app_label']}.{row['codename']}" for row in rows}


class AssigneeFilter(admin.SimpleListFilter):
    title = _("assignee")
    parameter_name = "assignee"

    def lookups(self, request, model_admin):
        staff = [(str(user["pk"]), user["email"]) for user in _ACTIVE_STAFF()]
        return [("me", _("me")), ("none", _("nobody")), *staff]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "me":
            return queryset.filter(assignee=request.user)
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        if value and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


class CustomerFilter(admin.SimpleListFilter):
    """By customer number (``?customer=100001``), without listing every customer: the
    customer column of the list links here, the search takes ``K-100001``."""

    title = _("customer")
    parameter_name = "customer"

    def lookups(self, request, model_admin):
        choices = [("none", _("no customer yet"))]
        value = self.value()
        if value and value.isdigit():
            choices.insert(0, (value, f"K-{value}"))
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(customer__isnull=True)
        if value and value.isdigit():
            return queryset.filter(customer__number=int(value))
        return queryset


class TicketAdminForm(forms.ModelForm):
    reply = forms.CharField(
        label=_("Reply to the customer"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
        help_text=_(
            "Mailed to the requester and the copied addresses. Without another status "
            "chosen, the ticket then waits for the customer."
        ),
    )
    reply_files = AttachmentsField(label=_("Attachments of the reply"))
    note = forms.CharField(
        label=_("Internal note"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text=_("Only staff see internal notes; customers never do."),
    )

    class Meta:
        model = Ticket
        fields = ["subject", "customer", "account", "status", "assignee"]
        widgets = {"subject": forms.TextInput(attrs={"size": 80})}


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ["email", "user", "added_at"]
    readonly_fields = ["added_at"]
    raw_id_fields = ["user"]
    verbose_name = _("copied address")


class MessageInline(admin.StackedInline):
    """The whole conversation, internal notes included, read-only."""

    model = Message
    extra = 0
    can_delete = False
    fields = ["heading", "text", "files"]
    readonly_fields = ["heading", "text", "files"]
    ordering = ["created_at", "id"]
    verbose_name = _("message")
    verbose_name_plural = _("conversation")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("author").prefetch_related("attachments")
        )

    @admin.display(description=_("from"))
    def heading(self, obj):
        who = obj.author.email if obj.author else obj.author_email
        label = obj.get_kind_display().upper() if obj.is_internal else obj.get_kind_display()
        return f"{label} · {who} · {obj.created_at:%Y-%m-%d %H:%M} · {obj.get_source_display()}"

    @admin.display(description=_("text"))
    def text(self, obj):
        return linebreaksbr(obj.body)  # escapes first (S25)

    @admin.display(description=_("attachments"))
    def files(self, obj):
        return format_html_join(
            ", ",
            '<a href="{}">{}</a> ({} bytes)',
            (
                (
                    reverse(
                        "admin:helpdesk_ticket_attachment", args=[obj.ticket_id, attachment.pk]
                    ),
                    attachment.filename,
                    attachment.size,
                )
                for attachment in obj.attachments.all()
            ),
        )


def _admin_link(name: str, *args, query: str = "") -> str | None:
    try:
        return reverse(name, args=args) + query
    except NoReverseMatch:
        return None


# The columns the Jinja2 table of the ticket list knows (``TicketChangeList.table``).
TABLE_COLUMNS = (
    "display_number",
    "subject",
    "customer_link",
    "requester_email",
    "status",
    "assignee",
    "updated_at",
)
TABLE_LINKS = ("display_number", "subject")
# What those columns show (the customer's and the assignee's __str__ included): the list
# reads only these (make bench: 0.7 ms of the page's 2.2 ms of Python for its 50 rows).
TABLE_FIELDS = (
    "number",
    "subject",
    "requester_email",
    "status",
    "updated_at",
    "customer__number",
    "customer__name",
    "assignee__email",
    "assignee__first_name",
    "assignee__last_name",
)

# Django's own admin strings in the Jinja2 copies of its templates (the table's headers,
# the sidebar), translated by Django's admin catalogue as its templates do. Looked up by
# name, so that makemessages does not copy them into the portal's catalogues, where a
# translation of our own would change the admin.
_DJANGO_TEXTS = {
    "remove_sorting": "Remove from sorting",
    "toggle_sorting": "Toggle sorting",
    "sorting_priority": "Sorting priority: %(priority_number)s",
    "toggle_navigation": "Toggle navigation",
    "sidebar": "Sidebar",
    "start_typing": "Start typing to filter…",
    "filter_navigation": "Filter navigation items",
    "models_in": "Models in the %(name)s application",
    "model_name": "Model name",
    "add_link": "Add link",
    "change_or_view": "Change or view list link",
    "add": "Add",
    "no_permission": "You don’t have permission to view or edit anything.",
    "by_filter": " By %(filter_title)s ",
    "show_all": "Show all",
    "search": "Search",
    "full_total": "%(full_result_count)s total",
}
# {% blocktranslate count %} of search_form.html: singular and plural.
_DJANGO_RESULTS = ("%(counter)s result", "%(counter)s results")
_DJANGO_ADMIN_TEMPLATES = Path(admin.__file__).resolve().parent / "templates"


@functools.cache
def _djangos_template(*names: str) -> bool:
    """Whether the template Django's admin picks from ``names`` is its own, not a
    project's override (which the Jinja2 copies would not show)."""
    origin = Path(select_template(list(names)).origin.name).resolve()
    return origin.is_relative_to(_DJANGO_ADMIN_TEMPLATES)


def _django_texts() -> dict[str, str]:
    """``_DJANGO_TEXTS`` in the active language (once per process and language)."""
    return per_language(
        ("helpdesk.admin", "django texts"),
        lambda: {key: gettext(text) for key, text in _DJANGO_TEXTS.items()},
    )


def _escape(value) -> Markup:
    """Escaped as Django escapes (``django.utils.html.escape`` is ``html.escape``):
    Jinja2's own escaping writes ``&#34;`` where Django writes ``&quot;``."""
    return Markup(html.escape(str(value)))  # noqa: S704 - escaped, as Django escapes


def _render(template_name: str, **values) -> str:
    """A Jinja2 template of ``jinja_templates/`` with these values only: the copies of
    Django's admin templates need nothing else. ``{% jinja_include %}`` flattens the page's
    whole context for each template (about 0.5 ms per view for the table and the sidebar,
    make bench)."""
    template = engines["jinja2"].get_template(template_name).template
    return mark_safe(template.render(**values))  # noqa: S308 - autoescaped by Jinja2


def _escape_as_django(value) -> Markup:
    """What Django's templates show for ``{{ value }}``: escaped unless already safe
    (``conditional_escape``)."""
    return Markup(conditional_escape(value))  # noqa: S704 - escaped as Django escapes


def _customer_cell(customer) -> str:
    """The customer column: a link that filters the list by the customer."""
    if customer is None:
        return "—"
    return format_html('<a href="?customer={}">{}</a>', customer.number, customer)


def nav_sidebar(available_apps: list[dict], path: str) -> dict:
    """The context of ``admin/nav_sidebar.html`` (Jinja2): Django's admin/nav_sidebar.html
    and app_list.html for the admin's ``available_apps``, every text escaped as Django's
    templates escape it. Rendered by Django's engine, the sidebar's 29 models cost about
    0.7 ms per view (make bench)."""
    texts = _django_texts()
    quoted = quote(path)  # {{ request.path|urlencode }}
    apps = []
    for app in available_apps:
        models = []
        for model in app["models"]:
            admin_url = model.get("admin_url")
            add_url = model.get("add_url")
            models.append(
                {
                    "model_name": _escape(str(model["object_name"]).lower()),
                    "admin_url": _escape(admin_url) if admin_url else None,
                    "current": bool(admin_url) and str(admin_url) in quoted,
                    "name": _escape(model["name"]),
                    "add_url": _escape(add_url) if add_url else None,
                }
            )
        apps.append(
            {
                "app_label": _escape(app["app_label"]),
                "app_url": _escape(app["app_url"]),
                "current": str(app["app_url"]) in quoted,
                # {% blocktranslate with name=… %}: the translation as it is, the name escaped.
                "title": fill(texts["models_in"], name=_escape(app["name"])),
                "name": _escape(app["name"]),
                "models": models,
            }
        )
    return {"apps": apps, "texts": {key: _escape(text) for key, text in texts.items()}}


# The sidebars rendered in this process, by everything they show (nav_sidebar_html).
_SIDEBARS: dict[tuple, str] = {}
_SIDEBARS_KEPT = 64


def nav_sidebar_html(available_apps: list[dict], path: str) -> str:
    """``admin/nav_sidebar.html`` (Jinja2) for the admin's ``available_apps``, rendered once
    per process for the same apps, models, links, names, language and path: the same
    staff see the same sidebar on every view, which took 0.3–0.9 ms to escape and render
    (make bench). The key holds every value ``nav_sidebar`` reads."""
    key = (
        get_language(),
        path,
        tuple(
            (
                str(app["app_label"]),
                str(app["app_url"]),
                str(app["name"]),
                tuple(
                    (
                        str(model["object_name"]),
                        model.get("admin_url"),
                        model.get("add_url"),
                        str(model["name"]),
                    )
                    for model in app["models"]
                ),
            )
            for app in available_apps
        ),
    )
    html_text = _SIDEBARS.get(key)
    if html_text is None:
        if len(_SIDEBARS) >= _SIDEBARS_KEPT:
            _SIDEBARS.clear()
        html_text = _SIDEBARS[key] = _render(
            "admin/nav_sidebar.html", nav_sidebar=nav_sidebar(available_apps, path)
        )
    return html_text


class TicketRow(NamedTuple):
    """One row of the Jinja2 table: each cell's text, escaped as Django's admin does."""

    url: Markup
    number: Markup
    subject: Markup
    customer: Markup
    requester_email: Markup
    status: Markup
    assignee: Markup
    updated_at: Markup


class TicketChangeList(ChangeList):
    """The admin's list, each row's links to the ticket carrying the list's search and
    filters (``_changelist_filters``) as Django's admin makes them, worked out once per
    page: Django resolves every link again to learn that it is a change page, which for
    50 rows with two links each was about 10 ms per view (make bench).

    Its table (``table``) is a Jinja2 template with the cells worked out here, for the
    columns of ``TicketAdmin``: Django's ``items_for_result`` and its template cost about
    10 ms for 50 rows of seven columns (make bench). The HTML is Django's; a list it does
    not know (other columns, an action's checkbox, an editable list, a pop-up) is left to
    Django's ``{% result_list %}``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.row_filters = self.preserved_filters
        self.preserved_filters = ""  # the row links carry them already
        self._row_query = None

    def url_for_result(self, result, reverse=None):
        """Django's ``url_for_result`` with the list's filters, through portal.links (the
        view's URL text learnt once); ``reverse``: one render's (``links.reverser``)."""
        if reverse is None:
            reverse = links.reverser(self.model_admin.admin_site.name)
        url = reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            object_id=getattr(result, self.pk_attname),
        )
        if not self.row_filters:
            return url
        if self._row_query is None:
            # Django's own answer for one row: the same query string for every row.
            linked = add_preserved_filters(
                {"preserved_filters": self.row_filters, "opts": self.opts}, url
            )
            self._row_query = urlsplit(linked).query
        return f"{url}?{self._row_query}" if self._row_query else url

    @property
    def own_table(self) -> bool:
        """Whether this list is the one the Jinja2 table knows."""
        return (
            tuple(self.list_display) == TABLE_COLUMNS
            and tuple(self.list_display_links or ()) == TABLE_LINKS
            and not self.list_editable
            and not self.is_popup
            and not self.to_field
        )

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.only(*TABLE_FIELDS) if self.own_table else queryset

    @cached_property
    def table(self) -> dict | None:
        """The context of ``admin/helpdesk/ticket_results.html``, or None when Django's
        ``{% result_list %}`` renders this list."""
        if not self.own_table or self.formset is not None:
            return None
        headers = [self._header(header) for header in result_headers(self)]
        return {
            "headers": headers,
            "num_sorted_fields": sum(1 for h in headers if h["sortable"] and h["sorted"]),
            "rows": self._rows(),
        }

    @cached_property
    def filters_html(self) -> str | None:
        """The filters of the sidebar as Django's ``admin/filter.html`` shows them (a Jinja2
        copy, ``admin/helpdesk/ticket_filters.html``), from each filter's own choices; None
        when a filter has a template of its own. Django's template and its tag cost about
        1.5 ms per view for the four filters' 15 choices (make bench)."""
        if (
            not self.filter_specs
            or any(spec.template != "admin/filter.html" for spec in self.filter_specs)
            or not _djangos_template("admin/filter.html")
        ):
            return None
        by_filter = _django_texts()["by_filter"]
        filters = []
        for spec in self.filter_specs:
            title = _escape_as_django(spec.title)
            filters.append(
                {
                    "title": title,
                    # {% blocktranslate with filter_title=title %}: the title escaped.
                    "summary": fill(by_filter, filter_title=title),
                    "choices": [
                        {
                            "selected": choice["selected"],
                            # {{ choice.query_string|iriencode }}
                            "url": _escape_as_django(iri_to_uri(choice["query_string"])),
                            "display": _escape_as_django(choice["display"]),
                        }
                        for choice in spec.choices(self)
                    ],
                }
            )
        return _render("admin/helpdesk/ticket_filters.html", filters=filters)

    def _own_template(self, name: str) -> bool:
        """Whether the admin's tag for this list renders Django's own ``name``."""
        app_label, model_name = self.opts.app_label, self.opts.model_name
        return _djangos_template(
            f"admin/{app_label}/{model_name}/{name}", f"admin/{app_label}/{name}", f"admin/{name}"
        )

    @cached_property
    def pagination_html(self) -> str | None:
        """``{% pagination cl %}`` as Django's ``admin/pagination.html`` shows it (a Jinja2
        copy, ``admin/helpdesk/ticket_pagination.html``), from Django's own context and
        page links; None for an editable list (its save button) or a template of the
        project's. Django's tag and template cost about 0.4 ms per view (make bench)."""
        if self.formset is not None or not self._own_template("pagination.html"):
            return None
        context = pagination(self)
        required = context["pagination_required"]
        count = self.result_count
        name = self.opts.verbose_name if count == 1 else self.opts.verbose_name_plural
        show_all_url = context["show_all_url"]
        return _render(
            "admin/helpdesk/ticket_pagination.html",
            pagination_required=required,
            numbers=[paginator_number(self, i) for i in context["page_range"]],
            count=_escape_as_django(localize(count)),
            name=_escape_as_django(name),
            show_all_url=_escape_as_django(show_all_url) if show_all_url else None,
            show_all=_escape(_django_texts()["show_all"]),
        )

    @cached_property
    def search_form_html(self) -> str | None:
        """``{% search_form cl %}`` as Django's ``admin/search_form.html`` shows it (a
        Jinja2 copy, ``admin/helpdesk/ticket_search_form.html``); None for a template of
        the project's. Django's tag and template cost about 0.4 ms per view (make bench)."""
        if not self._own_template("search_form.html"):
            return None
        context = search_form(self)
        texts = _django_texts()
        count = self.result_count
        results = None
        if context["show_result_count"]:
            # {% blocktranslate count counter=cl.result_count %}: the number escaped.
            results = fill(ngettext(*_DJANGO_RESULTS, count), counter=_escape(localize(count)))
        query = ""  # ?{% if cl.is_popup %}…{% endif %}{% if cl.add_facets %}…{% endif %}
        if self.is_popup:
            query = f"{context['is_popup_var']}=1{'&' if self.add_facets else ''}"
        if self.add_facets:
            query += context["is_facets_var"]
        if self.show_full_result_count:
            full = _escape_as_django(localize(self.full_result_count))
            show_all = fill(texts["full_total"], full_result_count=full)
        else:
            show_all = _escape(texts["show_all"])
        help_text = self.search_help_text
        return _render(
            "admin/helpdesk/ticket_search_form.html",
            search_fields=bool(self.search_fields),
            search_icon=_escape_as_django(static("admin/img/search.svg")),
            search_var=_escape_as_django(context["search_var"]),
            query=_escape_as_django(self.query),
            help_text=_escape_as_django(help_text) if help_text else None,
            search=_escape(texts["search"]),
            show_result_count=context["show_result_count"],
            results=results,
            show_all_query=Markup(query),  # noqa: S704 - Django's parameter names, as its template
            show_all=show_all,
            params=[
                (_escape_as_django(name), _escape_as_django(value))
                for name, value in self.params.items()
            ],
        )

    @cached_property
    def table_html(self) -> str | None:
        """The table (``table``) as HTML, or None when Django's ``{% result_list %}``
        renders this list."""
        if self.table is None:
            return None
        return _render("admin/helpdesk/ticket_results.html", table=self.table)

    def _header(self, header: dict) -> dict:
        texts = _django_texts()
        shown = dict(header)
        shown["text"] = _escape(capfirst(header["text"]))
        if header["sortable"]:
            for key in ("url_primary", "url_remove", "url_toggle"):
                shown[key] = _escape(header[key])
            # {% blocktranslate %}: the translation as it is, the number escaped.
            shown["priority_title"] = fill(
                texts["sorting_priority"], priority_number=header["sort_priority"]
            )
        shown["remove_title"] = _escape(texts["remove_sorting"])  # {% translate %} escapes
        shown["toggle_title"] = _escape(texts["toggle_sorting"])
        return shown

    def _rows(self) -> list[TicketRow]:
        """Each ticket's cells as Django's ``items_for_result`` shows them for these
        columns: text escaped, the empty value ("-") for nothing or blank text, the
        status's label (the empty value for an unknown one), the time in the current
        time zone in the language's ``DATETIME_FORMAT``."""
        empty = self.model_admin.get_empty_value_display()
        status_field = self.opts.get_field("status")
        statuses = per_language(
            ("helpdesk.admin", "status"),
            lambda: {value: _escape(label) for value, label in status_field.flatchoices},
        )
        dates = Dates()
        reverse = links.reverser(self.model_admin.admin_site.name)
        customers = {}  # a page often shows one customer's tickets

        def text(value):
            if value is None or (isinstance(value, str) and not value.strip()):
                return empty
            return _escape(value)

        rows = []
        for ticket in self.result_list:
            assignee = ticket.assignee
            customer = customers.get(ticket.customer_id)
            if customer is None:
                customer = customers[ticket.customer_id] = _customer_cell(ticket.customer)
            rows.append(
                TicketRow(
                    url=_escape(self.url_for_result(ticket, reverse)),
                    number=text(ticket.display_number),
                    subject=text(ticket.subject),
                    customer=customer,
                    requester_email=text(ticket.requester_email),
                    status=statuses.get(ticket.status, empty),
                    assignee=empty if assignee is None else _escape(assignee),
                    updated_at=(
                        empty
                        if ticket.updated_at is None
                        else _escape(dates(ticket.updated_at, "DATETIME_FORMAT"))
                    ),
                )
            )
        return rows


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    # The columns and links the Jinja2 table renders (another set falls back to Django's).
    list_display = list(TABLE_COLUMNS)
    list_display_links = list(TABLE_LINKS)
    list_filter = ["status", AssigneeFilter, CustomerFilter, "source"]
    list_select_related = ["customer", "assignee"]
    list_per_page = 50
    search_fields = ["subject"]  # the search itself is get_search_results below
    search_help_text = _(
        "A ticket number (T-100042), a customer number (K-100001), an e-mail address, or "
        "words of the subject."
    )
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice: a full scan each
    paginator = CappedCountPaginator
    ordering = ["-updated_at", "-id"]

    def get_changelist(self, request, **kwargs):
        return TicketChangeList

    def changelist_view(self, request, extra_context=None):
        _permissions_of(request.user)
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "available_apps" in context:
            # The sidebar's Jinja2 template (admin/helpdesk/ticket/change_list.html).
            context["nav_sidebar_html"] = nav_sidebar_html(context["available_apps"], request.path)
        return response

    view_on_site = False  # the portal page is the customer's, not staff's
    raw_id_fields = ["customer", "account"]
    readonly_fields = [
        "display_number",
        "requester_email",
        "requester_link",
        "agency",
        "source",
        "created_at",
        "updated_at",
        "closed_at",
        "sender_check",
        "staff_actions",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "display_number",
                    "subject",
                    ("status", "assignee"),
                    ("customer", "account"),
                    ("requester_email", "requester_link"),
                    "agency",
                    ("source", "created_at", "updated_at", "closed_at"),
                ]
            },
        ),
        (_("Before answering (K8)"), {"fields": ["sender_check", "staff_actions"]}),
        (_("Answer"), {"fields": ["reply", "reply_files", "note"]}),
    ]
    inlines = [ParticipantInline, MessageInline]

    def has_add_permission(self, request):
        # Tickets come from customers (portal, mail); staff answer them.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # --- list --------------------------------------------------------------------------

    @admin.display(description=_("ticket"), ordering="number")
    def display_number(self, obj):
        return obj.display_number

    @admin.display(description=_("customer"))
    def customer_link(self, obj):
        return _customer_cell(obj.customer)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        if match := re.fullmatch(r"#?T-?(\d{1,18})", term, re.IGNORECASE):
            return queryset.filter(number=int(match.group(1))), False
        if match := re.fullmatch(r"K-?(\d{1,9})", term, re.IGNORECASE):
            return queryset.filter(customer__number=int(match.group(1))), False
        if term.isdigit():
            return queryset.filter(number=int(term)), False
        if "@" in term:
            address = term.lower()
            # Two index look-ups (requester, copied) instead of an OR with a subquery,
            # which PostgreSQL answers by reading every ticket.
            copied = list(
                Participant.objects.filter(email=address).values_list("ticket_id", flat=True)[
                    :COUNT_CAP
                ]
            )
            return queryset.filter(Q(requester_email=address) | Q(pk__in=copied)), False
        return queryset.filter(subject__icontains=term), False

    # --- change form -------------------------------------------------------------------

    @admin.display(description=_("requester"))
    def requester_link(self, obj):
        if obj.requester is None:
            return _("no login (a contact's address)")
        url = _admin_link("admin:accounts_user_change", obj.requester_id)
        return format_html(
            '<a href="{}">{}</a> ({})', url or "#", obj.requester.email, obj.requester.status
        )

    @admin.display(description=_("sender check"))
    def sender_check(self, obj):
        """Whether the requester's address is a registered contact, and of whom (K8, K9)."""
        contacts = list(lookup_registered_contacts(email=obj.requester_email)[:10])
        if not contacts:
            return _("The address is not a registered contact of any customer.")
        return format_html_join(
            "; ",
            "{} — {} ({}){}",
            (
                (
                    c.customer,
                    c.name,
                    ", ".join(c.type_labels()),
                    " ✔ " + str(_("authorised")) if c.is_authorised else "",
                )
                for c in contacts
            ),
        )

    @admin.display(description=_("staff actions"))
    def staff_actions(self, obj):
        """Links to where staff set a user inactive or verify them (U4, U6), create logins
        (U5), check phone passwords and register extracts (K8, K12)."""
        links = []
        if obj.requester_id:
            url = _admin_link("admin:accounts_user_change", obj.requester_id)
            if url:
                links.append((url, _("Requester's login: status, verify, deactivate (U4, U6)")))
        url = _admin_link("admin:accounts_user_add")
        if url:
            links.append((url, _("Create a login (U5)")))
        url = _admin_link(
            "admin:contacts_contact_lookup", query="?" + urlencode({"email": obj.requester_email})
        )
        if url:
            links.append((url, _("Is the sender a registered contact? (K8)")))
        if obj.customer_id:
            url = _admin_link("admin:accounts_customer_change", obj.customer_id)
            if url:
                links.append((url, _("Customer")))
            number = urlencode({"q": obj.customer.number})
            url = _admin_link("admin:contacts_contact_changelist", query=f"?{number}")
            if url:
                links.append((url, _("Contacts, phone password check (K8)")))
            url = _admin_link("admin:contacts_registerextract_changelist", query=f"?{number}")
            if url:
                links.append((url, _("Register extracts (K12)")))
        return format_html_join(" · ", '<a href="{}">{}</a>', links) or "—"

    def save_model(self, request, obj, form, change):
        # Status and assignee go through the services in save_related, after the copied
        # addresses are saved, so that mail reaches everyone on the ticket.
        # The form has validated the ticket, its account against its customer included (S4).
        obj.save(update_fields=["subject", "customer", "account"])

    @transaction.atomic
    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        ticket = Ticket.objects.select_related("customer", "requester").get(pk=form.instance.pk)
        data = form.cleaned_data
        if "assignee" in form.changed_data:
            services.ticket_assign(ticket=ticket, assignee=data["assignee"], actor=request.user)
        if data.get("note"):
            services.note_add(ticket=ticket, staff=request.user, body=data["note"])
        status_changed = "status" in form.changed_data
        if data.get("reply"):
            services.staff_reply(
                ticket=ticket,
                staff=request.user,
                body=data["reply"],
                files=data.get("reply_files") or [],
                status=data["status"] if status_changed else Ticket.Status.WAITING,
            )
        elif status_changed:
            services.ticket_status_set(
                ticket=ticket, status=data["status"], actor=request.user, request=request
            )

    def get_urls(self):
        return [
            path(
                "<int:ticket_id>/attachment/<int:attachment_id>/",
                self.admin_site.admin_view(self.attachment_view),
                name="helpdesk_ticket_attachment",
            ),
            *super().get_urls(),
        ]

    def attachment_view(self, request, ticket_id, attachment_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        attachment = get_object_or_404(Attachment, pk=attachment_id, message__ticket_id=ticket_id)
        return download_response(attachment)


@admin.register(InboundMail)
class InboundMailAdmin(admin.ModelAdmin):
    """Every message the intake received; quarantined ones kept for staff (S19)."""

    list_display = ["received_at", "outcome", "reason", "from_address", "subject", "ticket", "size"]
    list_filter = ["outcome", "source", "acknowledged"]
    search_fields = ["=from_address", "subject", "=message_id"]
    list_select_related = ["ticket"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    paginator = CappedCountPaginator
    readonly_fields = [
        "received_at",
        "source",
        "outcome",
        "reason",
        "size",
        "message_id",
        "from_address",
        "subject",
        "ticket",
        "acknowledged",
        "original",
    ]
    exclude = ["raw", "sha256"]
    actions = ["process_again"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("original message"))
    def original(self, obj):
        if not obj.raw:
            return "—"
        url = reverse("admin:helpdesk_inboundmail_raw", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("download (.eml)"))

    def get_urls(self):
        return [
            path(
                "<int:pk>/raw/",
                self.admin_site.admin_view(self.raw_view),
                name="helpdesk_inboundmail_raw",
            ),
            *super().get_urls(),
        ]

    def raw_view(self, request, pk):
        from django.http import FileResponse, Http404

        inbound = get_object_or_404(InboundMail, pk=pk)
        if not self.has_view_permission(request, inbound) or not inbound.raw:
            raise Http404
        response = FileResponse(
            inbound.raw.open("rb"),
            as_attachment=True,
            filename=f"inbound-{inbound.pk}.eml",
            content_type="application/octet-stream",
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.action(description=_("Process quarantined mail again"))
    def process_again(self, request, queryset):
        done = 0
        for inbound in queryset.filter(outcome=InboundMail.Outcome.QUARANTINED).exclude(raw=""):
            with inbound.raw.open("rb") as handle:
                raw = handle.read()
            with transaction.atomic():
                inbound.delete()
                result = intake.mail_ingest(raw, source=inbound.source)
            done += 1
            self.message_user(
                request,
                _("%(from)s: %(outcome)s %(reason)s")
                % {
                    "from": inbound.from_address,
                    "outcome": result.outcome,
                    "reason": result.reason,
                },
                messages.INFO,
            )
        if not done:
            self.message_user(request, _("No quarantined message was chosen."), messages.WARNING)
