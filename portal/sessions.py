"""Sessions in the database (S5, S26), read together with their ``UserSession`` row.

Every signed-in request reads the session and then, in ``SessionGuardMiddleware``, the
``UserSession`` row that says the session was not ended elsewhere (S5, S15). Both are
looked up by the session key, so the store reads the row's id, user and last activity in
the same query as the session: one round trip less on every signed-in page (make bench).
The guard still decides on what the database holds at this request; nothing is cached
across requests.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.contrib.sessions.backends import db
from django.core.exceptions import SuspiciousOperation
from django.db.models import OuterRef, Subquery
from django.utils import timezone


@dataclass(frozen=True)
class GuardRow:
    """The session's ``UserSession`` row as read with the session."""

    pk: int
    user_id: int
    last_seen: datetime


class SessionStore(db.SessionStore):
    # What _get_session_from_db found for the session key it loaded: the key, and the row
    # or None when there is none. None before the session was read.
    _guard: tuple[str, GuardRow | None] | None = None

    def _get_session_from_db(self):
        from accounts.models import UserSession

        row = UserSession.objects.filter(session_key=OuterRef("session_key"))
        key = self.session_key
        try:
            session = self.model.objects.annotate(
                guard_pk=Subquery(row.values("pk")[:1]),
                guard_user_id=Subquery(row.values("user_id")[:1]),
                guard_last_seen=Subquery(row.values("last_seen")[:1]),
            ).get(session_key=key, expire_date__gt=timezone.now())
        except (self.model.DoesNotExist, SuspiciousOperation) as e:
            # As Django's store does.
            if isinstance(e, SuspiciousOperation):
                logger = logging.getLogger(f"django.security.{e.__class__.__name__}")
                logger.warning(str(e))
            self._session_key = None
            self._guard = None
            return None
        guard = None
        if session.guard_pk is not None:
            guard = GuardRow(session.guard_pk, session.guard_user_id, session.guard_last_seen)
        self._guard = (key, guard)
        return session

    def guard_row(self) -> tuple[bool, GuardRow | None]:
        """(known, row): whether this request read the current session's ``UserSession``
        row with the session, and the row (None: there is none). Not known after the key
        changed (sign-in, the two-factor step) or when the session was not read."""
        if self._guard is None or self._guard[0] != self.session_key:
            return False, None
        return True, self._guard[1]
