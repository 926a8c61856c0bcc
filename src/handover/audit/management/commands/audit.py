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
from handover.audit.verify import verify_rows
from handover.core.context import command_context


class Command(BaseCommand):
    help = "Write signed checkpoints of the audit trail and verify it."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        cp = sub.add_parser("checkpoint", help="sign the current head of the chain into a file")
        cp.add_argument("-o", "--output", required=True, help="file to write")
        verify = sub.add_parser("verify", help="recompute the chain; exit 1 on any break")
        verify.add_argument(
            "--checkpoint", action="append", default=[], help="a checkpoint file (repeatable)"
        )
        verify.add_argument(
            "--public-key", help="PEM public key to trust for checkpoints (default: the configured key's own)"
        )
        sub.add_parser("schedule", help="enqueue the periodic checkpoint task unless one is waiting")
        sub.add_parser("public-key", help="print the checkpoint key's public half (PEM) to keep elsewhere")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        with command_context("cli"):
            if action == "checkpoint":
                path, seq = services.checkpoint_write(actor=None, path=Path(options["output"]))
                self.stdout.write(f"checkpoint of event {seq} written to {path}")
            elif action == "verify":
                self._verify(options["checkpoint"], options.get("public_key"))
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

    def _trusted_key(self, public_key_path: str | None) -> Ed25519PublicKey:
        if public_key_path:
            loaded = serialization.load_pem_public_key(Path(public_key_path).read_bytes())
            if not isinstance(loaded, Ed25519PublicKey):
                raise CommandError(f"{public_key_path} is not an Ed25519 public key")
            return loaded
        if not settings.HANDOVER_CHECKPOINT_KEY.exists():
            raise CommandError(
                f"no checkpoint key at {settings.HANDOVER_CHECKPOINT_KEY}: give --public-key to check checkpoints"
            )
        return checkpoint.load_or_create_key(settings.HANDOVER_CHECKPOINT_KEY).public_key()

    def _verify(self, checkpoint_paths: list[str], public_key_path: str | None) -> None:
        checkpoints = []
        if checkpoint_paths:
            trusted = self._trusted_key(public_key_path)
            try:
                checkpoints = [checkpoint.read(Path(p), trusted) for p in checkpoint_paths]
            except checkpoint.CheckpointError as exc:
                raise CommandError(str(exc)) from exc
        report = verify_rows(
            selectors.chain_rows(), algorithm=settings.HANDOVER_AUDIT_HASH, checkpoints=checkpoints
        )
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
