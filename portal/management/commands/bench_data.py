# ruff: noqa: S608 - the builder composes SQL from its own constants, never from input
"""The provider-scale dataset of ``make bench`` and the signed-in sessions that drive it.

    manage.py bench_data --scale full|small          build (or keep) the dataset
    manage.py bench_data --scale full --check        exit 0 when the dataset is current
    manage.py bench_data --scale full --pages FILE   fresh sessions + the pages to load

Everything is bulk SQL (``INSERT ... SELECT generate_series``) with foreign-key triggers
off while seeding (``session_replication_role = replica``) and ``VACUUM ANALYZE`` after;
the full dataset takes a few minutes on two cores. Rows get fixed ids, so relations are
arithmetic: customer ``c`` owns account ``big_accounts + c``, and so on. Only tables that
exist are filled: each part asks whether its model is installed.

Columns the builder does not name get their model default (a constant, ``now()`` for
``timezone.now``, NULL or ''), so a field added later does not break the build; a new
NOT NULL column without a default stops it with the column's name.

The dataset is reused when ``bench_dataset`` records the same scale and fingerprint (this
file and the migrations on disk); otherwise the caller drops the database and builds anew.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management.base import BaseCommand, CommandError
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from psycopg import sql as pgsql
from psycopg.types.json import Jsonb

FIRST_NUMBER = 100000
FIRST_TICKET_NUMBER = 1_000_000
# Personas (fixed ids in every table they appear in).
AGENCY, MAIN, BIG = 1, 2, 3
U_AGENCY, U_MAIN, U_OWNER, U_MANAGER, U_STAFF = 1, 2, 3, 4, 5
FIRST_PLAIN_USER = 6
THREAD_MESSAGES = 50  # the ticket detail page shows one ticket with this many messages
# A fixed TOTP key for the persona devices (only ever in this throw-away database).
BENCH_TOTP_KEY = "3132333435363738393031323334353637383930"
# What the admin search looks for; it is one of SUBJECT_WORDS, so about 1 in 16 tickets match.
ADMIN_SEARCH = "mailbox"
SUBJECT_WORDS = [
    "SSL certificate",
    "mailbox",
    "DNS change",
    "PHP upgrade",
    "backup restore",
    "invoice question",
    "server reboot",
    "domain transfer",
    "FTP access",
    "database slow",
    "cron job",
    "spam filter",
    "storage quota",
    "website down",
    "redirect",
    "contract change",
]


@dataclass(frozen=True)
class Scale:
    customers: int
    users: int
    accounts: int
    contacts: int
    tickets: int
    messages: int
    agency_grants: int  # live grants held by the agency persona
    agency_dead_grants: int  # revoked/expired grants the agency once held
    other_grants: int  # live grants between other customers
    big_grants: int  # grants the big customer gave (its grant list)
    sub_accounts: int  # sub-accounts of the main-account persona
    big_accounts: int
    big_contacts: int
    big_members: int
    big_tickets: int
    audit_events: int
    big_audit_events: int
    invoices_per_customer: int
    big_invoices: int


SCALES = {
    "full": Scale(
        customers=20_000,
        users=50_000,
        accounts=100_000,
        contacts=200_000,
        tickets=1_000_000,
        messages=3_000_000,
        agency_grants=5_000,
        agency_dead_grants=1_000,
        other_grants=10_000,
        big_grants=300,
        sub_accounts=1_000,
        big_accounts=2_000,
        big_contacts=2_000,
        big_members=1_000,
        big_tickets=50_000,
        audit_events=500_000,
        big_audit_events=50_000,
        invoices_per_customer=12,
        big_invoices=1_200,
    ),
    "small": Scale(
        customers=2_000,
        users=5_000,
        accounts=10_000,
        contacts=20_000,
        tickets=100_000,
        messages=300_000,
        agency_grants=500,
        agency_dead_grants=100,
        other_grants=1_000,
        big_grants=30,
        sub_accounts=100,
        big_accounts=200,
        big_contacts=200,
        big_members=100,
        big_tickets=5_000,
        audit_events=50_000,
        big_audit_events=5_000,
        invoices_per_customer=12,
        big_invoices=120,
    ),
}


def model(label: str):
    """The model if its app has it (feature branches land over time), else None."""
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def fingerprint() -> str:
    """This builder and the migrations on disk: a change to either means a new build."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for key in sorted(loader.disk_migrations):
        digest.update(repr(key).encode())
    return digest.hexdigest()[:16]


# --- SQL helpers --------------------------------------------------------------------


def literal(value) -> str:
    if isinstance(value, dict | list):
        value = Jsonb(value)
    return pgsql.Literal(value).as_string(connection.connection)


