"""All outgoing mail of the portal goes through this module.

A message is composed from text (and optional HTML) templates in the recipient's
language, stored in the outbox, and sent by a Celery task enqueued on commit. If the
broker is down the row stays queued and the periodic ``flush_outbox`` job sends it
later (S26). Every message carries ``Auto-Submitted`` (S21) and our own Message-ID.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from portal.models import OutgoingMail

log = logging.getLogger(__name__)
_CRLF = re.compile(r"[\r\n]+")
MAX_ATTEMPTS = 8


def clean_header(value: str) -> str:
    """Header text with CR/LF folded to spaces, so nothing can inject a header (S23)."""
    return _CRLF.sub(" ", value or "").strip()


def mail_domain() -> str:
    address = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">")
    return address.rsplit("@", 1)[-1] or "localhost"


def new_message_id() -> str:
    return make_msgid(domain=mail_domain())


def queue(
    *,
    kind: str,
    to: Iterable[str],
    template: str,
    context: dict,
    language: str | None = None,
    cc: Iterable[str] = (),
    headers: dict | None = None,
    automatic: bool = True,
) -> OutgoingMail | None:
    """Compose a message from ``<template>_subject.txt``, ``<template>.txt`` (and
    ``<template>.html`` if present) and enqueue it to be sent after the transaction commits."""
    recipients = sorted({a.strip().lower() for a in to if a and a.strip()})
    if not recipients:
        return None
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = clean_header(render_to_string(f"{template}_subject.txt", context))
        body = render_to_string(f"{template}.txt", context)
        try:
            html = render_to_string(f"{template}.html", context)
        except Exception:  # noqa: BLE001 - the HTML part is optional
            html = ""
    all_headers = {"Message-ID": new_message_id()}
    if automatic:
        all_headers["Auto-Submitted"] = "auto-generated"
    all_headers.update({k: clean_header(v) for k, v in (headers or {}).items()})
    mail = OutgoingMail.objects.create(
        kind=kind,
        to=recipients,
        cc=sorted({a.strip().lower() for a in cc if a} - set(recipients)),
        subject=subject,
        body=body,
        html=html,
        headers=all_headers,
    )
    transaction.on_commit(lambda: _enqueue(mail.pk))
    return mail


def _enqueue(mail_id: int) -> None:
    from portal.tasks import send_mail

    try:
        send_mail.delay(mail_id)
    except Exception:  # noqa: BLE001 - broker down: the outbox job sends it later (S26)
        log.warning("could not enqueue mail %s; it stays queued", mail_id)


def deliver(mail_id: int) -> bool:
    """Send one queued message exactly once; safe to call twice or on two workers."""
    now = timezone.now()
    stale = now - timezone.timedelta(minutes=10)
    claimed = OutgoingMail.objects.filter(
        Q(state=OutgoingMail.State.QUEUED)
        | Q(state=OutgoingMail.State.SENDING, claimed_at__lt=stale),
        pk=mail_id,
    ).update(state=OutgoingMail.State.SENDING, claimed_at=now)
    if not claimed:
        return False
    mail = OutgoingMail.objects.get(pk=mail_id)
    message = EmailMultiAlternatives(
        subject=mail.subject,
        body=mail.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=mail.to,
        cc=mail.cc,
        headers=mail.headers,
    )
    if mail.html:
        message.attach_alternative(mail.html, "text/html")
    try:
        message.send()
    except Exception as exc:
        OutgoingMail.objects.filter(pk=mail_id).update(
            state=OutgoingMail.State.QUEUED
            if mail.attempts + 1 < MAX_ATTEMPTS
            else OutgoingMail.State.FAILED,
            attempts=mail.attempts + 1,
            last_error=clean_header(str(exc))[:500],
        )
        raise
    OutgoingMail.objects.filter(pk=mail_id).update(
        state=OutgoingMail.State.SENT, sent_at=timezone.now(), attempts=mail.attempts + 1
    )
    return True


def pending_ids(limit: int = 500) -> list[int]:
    stale = timezone.now() - timezone.timedelta(minutes=10)
    return list(
        OutgoingMail.objects.filter(
            Q(state=OutgoingMail.State.QUEUED)
            | Q(state=OutgoingMail.State.SENDING, claimed_at__lt=stale)
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
