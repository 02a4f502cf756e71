"""The staff search's capped count read from an index alone (H4, issue 9: fast at a
million tickets). PostgreSQL only, as the trigram index (0002).

A common word ("mailbox": 62,500 of a million subjects) matches too many tickets for the
trigram index, whose bitmap must be complete before the first row: the count of at most
1,001 matches (portal.pagination) reads the tickets until it has found them, 16,000 at
provider scale, and computed UPPER(subject) for each (about 6 ms of PostgreSQL per view,
make bench). This index holds the list's order (ticket_updated's) with UPPER(subject)
beside it, and the subject itself so that PostgreSQL takes it for an index-only scan
(it asks for every column a query names): the count then compares the stored text,
reading neither the table nor computing UPPER again (about 1.6 ms). It is not in the
model's Meta: Django cannot declare an INCLUDE column beside an expression, and other
databases search without it."""

from django.db import migrations

from portal.migration_operations import PostgreSQLOnly

INDEX = "ticket_updated_subject"

CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON helpdesk_ticket "
    '("updated_at" DESC, "id" DESC, UPPER("subject"::text)) INCLUDE ("subject")'
)


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0002_subject_trigram_index")]

    operations = [PostgreSQLOnly([CREATE], [f"DROP INDEX IF EXISTS {INDEX}"], elidable=False)]