def default_sql(field) -> str:
    """SQL for a column the builder does not name: the model default, NULL or ''."""
    table = field.model._meta.db_table
    if field.has_default():
        default = field.default
        if callable(default):
            if default is timezone.now:
                return "now()"
            if field.unique:
                raise CommandError(f"bench_data: {table}.{field.column} needs a unique value")
            if field.get_internal_type() in ("CharField", "TextField"):
                # e.g. a random token seed: random per row, of the field's length.
                length = field.max_length or 32
                return f"substr(md5(random()::text) || md5(random()::text), 1, {length})"
            default = default()
        return literal(field.get_db_prep_save(default, connection))
    if field.null:
        return "NULL"
    if field.empty_strings_allowed and field.get_internal_type() in (
        "CharField",
        "TextField",
        "EmailField",
        "FileField",
        "SlugField",
        "URLField",
        "GenericIPAddressField",
    ):
        return "''"
    raise CommandError(
        f"bench_data: no value for {table}.{field.column} (NOT NULL, no default): "
        "add it to the builder"
    )


def insert(cursor, model_class, values: dict[str, str], source: str) -> int:
    """``INSERT INTO <table> SELECT <values> FROM <source>``; unnamed columns get defaults."""
    meta = model_class._meta
    columns, exprs, used = [], [], set()
    for field in meta.concrete_fields:
        if getattr(field, "generated", False):
            continue
        key = field.name if field.name in values else field.attname
        if key in values:
            expr = values[key]
            used.add(key)
        elif field.primary_key:
            continue
        else:
            expr = default_sql(field)
        columns.append(connection.ops.quote_name(field.column))
        exprs.append(f"{expr}")
    unknown = set(values) - used
    if unknown:
        raise CommandError(f"bench_data: {meta.db_table} has no field(s) {sorted(unknown)}")
    cursor.execute(
        f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(exprs)} FROM {source}"
    )
    return cursor.rowcount


def insert_m2m(cursor, field, left: str, right: str, source: str) -> int:
    through = field.remote_field.through._meta
    from_col = field.m2m_column_name()
    to_col = field.m2m_reverse_name()
    cursor.execute(
        f"INSERT INTO {connection.ops.quote_name(through.db_table)} "
        f"({from_col}, {to_col}) SELECT {left}, {right} FROM {source}"
    )
    return cursor.rowcount


@contextmanager
def indexes_deferred(cursor, model_class):
    """Drop the table's plain indexes (not those behind primary keys and unique
    constraints) for a bulk insert and build them afterwards: much faster than keeping
    a million-row table's six indexes, a trigram one among them, up to date row by row."""
    table = model_class._meta.db_table
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s "
        "AND i.indexname NOT IN (SELECT conname FROM pg_constraint "
        "WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    yield
    for _name, definition in indexes:
        cursor.execute(definition)


def series(n: int, start: int = 1) -> str:
    return f"generate_series({start}::bigint, {start + n - 1}::bigint) AS g"


# --- the dataset ------------------------------------------------------------------------


