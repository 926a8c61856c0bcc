"""``handover restore FILE``: the platform's own backup into an empty deployment, then ``audit verify``.

Exit codes: 0 restored and the audit trail verifies; 1 refused, nothing changed (damaged, untrusted or
foreign-version archive, a target that is not empty); 3 restored, but the audit trail does not verify (each
break is printed).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.audit import checkpoint
from handover.core.actors import system
from handover.core.context import command_context
from handover.core.errors import DomainError
from handover.platform_backup import services
from handover.reports.verify import load_public_key

EXIT_AUDIT_BROKEN = 3


class Command(BaseCommand):
    help = "Restore a platform backup into an empty data folder and database, then verify the audit trail."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE")
        parser.add_argument(
            "--public-key", metavar="PEM", help="the old server's package key (its public half)"
        )
        parser.add_argument(
            "--trust-embedded-key",
            action="store_true",
            help="without --public-key, trust the key inside the archive (proves nothing about who signed)",
        )
        parser.add_argument(
            "--audit-public-key",
            metavar="PEM",
            help="the audit checkpoint key (default HANDOVER_AUDIT_PUBLIC_KEY), to check the restored checkpoints",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["file"])
        if not source.is_file():
            raise CommandError(f"{source}: no such file")
        trusted = self._key(options.get("public_key"), "--public-key")
        audit_path = options.get("audit_public_key") or settings.HANDOVER_AUDIT_PUBLIC_KEY
        audit_key = self._audit_key(audit_path)
        with command_context("cli"):
            try:
                result = services.backup_restore(
                    actor=system("restore"),
                    source=source,
                    trusted=trusted,
                    trust_embedded=options["trust_embedded_key"],
                    audit_key=audit_key,
                )
            except DomainError as exc:
                raise CommandError(str(exc.message)) from exc
        self.stdout.write(f"restored {result.files} file(s) and the database from {source}")
        if not result.checkpoint_key:
            self.stderr.write(
                "warning: no audit public key (HANDOVER_AUDIT_PUBLIC_KEY or --audit-public-key): the restored "
                "checkpoints were not checked, only the head the backup's signed manifest recorded"
            )
        for problem in result.problems:
            self.stderr.write(f"BROKEN [{problem.kind}] at event {problem.seq}: {problem.detail}")
        summary = f"{result.events} events, head {result.head_seq}, {result.checkpoints} checkpoint(s)"
        if result.audit_ok:
            self.stdout.write(f"audit trail intact: {summary}")
            return
        self.stderr.write(f"audit trail BROKEN: {len(result.problems)} problem(s); {summary}")
        sys.exit(EXIT_AUDIT_BROKEN)

    def _key(self, given: str | None, option: str) -> Any:
        if not given:
            return None
        try:
            return load_public_key(Path(given).read_bytes())
        except (OSError, ValueError) as exc:
            raise CommandError(f"{option} {given}: cannot read an Ed25519 public key ({exc})") from exc

    def _audit_key(self, given: Any) -> Any:
        if not given:
            return None
        try:
            return checkpoint.load_public_key(Path(given))
        except checkpoint.CheckpointError as exc:
            raise CommandError(str(exc)) from exc
