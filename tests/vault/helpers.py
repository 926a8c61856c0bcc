"""Scenery for the vault's tests: an entry at a site, logins with TOTP, a request approved."""

from __future__ import annotations

import time
from typing import Any

import pyotp

from handover.accounts import services as accounts
from handover.accounts.models import User
from handover.org.models import Site
from handover.vault import services
from handover.vault.models import RevealRequest, SecretEntry
from tests.factories import World

STRONG = "Vq7#kRt2!mWz9@Lp"


def enrol_totp(user: User) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    accounts.totp_enroll(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    user.refresh_from_db()
    return pyotp.TOTP(secret)


def next_code(totp: pyotp.TOTP) -> str:
    """A code of the next 30-second step: accepted once, and never the one already used this step."""
    return totp.at(time.time() + totp.interval)


def put(
    actor: Any, world: World, site: Site, *, secret: str = STRONG, login: str = "root", **extra: Any
) -> SecretEntry:
    target = services.Target(
        engagement=world.engagement,
        site=site,
        system_name="集中交易",
        hostname=f"{login}-{site.code}",
        login_name=login,
    )
    return services.secret_put(actor=actor, target=target, secret=secret, **extra)


def approved(requester: User, approver: User, totp: pyotp.TOTP, entry: SecretEntry) -> RevealRequest:
    request = services.reveal_request_create(
        actor=requester, entry=entry, reason="交接日核对", purpose="view"
    )
    return services.reveal_approve(actor=approver, request=request, totp_code=next_code(totp))


def fail_audit_inserts(action: str = "") -> None:
    """A real failure of the audit write: the database refuses new events (of ``action``, or all)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            when = f"WHEN (NEW.action = '{action}') " if action else ""
            cursor.execute(
                "CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit storage unavailable'; END; $$"
            )
            cursor.execute(
                f"CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_event FOR EACH ROW {when}"
                "EXECUTE FUNCTION test_refuse_audit()"
            )
        else:
            when = f"WHEN NEW.action = '{action}' " if action else ""
            cursor.execute(
                f"CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_event {when}"
                "BEGIN SELECT RAISE(ABORT, 'audit storage unavailable'); END"
            )
