"""Demo grants (called by ``manage.py seed_demo``; idempotent).

Webwerk Agentur is technical administrator for three customers:
- Kovács Pékség: active, ends in 40 days (the reminder goes out in 33);
- Alpenblick Pension: pending — approve it as lena@webwerk.example with the demo key
  ``ALPE-NBLI-CKDE-MOKE-YWEB-WERK-QQQQ-QQQQ`` (documented, like the demo password);
- Nordlicht Shop: expired a month ago.
"""

import sys
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import HostingAccount, User, hash_secret
from delegation.models import KEY_VALID_FOR, Grant, GrantEvent
from delegation.services import KEY_PREFIX_LENGTH, key_normalise
from portal import policy

DEMO_KEY = "ALPE-NBLI-CKDE-MOKE-YWEB-WERK-QQQQ-QQQQ"

Kind = GrantEvent.Kind
Side = GrantEvent.Side


def _user(email):
    return User.objects.filter(email=email).first()


def _accounts(customer, *names):
    return list(HostingAccount.objects.filter(customer=customer, name__in=names))


@transaction.atomic
def seed(customers):
    agency = customers["webwerk"]
    now = timezone.now()
    lena = _user("lena@webwerk.example")

    kovacs = customers["kovacs"]
    if not Grant.objects.filter(grantor=kovacs, agency=agency).exists():
        made = now - timedelta(days=21)
        grant = Grant.objects.create(
            grantor=kovacs,
            agency=agency,
            state=Grant.State.ACTIVE,
            key_prefix="KOVA",
            key_expires_at=made + KEY_VALID_FOR,
            created_by=_user("eszter@kovacs-pekseg.example"),
            created_at=made,
            approved_by=lena,
            approved_at=made + timedelta(days=1),
            ends_at=now + timedelta(days=40),
        )
        grant.accounts.set(_accounts(kovacs, "kovacs-pekseg.example", "P-100250"))
        policy.grant_accounts_assign(grant)
        GrantEvent.objects.create(
            grant=grant, kind=Kind.MADE, side=Side.GRANTOR, actor=grant.created_by, at=made
        )
        GrantEvent.objects.create(
            grant=grant,
            kind=Kind.KEY_MAILED,
            side=Side.GRANTOR,
            actor=grant.created_by,
            at=made + timedelta(minutes=1),
        )
        GrantEvent.objects.create(
            grant=grant, kind=Kind.APPROVED, side=Side.AGENCY, actor=lena, at=grant.approved_at
        )

    alpen = customers["alpen"]
    if not Grant.objects.filter(grantor=alpen, agency=agency).exists():
        made = now - timedelta(days=2)
        normalised = key_normalise(DEMO_KEY)
        grant = Grant.objects.create(
            grantor=alpen,
            agency=agency,
            state=Grant.State.PENDING,
            key_prefix=normalised[:KEY_PREFIX_LENGTH],
            key_hash=hash_secret(normalised),
            key_expires_at=made + KEY_VALID_FOR,
            created_by=_user("maria@alpenblick.example"),
            created_at=made,
        )
        grant.accounts.set(_accounts(alpen, "P-100260"))
        GrantEvent.objects.create(
            grant=grant, kind=Kind.MADE, side=Side.GRANTOR, actor=grant.created_by, at=made
        )
        sys.stdout.write(f"Demo grant key (Alpenblick → Webwerk, pending): {DEMO_KEY}\n")

    shop = customers["nordlicht-shop"]
    if not Grant.objects.filter(grantor=shop, agency=agency).exists():
        made = now - timedelta(days=100)
        ended = now - timedelta(days=30)
        grant = Grant.objects.create(
            grantor=shop,
            agency=agency,
            state=Grant.State.EXPIRED,
            key_prefix="NORD",
            key_expires_at=made + KEY_VALID_FOR,
            created_by=_user("anna@nordlicht.example"),
            created_at=made,
            approved_by=lena,
            approved_at=made + timedelta(hours=3),
            ends_at=ended,
            ended_at=ended,
            reminded_at=ended - timedelta(days=7),
        )
        grant.accounts.set(_accounts(shop, "nordlicht-shop.example"))
        for kind, side, actor, at in (
            (Kind.MADE, Side.GRANTOR, grant.created_by, made),
            (Kind.WRONG_KEY, Side.AGENCY, lena, made + timedelta(hours=2)),
            (Kind.APPROVED, Side.AGENCY, lena, grant.approved_at),
            (Kind.REMINDER, Side.SYSTEM, None, grant.reminded_at),
            (Kind.EXPIRED, Side.SYSTEM, None, ended),
        ):
            GrantEvent.objects.create(grant=grant, kind=kind, side=side, actor=actor, at=at)
