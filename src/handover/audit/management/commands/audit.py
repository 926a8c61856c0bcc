"""``handover audit checkpoint|verify|schedule``: the audit trail from the command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.audit import checkpoint, selectors, services, tasks
from handover.audit.verify import Problem
from handover.cli.base import refusal
from handover.core.context import command_context
from handover.core.errors import DomainError


class Command(BaseCommand):
    help = "Write signed checkpoints of the audit trail and verify it."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        cp = sub.add_parser(
            "checkpoint",
            help="sign the current head of the chain into a file and ship a copy to the second place",
        )
        cp.add_argument("-o", "--output", help="file to write (default: a new file in the checkpoint folder)")
        verify = sub.add_parser(
            "verify",
            help="recompute the chain and check it against every checkpoint found; exit 1 on any break",
        )
        verify.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            help="a checkpoint file (repeatable); default: every one in the checkpoint and shipping folders "
            "and the last one shipped",
        )
        verify.add_argument(
            "--public-key",
            help="PEM public key to trust for checkpoints (default: HANDOVER_AUDIT_PUBLIC_KEY; never the key's own)",
        )
        verify.add_argument(
            "--jobs",
            type=int,
            default=None,
            help="processes that read and hash the chain by sequence range (default: one per core)",
        )
        sub.add_parser("schedule", help="enqueue the periodic checkpoint task unless one is waiting")
        sub.add_parser("public-key", help="print the checkpoint key's public half (PEM) to keep elsewhere")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        with command_context("cli"):
            if action == "checkpoint":
                output = Path(options["output"]) if options.get("output") else None
                try:
                    path, seq = services.checkpoint_write(
                        actor=None, path=output, directory=settings.HANDOVER_CHECKPOINT_DIR
                    )
                except DomainError as exc:
                    raise refusal(exc) from exc
                self.stdout.write(f"checkpoint of event {seq} written to {path}")
                self._report_shipping(seq)
            elif action == "verify":
                self._verify(options["checkpoint"], options.get("public_key"), options.get("jobs"))
            elif action == "schedule":
                enqueued = tasks.checkpoint_schedule()
                self.stdout.write(
                    "checkpoint task enqueued" if enqueued else "a checkpoint task is already waiting"
                )
            elif action == "public-key":
                key = checkpoint.load_or_create_key(settings.HANDOVER_CHECKPOINT_KEY).public_key()
                pem = key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                self.stdout.write(pem.decode().rstrip())

    def _report_shipping(self, seq: int) -> None:
        event = selectors.last_checkpoint_event()
        after = (event.after or {}) if event else {}
        for place in after.get("shipped", []):
            self.stdout.write(f"shipped to {place}")
        for place in after.get("not_shipped", []):
            self.stderr.write(f"NOT shipped to {place}")
        if not after.get("shipped"):
            self.stderr.write(
                "warning: this checkpoint is only in the data folder; set HANDOVER_CHECKPOINT_SHIP_DIR or "
                "HANDOVER_CHECKPOINT_SHIP_EMAIL so a rewrite cannot delete it too"
            )

    def _trusted_key(self, public_key_path: str | None) -> Ed25519PublicKey | None:
        """Only a key given out of band: --public-key or HANDOVER_AUDIT_PUBLIC_KEY, never the signer's own."""
        path = Path(public_key_path) if public_key_path else settings.HANDOVER_AUDIT_PUBLIC_KEY
        if path is None:
            return None
        try:
            return checkpoint.load_public_key(Path(path))
        except checkpoint.CheckpointError as exc:
            raise CommandError(str(exc)) from exc

    def _found_checkpoints(self) -> list[Path]:
        """Every checkpoint the deployment can find: both folders and the last one its trail says it shipped."""
        found = [
            *checkpoint.files_in(settings.HANDOVER_CHECKPOINT_DIR),
            *checkpoint.files_in(settings.HANDOVER_CHECKPOINT_SHIP_DIR),
        ]
        event = selectors.last_checkpoint_event()
        for place in (event.after or {}).get("shipped", []) if event else []:
            if place.startswith("folder:") and Path(place[7:]).is_file():
                found.append(Path(place[7:]))
        unique: dict[str, Path] = {}
        for path in found:
            unique.setdefault(str(path.resolve()), path)
        return list(unique.values())

    def _verify(self, checkpoint_paths: list[str], public_key_path: str | None, jobs: int | None) -> None:
        paths = [Path(p) for p in checkpoint_paths] or self._found_checkpoints()
        trusted = self._trusted_key(public_key_path)
        checkpoints, problems = [], []
        if trusted is None:
            self.stderr.write(
                f"warning: no trusted audit public key configured (HANDOVER_AUDIT_PUBLIC_KEY or --public-key): "
                f"{len(paths)} checkpoint(s) not checked, so a chain rewritten with recomputed hashes, or cut "
                "short, would pass"
            )
        else:
            for path in paths:
                try:
                    checkpoints.append(checkpoint.read(path, trusted))
                except checkpoint.CheckpointError as exc:
                    problems.append(Problem("forged", 0, str(exc)))
        report = selectors.verify_chain(
            algorithm=settings.HANDOVER_AUDIT_HASH, checkpoints=checkpoints, jobs=jobs
        )
        report.problems[:0] = problems
        for problem in report.problems:
            self.stderr.write(f"BROKEN [{problem.kind}] at event {problem.seq}: {problem.detail}")
        summary = (
            f"{report.events} events, head {report.head_seq} {report.head_hash[:16]}…, "
            f"{len(checkpoints)} checkpoint(s), algorithm {settings.HANDOVER_AUDIT_HASH}"
        )
        if report.ok:
            self.stdout.write(f"audit trail intact: {summary}")
            return
        self.stderr.write(f"audit trail BROKEN: {len(report.problems)} problem(s); {summary}")
        sys.exit(1)
