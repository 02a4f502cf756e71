"""Address confirmation links (K4, S10).

A link carries a signed object — contact id, a random nonce, a digest of the pending
address — under a salt used for nothing else. It is valid for 7 days, and only while the
contact still stores the hash of that nonce for that same address: a new link, a changed
or cancelled address, or a confirmation voids it (single use). The token travels in the
URL *fragment*, which browsers never send to the server, and is posted back in the form
body; so it never appears in an access log or a Referer header (S11).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.core import signing

from accounts.models import hash_secret
from contacts.models import CONFIRMATION_DAYS

SALT = "contacts.contact.email-confirmation"


def new_nonce() -> str:
    return secrets.token_urlsafe(16)  # 128 random bits


def address_digest(email: str) -> str:
    return hash_secret("contact-address:" + (email or "").strip().lower())[:24]


def make(contact_id: int, email: str, nonce: str) -> str:
    signer = signing.TimestampSigner(salt=SALT)
    return signer.sign_object({"c": contact_id, "n": nonce, "e": address_digest(email)})


def read(token: str) -> dict | None:
    """The signed content of a link still within its 7 days, or None for anything else."""
    if not token or len(token) > 500:
        return None
    try:
        data = signing.TimestampSigner(salt=SALT).unsign_object(
            token.strip(), max_age=timedelta(days=CONFIRMATION_DAYS)
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not {"c", "n", "e"} <= data.keys():
        return None
    if not isinstance(data["c"], int) or not isinstance(data["n"], str):
        return None
    return data