class Builder:
    def __init__(self, scale: Scale, out):
        self.s = scale
        self.out = out
        self.first_sub = BIG + 1
        self.first_plain = self.first_sub + scale.sub_accounts  # first ordinary customer
        self.first_round_user = FIRST_PLAIN_USER + scale.big_members

    # Arithmetic relations (SQL expressions over the series variable g or a column).
    def account_of(self, customer_sql: str) -> str:
        """The first hosting account of a customer."""
        return f"({self.s.big_accounts} + {customer_sql})"

    def owner_of(self, customer_sql: str) -> str:
        """The owner user of an ordinary customer (its first round-robin user)."""
        return f"({self.first_round_user} + {customer_sql} - 1)"

    def step(self, label: str, fn, defer=None) -> None:
        started = time.monotonic()
        with connection.cursor() as cursor:
            if defer is None:
                rows = fn(cursor)
            else:
                with indexes_deferred(cursor, defer):
                    rows = fn(cursor)
        self.out(f"  {label:<34} {rows or 0:>10,} rows  {time.monotonic() - started:6.1f} s")

    def build(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = replica")
            cursor.execute("SET maintenance_work_mem = '256MB'")
            cursor.execute("SET synchronous_commit = off")
        self.step("customers", self.customers)
        self.step("guardian groups", self.groups)
        self.step("users", self.users)
        self.step("memberships", self.memberships)
        self.step("hosting accounts", self.accounts)
        if model("contacts.Contact"):
            self.step("contacts", self.contacts, defer=model("contacts.Contact"))
        self.step("grants", self.grants)
        self.step("grant accounts + guardian rows", self.grant_accounts)
        if model("delegation.DelegatedAccount"):
            self.step("delegated accounts", self.delegated_accounts)
        if model("delegation.GrantEvent"):
            self.step("grant events", self.grant_events)
        self.step("audit events", self.audit_events, defer=model("accounts.AuditEvent"))
        if model("accounts.Invitation"):
            self.step("invitations", self.invitations)
        if model("billing.Contract"):
            self.step("contracts", self.contracts)
        if model("billing.Invoice"):
            self.step("invoices", self.invoices, defer=model("billing.Invoice"))
        if model("billing.InvoiceLine"):
            self.step("invoice lines", self.invoice_lines, defer=model("billing.InvoiceLine"))
        if model("helpdesk.Ticket"):
            self.step("tickets", self.tickets, defer=model("helpdesk.Ticket"))
        if model("helpdesk.Message"):
            self.step("ticket messages", self.messages, defer=model("helpdesk.Message"))
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
            for statement in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
                cursor.execute(statement)
        self.step("two-factor devices", self.devices)

    # --- tenants and people ---------------------------------------------------------

    def customers(self, cursor):
        from accounts.models import Customer, NumberSequence

        s = self.s
        name = (
            f"CASE WHEN g = {AGENCY} THEN 'Bench Agentur GmbH' "
            f"WHEN g = {MAIN} THEN 'Bench Holding AG' "
            f"WHEN g = {BIG} THEN 'Bench Großkunde GmbH' "
            f"WHEN g < {self.first_plain} THEN 'Holding Tochter ' || g "
            "ELSE 'Kunde ' || g || ' GmbH' END"
        )
        rows = insert(
            cursor,
            Customer,
            {
                "id": "g",
                "number": f"{FIRST_NUMBER} + g",
                "name": name,
                "email": "'office' || g || '@customer.example'",
                "parent": f"CASE WHEN g >= {self.first_sub} AND g < {self.first_plain} "
                f"THEN {MAIN} END",
                "requires_two_factor": f"g = {BIG}",
                "created_at": "now() - g * interval '10 minutes'",
            },
            series(s.customers),
        )
        insert(
            cursor,
            NumberSequence,
            {"name": "'customer'", "last_value": str(FIRST_NUMBER + s.customers)},
            "(SELECT 1) AS one",
        )
        return rows

    def groups(self, cursor):
        from django.contrib.auth.models import Group

        from accounts.models import CustomerGroup

        insert(
            cursor,
            Group,
            {"id": "g", "name": f"'customer-' || ({FIRST_NUMBER} + g)"},
            series(self.s.customers),
        )
        return insert(
            cursor,
            CustomerGroup,
            {"id": "g", "customer": "g", "group": "g"},
            series(self.s.customers),
        )

    def users(self, cursor):
        from accounts.models import User

        email = (
            f"CASE WHEN g = {U_AGENCY} THEN 'agency@bench.example' "
            f"WHEN g = {U_MAIN} THEN 'main@bench.example' "
            f"WHEN g = {U_OWNER} THEN 'owner@big.bench.example' "
            f"WHEN g = {U_MANAGER} THEN 'manager@big.bench.example' "
            f"WHEN g = {U_STAFF} THEN 'staff@bench.example' "
            "ELSE 'user' || g || '@people.example' END"
        )
        return insert(
            cursor,
            User,
            {
                "id": "g",
                "email": email,
                "password": "'!bench-unusable'",
                "first_name": "'Person'",
                "last_name": "'Nr. ' || g",
                "status": "CASE WHEN g % 50 = 49 THEN 'inactive' ELSE 'active' END",
                "is_staff": f"g = {U_STAFF}",
                "is_superuser": "false",
                "language": "'en'",
                "date_joined": "now() - g * interval '7 minutes'",
                "last_activity": "now() - g * interval '3 minutes'",
            },
            series(self.s.users),
        )

    def memberships(self, cursor):
        from accounts.models import Membership

        s = self.s
        flags = {f: "false" for f in Membership.PERMISSION_FIELDS}

        def person(user_sql: str) -> dict[str, str]:
            """The user's names for the list order's copies, which the database's triggers
            keep but do not fill while seeding (session_replication_role = replica)."""
            return {
                f"sort_{column}": f"(SELECT {column} FROM accounts_user WHERE id = {user_sql})"
                for column in ("last_name", "first_name", "email")
            }

        personas = (
            f"(VALUES ({U_AGENCY}, {AGENCY}, true, false), ({U_MAIN}, {MAIN}, true, false), "
            f"({U_OWNER}, {BIG}, true, false), ({U_MANAGER}, {BIG}, false, true)) "
            "AS p(u, c, owner, manager)"
        )
        rows = insert(
            cursor,
            Membership,
            {
                "user": "u",
                **person("u"),
                "customer": "c",
                "is_owner": "owner",
                **flags,
                "can_view_products": "true",
                "can_open_tickets": "true",
                "can_see_all_tickets": "manager",
                "can_view_invoices": "manager",
                "created_at": "now() - interval '300 days'",
            },
            personas,
        )
        # The big customer's staff: members with a mix of permissions.
        rows += insert(
            cursor,
            Membership,
            {
                "user": "g",
                **person("g"),
                "customer": str(BIG),
                "is_owner": "false",
                **flags,
                "can_view_products": "true",
                "can_change_dns": "g % 3 = 0",
                "can_view_invoices": "g % 5 = 0",
                "can_open_tickets": "true",
                "can_manage_contacts": "g % 7 = 0",
                "restricted_to_accounts": "false",
                "created_at": "now() - g * interval '1 hour'",
            },
            series(s.big_members, FIRST_PLAIN_USER),
        )
        # Everyone else round-robin over the customers; the first of each is its owner.
        first = self.first_round_user
        rows += insert(
            cursor,
            Membership,
            {
                "user": "g",
                **person("g"),
                "customer": f"((g - {first}) % {s.customers}) + 1",
                "is_owner": f"g - {first} < {s.customers}",
                **flags,
                "can_view_products": "true",
                "can_change_dns": "g % 2 = 0",
                "can_view_invoices": "g % 3 = 0",
                "can_open_tickets": "true",
                "created_at": "now() - g * interval '1 hour'",
            },
            series(s.users - first + 1, first),
        )
        return rows

    def accounts(self, cursor):
        from accounts.models import HostingAccount

        s = self.s
        kind = "(ARRAY['domain','package','server'])[g % 3 + 1]"
        return insert(
            cursor,
            HostingAccount,
            {
                "id": "g",
                "customer": f"CASE WHEN g <= {s.big_accounts} THEN {BIG} "
                f"ELSE ((g - {s.big_accounts} - 1) % {s.customers}) + 1 END",
                "kind": kind,
                "name": "CASE g % 3 WHEN 0 THEN 'site' || g || '.example' "
                "WHEN 1 THEN 'P-' || (200000 + g) "
                "ELSE 'de-' || lpad(((g / 10000) % 100)::text, 2, '0') || '-srv-' "
                "|| lpad((g % 10000)::text, 4, '0') END",
                "status": "CASE WHEN g % 20 = 0 THEN 'cancelled' WHEN g % 31 = 0 "
                "THEN 'suspended' ELSE 'active' END",
                "description": "''",
                "php_version": "CASE WHEN g % 3 = 1 THEN '8.3' ELSE '' END",
                "storage_gb": "CASE WHEN g % 3 = 1 THEN 10 + g % 90 END",
                "ipv4": "CASE WHEN g % 3 = 2 THEN ('10.' || (g / 65536) % 256 || '.' || "
                "(g / 256) % 256 || '.' || g % 256)::inet END",
                "created_at": "now() - g * interval '5 minutes'",
            },
            series(s.accounts),
        )

    def contacts(self, cursor):
        Contact = model("contacts.Contact")
        s = self.s
        customer = (
            f"CASE WHEN g <= {s.big_contacts} THEN {BIG} "
            f"ELSE ((g - {s.big_contacts} - 1) % {s.customers}) + 1 END"
        )
        # The first contact of each customer in the round robin is its primary one.
        primary = f"g > {s.big_contacts} AND g <= {s.big_contacts + s.customers}"
        return insert(
            cursor,
            Contact,
            {
                "id": "g",
                "customer": customer,
                "name": "(ARRAY['Anna','Jonas','Petra','Lukas','Eva','Tamás','Zsófia','Max'])"
                "[g % 8 + 1] || ' Kontakt ' || g",
                "email": "CASE WHEN g % 10 = 9 THEN '' ELSE 'contact' || g || '@people.example' "
                "END",
                "email_confirmed_at": "CASE WHEN g % 10 = 9 THEN NULL ELSE now() END",
                "pending_email": "CASE WHEN g % 10 = 9 THEN 'new' || g || '@people.example' "
                "ELSE '' END",
                "pending_requested_at": "CASE WHEN g % 10 = 9 THEN now() END",
                "phone": "'+49 30 ' || (1000000 + g)",
                "phone_digits": "'4930' || (1000000 + g)",
                "language": "'en'",
                "is_standard": f"({primary}) OR g % 4 = 0",
                "is_accounting": "g % 4 = 1",
                "is_technical": "g % 4 = 2",
                "is_domain": f"g % 4 = 3 AND NOT ({primary})",
                "is_monitoring": "g % 9 = 0",
                "is_owner": "false",
                "is_signatory": "false",
                "is_authorised": f"({primary}) OR g % 11 = 0 AND g % 4 <> 3",
                "is_primary": primary,
                "invoice_by_mail": "false",
                "archived_at": f"CASE WHEN g % 25 = 24 AND NOT ({primary}) THEN now() END",
                "created_at": "now() - g * interval '2 minutes'",
                "updated_at": "now() - g * interval '1 minute'",
            },
            series(s.contacts),
        )

    # --- delegation --------------------------------------------------------------------

    def grant_layout(self):
        """Ranges of grant ids: the agency's live ones, its dead ones, the big customer's
        own, then other customers' (grantor and agency per row, as SQL over g)."""
        s = self.s
        live_end = s.agency_grants
        dead_end = live_end + s.agency_dead_grants
        big_end = dead_end + s.big_grants
        other_end = big_end + s.other_grants
        return live_end, dead_end, big_end, other_end

    def grants(self, cursor):
        from delegation.models import Grant

        s = self.s
        live_end, dead_end, big_end, other_end = self.grant_layout()
        plain = s.customers - self.first_plain + 1  # ordinary customers
        fp = self.first_plain
        # Grantor: ordinary customers in turn; agency: the persona, then ordinary ones.
        grantor = (
            f"CASE WHEN g > {dead_end} AND g <= {big_end} THEN {BIG} "
            f"ELSE {fp} + (g - 1) % {plain} END"
        )
        # Another ordinary customer 1 to 50 places on: never the grantor itself.
        agency = (
            f"CASE WHEN g <= {dead_end} THEN {AGENCY} "
            f"ELSE {fp} + ((g - 1) + 1 + g % 50) % {plain} END"
        )
        state = (
            f"CASE WHEN g > {live_end} AND g <= {dead_end} "
            "THEN (ARRAY['revoked','expired','handed_back'])[g % 3 + 1] "
            f"WHEN g > {dead_end} AND g <= {big_end} AND g % 10 = 0 THEN 'pending' "
            "ELSE 'active' END"
        )
        values = {
            "id": "g",
            "grantor": grantor,
            "agency": agency,
            "state": state,
            "created_by": f"CASE WHEN g > {dead_end} AND g <= {big_end} THEN {U_OWNER} END",
            "created_at": "now() - interval '400 days' + g * interval '1 minute'",
            "approved_at": "now() - interval '390 days' + g * interval '1 minute'",
            "ends_at": f"CASE WHEN g > {live_end} AND g <= {dead_end} "
            "THEN now() - interval '3 days' WHEN g % 3 = 0 THEN NULL "
            "ELSE now() + (1 + g % 300) * interval '1 day' END",
            "ended_at": f"CASE WHEN g > {live_end} AND g <= {dead_end} "
            "THEN now() - interval '3 days' END",
        }
        return insert(cursor, Grant, values, series(other_end))

    def grant_accounts(self, cursor):
        from django.contrib.auth.models import Permission
        from django.contrib.contenttypes.models import ContentType
        from guardian.models import GroupObjectPermission

        from accounts.models import HostingAccount
        from delegation.models import Grant

        _live_end, dead_end, big_end, _other_end = self.grant_layout()
        # Each grant delegates its grantor's first account; the big customer's grants
        # each delegate one of its accounts.
        account = (
            f"CASE WHEN g.id > {dead_end} AND g.id <= {big_end} "
            f"THEN 1 + (g.id - {dead_end}) % {self.s.big_accounts} "
            f"ELSE {self.account_of('g.grantor_id')} END"
        )
        rows = insert_m2m(
            cursor,
            Grant._meta.get_field("accounts"),
            "g.id",
            account,
            f"{connection.ops.quote_name(Grant._meta.db_table)} AS g",
        )
        ct = ContentType.objects.get_for_model(HostingAccount)
        perm = Permission.objects.get(content_type=ct, codename="manage_hostingaccount")
        live = "g.state = 'active' AND (g.ends_at IS NULL OR g.ends_at > now())"
        field = Grant._meta.get_field("accounts")
        through = field.remote_field.through._meta.db_table
        # What approving does (tests/helpers.py activate_grant): the agency's guardian
        # group gets the manage permission on each account of a live grant.
        rows += insert(
            cursor,
            GroupObjectPermission,
            {
                "object_pk": "x.account_id::text",
                "content_type": str(ct.pk),
                "group": "x.agency_id",  # group id = customer id (see groups)
                "permission": str(perm.pk),
            },
            f"(SELECT DISTINCT g.agency_id, ga.{field.m2m_reverse_name()} FROM "
            f"{Grant._meta.db_table} g JOIN {through} ga ON ga.{field.m2m_column_name()} = g.id "
            f"WHERE {live}) AS x(agency_id, account_id)",
        )
        return rows

    def delegated_accounts(self, cursor):
        """The agency dashboard's list (delegation migration 0004), which the database's
        triggers keep but do not fill while seeding (session_replication_role = replica).
        The tables it reads are analysed first: planned without statistics the fill took
        96 s instead of 0.3 s."""
        cursor.execute(
            "ANALYZE delegation_grant, delegation_grant_accounts, accounts_hostingaccount, "
            "accounts_customer, accounts_customergroup, guardian_groupobjectpermission"
        )
        cursor.execute("SELECT delegation_delegated_fill()")
        return cursor.fetchone()[0]

    def grant_events(self, cursor):
        GrantEvent = model("delegation.GrantEvent")
        Grant = model("delegation.Grant")
        # The history the grant pages show (D7): made by the grantor, approved by the
        # agency (not for pending ones), and the end of the dead ones.
        events = (
            "(VALUES ('made', 'grantor', 0), ('approved', 'agency', 1), "
            "('revoked', 'grantor', 2)) AS k(kind, side, n)"
        )
        return insert(
            cursor,
            GrantEvent,
            {
                "grant": "g.id",
                "kind": "k.kind",
                "side": "k.side",
                "actor": "CASE WHEN k.side = 'grantor' THEN g.created_by_id END",
                "at": "g.created_at + k.n * interval '1 hour'",
                "note": "''",
            },
            f"{Grant._meta.db_table} AS g JOIN {events} ON k.n = 0 "
            "OR (k.n = 1 AND g.state <> 'pending') OR (k.n = 2 AND g.state = 'revoked')",
        )

    # --- activity -------------------------------------------------------------------------

    def audit_events(self, cursor):
        from accounts.models import AuditEvent

        s = self.s
        return insert(
            cursor,
            AuditEvent,
            {
                "at": "now() - g * interval '37 seconds'",
                "actor": f"CASE WHEN g <= {s.big_audit_events} "
                f"THEN {FIRST_PLAIN_USER} + g % {s.big_members} "
                f"ELSE {self.owner_of(f'((g - 1) % {s.customers}) + 1')} END",
                "customer": f"CASE WHEN g <= {s.big_audit_events} THEN {BIG} "
                f"ELSE ((g - 1) % {s.customers}) + 1 END",
                "action": "(ARRAY['login','contact.created','contact.changed',"
                "'member.changed','dns.changed','ticket.opened'])[g % 6 + 1]",
                "summary": "'bench event ' || g",
                "ip": "('192.0.2.' || g % 250 + 1)::inet",
                "request_id": "md5(g::text)",
                "data": "'{}'::jsonb",
            },
            series(s.audit_events),
        )

    def invitations(self, cursor):
        Invitation = model("accounts.Invitation")
        s = self.s
        # The big customer's 2 a day over the last months; one for every tenth customer.
        big = s.big_members // 5
        customer = f"CASE WHEN g <= {big} THEN {BIG} ELSE (g - {big}) * 10 END"
        flags = {f: "g % 3 = 0" for f in Invitation.PERMISSION_FIELDS if f != "can_view_products"}
        state = "(ARRAY['pending','accepted','cancelled','expired'])[g % 4 + 1]"
        return insert(
            cursor,
            Invitation,
            {
                "customer": customer,
                "email": "'invitee' || g || '@people.example'",
                "state": state,
                "token_hash": "md5('invitation' || g) || md5('token' || g)",
                "invited_by": f"CASE WHEN g <= {big} THEN {U_OWNER} END",
                "created_at": "now() - g * interval '12 hours'",
                "sent_at": "now() - g * interval '12 hours'",
                "expires_at": "now() - g * interval '12 hours' + interval '7 days'",
                "is_owner": "false",
                **flags,
                "can_view_products": "true",
            },
            series(big + s.customers // 10),
        )

    def contracts(self, cursor):
        Contract = model("billing.Contract")
        # One contract per hosting account.
        return insert(
            cursor,
            Contract,
            {
                "id": "ha.id",
                "customer": "ha.customer_id",
                "number": "'V-' || (500000 + ha.id)",
                "product": "CASE ha.kind WHEN 'domain' THEN 'Domain .example' "
                "WHEN 'package' THEN 'Webhosting Business' ELSE 'Managed Server L' END",
                "hosting_account": "ha.id",
                "starts_on": "(now() - ha.id * interval '2 hours')::date",
                "price": "CASE ha.kind WHEN 'domain' THEN 1.50 WHEN 'package' THEN 9.90 "
                "ELSE 79.00 END",
                "period": "'monthly'",
            },
            f"{model('accounts.HostingAccount')._meta.db_table} AS ha",
        )

    def invoice_count(self) -> int:
        return self.s.customers * self.s.invoices_per_customer + self.s.big_invoices

    def invoices(self, cursor):
        Invoice = model("billing.Invoice")
        s = self.s
        per = s.invoices_per_customer
        # The big customer's monthly invoices go back a century of months; everyone
        # else has a year of them.
        customer = (
            f"CASE WHEN g <= {s.big_invoices} THEN {BIG} ELSE ((g - {s.big_invoices} - 1) "
            f"/ {per}) + 1 END"
        )
        month = f"CASE WHEN g <= {s.big_invoices} THEN g ELSE (g - {s.big_invoices}) % {per} END"
        issued = f"(date_trunc('month', now()) - ({month}) * interval '1 month')::date"
        return insert(
            cursor,
            Invoice,
            {
                "id": "g",
                "customer": customer,
                "number": "'R-' || (7000000 + g)",
                "issued_on": issued,
                "due_on": f"{issued} + 14",
                "period_start": issued,
                "period_end": f"({issued} + interval '1 month' - interval '1 day')::date",
                "total": "19.80 + g % 100",
                "state": "CASE WHEN g % 13 = 0 THEN 'open' ELSE 'paid' END",
                "paid_on": f"CASE WHEN g % 13 = 0 THEN NULL ELSE {issued} + 7 END",
                "is_collective": "false",
            },
            series(self.invoice_count()),
        )

    def invoice_lines(self, cursor):
        InvoiceLine = model("billing.InvoiceLine")
        Invoice = model("billing.Invoice")
        return insert(
            cursor,
            InvoiceLine,
            {
                "invoice": "i.id",
                "customer": "i.customer_id",
                "description": "'Position ' || n || ' of ' || i.number",
                "quantity": "1",
                "unit_price": "9.90",
                "amount": "9.90",
            },
            f"{Invoice._meta.db_table} AS i, generate_series(1, 2) AS n",
        )

    def tickets(self, cursor):
        Ticket = model("helpdesk.Ticket")
        s = self.s
        words = "(ARRAY[" + ", ".join(literal(w) for w in SUBJECT_WORDS) + "])"
        big = f"g <= {s.big_tickets}"
        customer = (
            f"CASE WHEN {big} THEN {BIG} ELSE ((g - {s.big_tickets} - 1) % {s.customers}) + 1 END"
        )
        requester = (
            f"CASE WHEN {big} THEN {FIRST_PLAIN_USER} + g % {s.big_members} "
            f"ELSE {self.owner_of(f'((g - {s.big_tickets} - 1) % {s.customers}) + 1')} END"
        )
        values = {
            "id": "g",
            "number": f"{FIRST_TICKET_NUMBER} + g",
            "customer": customer,
            "account": f"CASE WHEN {big} THEN 1 + g % {s.big_accounts} WHEN g % 3 = 0 THEN NULL "
            f"ELSE {self.account_of(f'((g - {s.big_tickets} - 1) % {s.customers}) + 1')} END",
            "requester": requester,
            "requester_email": f"'user' || ({requester}) || '@people.example'",
            "subject": f"{words}[(g * 7) % {len(SUBJECT_WORDS)} + 1] || ' on site' || g",
            "status": "(ARRAY['closed','closed','open','waiting','new'])[g % 5 + 1]",
            "source": "CASE WHEN g % 2 = 0 THEN 'web' ELSE 'mail' END",
            "assignee": f"CASE WHEN g % 5 IN (2, 3) THEN {U_STAFF} END",
            "created_at": "now() - g * interval '31 seconds' - interval '2 days'",
            "updated_at": "now() - g * interval '31 seconds'",
            "closed_at": "CASE WHEN g % 5 < 2 THEN now() - g * interval '31 seconds' END",
        }
        if "token_seed" in {f.name for f in Ticket._meta.concrete_fields}:
            values["token_seed"] = "substr(md5(g::text), 1, 22)"  # noqa: S105
        return insert(cursor, Ticket, values, series(s.tickets))

    def messages(self, cursor):
        Message = model("helpdesk.Message")
        s = self.s
        thread = THREAD_MESSAGES
        ticket = (
            f"CASE WHEN g <= {thread} THEN 1 ELSE ((g - {thread} - 1) % ({s.tickets} - 1)) + 2 END"
        )
        kind = "CASE WHEN g % 7 = 6 THEN 'note' WHEN g % 2 = 0 THEN 'staff' ELSE 'customer' END"
        values = {
            "ticket": ticket,
            "kind": kind,
            "author": f"CASE WHEN g % 2 = 0 OR g % 7 = 6 THEN {U_STAFF} "
            f"ELSE {FIRST_PLAIN_USER} + g % {s.big_members} END",
            "author_email": "''",
            "body": "'Hello,\n\nthis is message ' || g || ' of the bench conversation. "
            "It is about as long as a short support mail: a question, a few details '"
            " || 'and a greeting.\n\nRegards'",
            "source": "CASE WHEN g % 2 = 0 THEN 'staff' ELSE 'web' END",
            "message_id": "''",
            "created_at": f"CASE WHEN g <= {thread} THEN now() - ({thread} - g) * interval '1 hour' "
            "ELSE now() - g * interval '11 seconds' END",
        }
        return insert(cursor, Message, values, series(s.messages))

    def devices(self, cursor):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        for user_id in (U_OWNER, U_MANAGER, U_STAFF):
            TOTPDevice.objects.create(
                user_id=user_id, name="Bench app", confirmed=True, key=BENCH_TOTP_KEY
            )
        # The staff persona works the helpdesk through a group with its permissions.
        from django.contrib.auth.models import Group, Permission

        group = Group.objects.create(name="bench-support")
        group.permissions.set(
            Permission.objects.filter(content_type__app_label__in=["helpdesk", "accounts"])
        )
        group.user_set.add(U_STAFF)
        return 3


# --- sessions and pages ---------------------------------------------------------------


def sign_in(user_id: int, with_device: bool) -> str:
    """A session as accounts.services.complete_login leaves it: the auth keys, the OTP
    device, ``portal_login_at`` and the UserSession row. Returns the session key."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User, UserSession
    from accounts.services import LOGIN_AT
    from portal.sessions import MODEL_BACKEND, SessionStore

    user = User.objects.get(pk=user_id)
    session = SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = MODEL_BACKEND
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    if with_device:
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[LOGIN_AT] = time.time()
    session.create()
    UserSession.objects.create(
        user=user, session_key=session.session_key, ip="127.0.0.1", user_agent="wrk"
    )
    return session.session_key


def page_list(scale: Scale) -> list[dict]:
    """The key pages: name, URL name + arguments, persona. A page whose URL does not
    exist yet (its branch has not landed) is reported as missing."""
    big = FIRST_NUMBER + BIG
    agency = FIRST_NUMBER + AGENCY
    main = FIRST_NUMBER + MAIN
    return [
        {"name": "bare (/healthz)", "key": "bare", "url": ("health", {}), "user": None},
        {
            "name": "dashboard",
            "key": "dashboard",
            "url": ("portal:dashboard", {"customer": big}),
            "user": U_OWNER,
        },
        {
            "name": "agency dashboard",
            "key": "agency_dashboard",
            "url": ("portal:dashboard", {"customer": agency}),
            "user": U_AGENCY,
        },
        {
            "name": "sub-account overview",
            "key": "sub_accounts",
            "url": ("accounts:sub_account_list", {"customer": main}),
            "user": U_MAIN,
        },
        {
            "name": "contacts list",
            "key": "contacts",
            "url": ("contacts:contact_list", {"customer": big}),
            "user": U_OWNER,
        },
        {
            "name": "members list",
            "key": "members",
            "url": ("accounts:member_list", {"customer": big}),
            "user": U_OWNER,
        },
        {
            "name": "grants list",
            "key": "grants",
            "url": ("delegation:grant_list", {"customer": big}),
            "user": U_OWNER,
        },
        {
            "name": "delegated to us (agency)",
            "key": "requests",
            "url": ("delegation:request_list", {"customer": agency}),
            "user": U_AGENCY,
        },
        {
            "name": "access overview",
            "key": "access_overview",
            "url": ("accounts:access_overview", {"customer": big}),
            "user": U_OWNER,
        },
        {
            "name": "ticket list (manager)",
            "key": "tickets",
            "url": ("helpdesk:ticket_list", {"customer": big}),
            "user": U_MANAGER,
        },
        {
            "name": f"ticket detail ({THREAD_MESSAGES} messages)",
            "key": "ticket_detail",
            "url": ("helpdesk:ticket_detail", {"customer": big, "ticket": 1}),
            "user": U_MANAGER,
        },
        {
            "name": "invoice list",
            "key": "invoices",
            "url": ("accounts:invoice_list", {"customer": big}),
            "user": U_OWNER,
        },
        {
            "name": "activity (audit log)",
            "key": "audit_log",
            "url": ("accounts:audit_log", {"customer": big}),
            "user": U_OWNER,
        },
        {
            "name": f"admin tickets, search '{ADMIN_SEARCH}'",
            "key": "admin_tickets",
            "url": ("admin:helpdesk_ticket_changelist", {}),
            "query": f"?q={ADMIN_SEARCH}",
            "user": U_STAFF,
        },
    ]


def resolve_pages(scale: Scale) -> dict:
    """Fresh sessions for the personas and the resolved pages."""
    from accounts.models import Customer

    two_factor = {U_OWNER, U_MANAGER, U_STAFF}
    cookies: dict[int, str] = {}
    found, missing = [], []
    for page in page_list(scale):
        url_name, kwargs = page["url"]
        try:
            url = reverse(url_name, kwargs=kwargs) + page.get("query", "")
        except NoReverseMatch:
            missing.append(page["name"])
            continue
        user = page["user"]
        cookie = ""
        if user is not None:
            if user not in cookies:
                cookies[user] = sign_in(user, user in two_factor)
            cookie = f"{settings.SESSION_COOKIE_NAME}={cookies[user]}"
        found.append({"name": page["name"], "key": page["key"], "url": url, "cookie": cookie})
    if not Customer.objects.filter(number=FIRST_NUMBER + BIG).exists():
        raise CommandError("bench_data: no bench dataset in this database")
    return {"pages": found, "missing": missing}


# --- the command --------------------------------------------------------------------------


def ensure_meta_table(cursor) -> None:
    cursor.execute(
        "CREATE TABLE IF NOT EXISTS bench_dataset (scale text, fingerprint text, "
        "built_at timestamptz, seconds real, counts jsonb)"
    )


def current(scale_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_dataset') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT scale, fingerprint FROM bench_dataset")
        row = cursor.fetchone()
    return row == (scale_name, fingerprint())


class Command(BaseCommand):
    help = "Build the provider-scale bench dataset, or sign the bench personas in."

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(SCALES), default="full")
        parser.add_argument("--check", action="store_true", help="exit 0 if current, else 3")
        parser.add_argument("--pages", help="write fresh sessions and the pages to this file")

    def handle(self, *args, scale, check, pages: str | None, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_data needs PostgreSQL (DATABASE_URL)")
        if check:
            raise SystemExit(0 if current(scale) else 3)
        if pages:
            data = resolve_pages(SCALES[scale])
            data["scale"] = scale
            data["scale_numbers"] = asdict(SCALES[scale])
            Path(pages).write_text(json.dumps(data, indent=2))
            return
        if current(scale):
            self.stdout.write(f"bench data: the {scale} dataset is current, kept")
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_customer")
            if cursor.fetchone()[0]:
                raise CommandError("bench_data: the database is not empty; drop it first")
        started = time.monotonic()
        self.stdout.write(f"bench data: building the {scale} dataset")
        with transaction.atomic():
            Builder(SCALES[scale], self.stdout.write).build()
        self.stdout.write("  VACUUM ANALYZE ...")
        vacuum_started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        self.stdout.write(f"  VACUUM ANALYZE {time.monotonic() - vacuum_started:.1f} s")
        seconds = time.monotonic() - started
        with connection.cursor() as cursor:
            ensure_meta_table(cursor)
            cursor.execute(
                "INSERT INTO bench_dataset VALUES (%s, %s, now(), %s, %s)",
                [scale, fingerprint(), seconds, json.dumps(asdict(SCALES[scale]))],
            )
        self.stdout.write(f"bench data: built in {seconds:.0f} s")
