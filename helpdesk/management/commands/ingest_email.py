"""Read one RFC 822 message on standard input and hand it to the helpdesk intake (H2).

For a Postfix or Exim pipe, e.g. in Postfix's master.cf:

    helpdesk unix - n n - - pipe
      flags=Rq user=portal argv=/app/.venv/bin/python /app/manage.py ingest_email

Exit status 0 whatever became of the message (a ticket, a reply, quarantined for staff,
or a logged drop), so that the MTA never bounces to a possibly forged sender; 75
(EX_TEMPFAIL) when the database cannot be reached, so that the MTA delivers it again
later. Input beyond the size limit is read and thrown away, never parsed (S20).
"""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from helpdesk import intake

EX_TEMPFAIL = 75
CHUNK = 1024 * 1024


class Command(BaseCommand):
    help = "Read one e-mail message on standard input into the helpdesk."
    # call_command("ingest_email", stdin=BytesIO(raw)) for tests and scripts
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("--source", default="pipe", help="Recorded as where it came from.")

    def handle(self, *args, **options):
        stream = options.get("stdin") or sys.stdin.buffer
        limit = settings.MAX_INBOUND_MAIL_BYTES
        raw = stream.read(limit + 1)
        try:
            if len(raw) > limit:
                size = len(raw)
                while chunk := stream.read(CHUNK):  # drain: the MTA must not see a broken pipe
                    size += len(chunk)
                result = intake.mail_too_large(size, source=options["source"])
            else:
                result = intake.mail_ingest(raw, source=options["source"])
        except intake.TemporaryFailure as exc:
            self.stderr.write(f"temporary failure, deliver again later: {exc}")
            sys.exit(EX_TEMPFAIL)
        ticket = result.ticket.display_number if result.ticket else "-"
        self.stdout.write(f"{result.outcome} {ticket} {result.reason}".strip())
