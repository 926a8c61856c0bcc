"""What the restore drill runs inside a deployment (``python -m tests.platform_backup.probe ACTION``, with
``HANDOVER_DATA_DIR`` naming the deployment): set up the demo, write while a backup runs, and describe the
data a restore must give back. Prints JSON; never a secret (the vault's values only as one SHA-256)."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import django


def setup() -> dict[str, Any]:
    """migrate, the demo, and a signed audit checkpoint; the demo's shares and the public keys."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    out = io.StringIO()
    call_command("demo", stdout=out)
    shares = [
        line.split(": ", 1)[1] for line in out.getvalue().splitlines() if line.strip().startswith("share ")
    ]
    _canary_put()  # the demo leaves this process's vault unsealed
    call_command("audit", "checkpoint", stdout=io.StringIO(), stderr=io.StringIO())
    keys = {}
    for app in ("audit", "package"):
        printed = io.StringIO()
        call_command(app, "public-key", stdout=printed)
        keys[app] = printed.getvalue()
    from handover.audit.selectors import chain_head

    return {"shares": shares, "keys": keys, "head": chain_head()[0]}


CANARY = "Canary-Backup-7f3a9c1e-Zq!x"  # stored in the vault; it must never be readable in an archive


def _canary_put() -> None:
    from handover.core.actors import system
    from handover.org.models import Engagement, Site
    from handover.vault import lifecycle, services
    from handover.vault.models import CustodyMode, SecretKind

    site = Site.objects.get(code="BR-HZ")
    target = services.Target(
        engagement=Engagement.objects.get(pk=site.engagement_id),
        site=site,
        system_name="营业部柜台系统",
        hostname="hz-canary01",
        login_name="root",
        layer="操作系统",
        account_class="超级用户",
    )
    services.secret_put(
        actor=system("drill"),
        target=target,
        secret=CANARY,
        kind=SecretKind.ORIGINAL,
        custody=services.Custody(mode=CustodyMode.VAULT, envelope_no="", safe=""),
    )
    lifecycle.vault_seal(actor=system("drill"))


def write(ready: str, stop: str) -> dict[str, Any]:
    """Append audit events (a sensitive read is a write) until ``stop`` exists; ``ready`` once one is in."""
    from handover.audit.services import event_record
    from handover.core.actors import system
    from handover.org.events import ENGAGEMENT_VIEW_FIRM

    written = 0
    while not Path(stop).exists():
        event_record(actor=system("drill-writer"), action=ENGAGEMENT_VIEW_FIRM, after={"n": written})
        written += 1
        if written == 1:
            Path(ready).touch()
    return {"written": written}


def describe(head: str, shares: str) -> dict[str, Any]:
    """Every table's rows (the trail up to ``head`` only: both sides add events after it), each stored file,
    and the vault opened with the given shares: the SHA-256 of every current secret."""
    from django.db import connection

    tables = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            where = f" WHERE seq <= {int(head)}" if table == "audit_event" else ""
            cursor.execute(f'SELECT * FROM "{table}"{where} ORDER BY 1')  # noqa: S608 - names from the schema
            tables[table] = hashlib.sha256(repr(cursor.fetchall()).encode()).hexdigest()
    return {"tables": tables, "files": _files(), "vault": _vault(json.loads(shares))}


def _files() -> dict[str, str]:
    from django.conf import settings

    found = {}
    for folder in ("attachments", "workflow", "discovery", "checkpoints"):
        for path in sorted((Path(settings.DATA_DIR) / folder).rglob("*")):
            if path.is_file():
                found[str(path.relative_to(settings.DATA_DIR))] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()
    return found


def _vault(shares: list[str]) -> dict[str, Any]:
    from handover.core.actors import system
    from handover.vault import lifecycle, services
    from handover.vault.models import SecretEntry

    nonce, states = "", []
    for share in shares:
        result = lifecycle.vault_share_enter(actor=system("drill"), share_text=share, nonce=nonce)
        nonce = result.get("nonce", nonce)
        states.append(lifecycle.vault_status().sealed)
    if states[-1]:
        return {"sealed_after": states, "secrets": ""}
    digest = hashlib.sha256()
    for entry in SecretEntry.objects.order_by("pk"):
        if services.current_version(entry) is not None:
            digest.update(services.secret_use_for_task(entry_id=entry.pk, purpose="restore drill").encode())
    return {"sealed_after": states, "secrets": digest.hexdigest()}


if __name__ == "__main__":
    django.setup()
    from handover.core.context import command_context

    with command_context("cli"):
        result = {"setup": setup, "write": write, "describe": describe}[sys.argv[1]](*sys.argv[2:])
    print(json.dumps(result))
