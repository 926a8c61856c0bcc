"""``handover backup -o FILE``: the platform's own backup, while the server runs (docs/backup.md).

``handover backup verify FILE`` is the offline verifier (``platform_backup.archive``): the ``handover``
command runs it before Django starts, with no settings and no database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.core.actors import system
from handover.core.context import command_context
from handover.core.errors import DomainError
from handover.platform_backup import services


class Command(BaseCommand):
    help = (
        "Write one signed archive of the database, the data folder's stores and the audit checkpoints, while "
        "the server runs. Never the vault's master key or shares, nor the keys of the data folder. "
        "'handover backup verify FILE --public-key PEM' checks an archive offline (docs/backup.md)."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the archive to write")
        parser.add_argument(
            "--hash", choices=("sha256", "sm3"), default="sha256", help="the manifest's digest"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with command_context("cli"):
            try:
                result = services.backup_create(
                    actor=system("backup"),
                    destination=Path(options["output"]).resolve(),
                    algorithm=options["hash"],
                )
            except DomainError as exc:
                raise CommandError(str(exc.message)) from exc
        self.stdout.write(
            f"backup written to {result.path}: {result.files} file(s), {result.size} bytes, "
            f"sha256 {result.sha256}, audit head {result.audit_head['seq']}"
        )
