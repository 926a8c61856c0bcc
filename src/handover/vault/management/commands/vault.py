"""``handover vault init|unseal|seal|status|rekey|rotate-master|put|keeper``.

Shares are printed once (and written one file per holder with ``--out-dir``); ``unseal``, ``rekey``,
``rotate-master`` and ``put`` read the shares or the secret from standard input only, never from an
argument, which would be visible in ``ps`` and kept in shell history. ``rekey`` and ``rotate-master`` are
ceremonies like ``unseal``: the threshold of current shares (one holder after another with ``--nonce``, or
several lines at once) before the new shares are printed. The new shares are pending until the threshold of
them is entered back with ``--verify`` (the current ones keep opening the vault until then); ``--cancel``
drops them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.cli.base import domain_run
from handover.core.actors import system
from handover.org.models import Engagement, Site
from handover.vault import keeper, lifecycle, services
from handover.vault.models import SecretKind


class Command(BaseCommand):
    help = "Set up, unseal, seal, rekey and rotate the vault; store a secret read from standard input."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        init = sub.add_parser("init", help="create the master key and print its shares once")
        init.add_argument("--shares", type=int, default=5)
        init.add_argument("--threshold", type=int, default=3)
        init.add_argument(
            "--cipher", default="", help="aes-256-gcm or sm4-gcm (default: HANDOVER_VAULT_CIPHER)"
        )
        for name in ("init", "rekey", "rotate-master"):
            target = init if name == "init" else sub.add_parser(name, help=f"vault {name}")
            if name != "init":
                target.add_argument("--shares", type=int, default=0)
                target.add_argument("--threshold", type=int, default=0)
                target.add_argument(
                    "--nonce", default="", help="the ceremony to join (the previous holder was shown it)"
                )
                step = target.add_mutually_exclusive_group()
                step.add_argument(
                    "--verify",
                    action="store_true",
                    help="enter shares of the new (pending) set back; k of them make it current",
                )
                step.add_argument(
                    "--cancel", action="store_true", help="drop the pending set; the current shares stay"
                )
            target.add_argument("--format", choices=["text", "json"], default="text")
            target.add_argument("--out-dir", type=Path, help="also write one file per share here (mode 0600)")
        unseal = sub.add_parser("unseal", help="enter one share, read from standard input")
        unseal.add_argument("--nonce", default="", help="the ceremony to join (status prints it)")
        sub.add_parser("seal", help="forget the master key now")
        status = sub.add_parser("status", help="sealed or unsealed, and the ceremony's progress")
        status.add_argument("--format", choices=["text", "json"], default="text")
        put = sub.add_parser("put", help="store a secret read from standard input")
        put.add_argument("--engagement", required=True)
        put.add_argument("--site", required=True, help="site code")
        put.add_argument("--system", required=True)
        put.add_argument("--host", default="")
        put.add_argument("--account", required=True)
        put.add_argument("--layer", default="操作系统")
        put.add_argument("--class", dest="account_class", default="超级用户")
        put.add_argument("--kind", choices=SecretKind.values, default=SecretKind.ORIGINAL)
        sub.add_parser("keeper", help="run the key keeper in the foreground (handover serve starts one)")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"].replace("-", "_")
        if action == "keeper":
            keeper.main(["--socket", str(settings.HANDOVER_VAULT_SOCKET)])
            return
        with domain_run():
            getattr(self, f"_{action}")(options)

    def _init(self, options: dict[str, Any]) -> None:
        result = lifecycle.vault_init(
            actor=system("cli"),
            shares=options["shares"],
            threshold=options["threshold"],
            cipher_name=options["cipher"],
        )
        self._hand_out(result.shares, result.config.threshold, options)

    def _rekey(self, options: dict[str, Any]) -> None:
        if self._pending_step(options, "rekey"):
            return
        config = lifecycle.config_get()
        shares, threshold = options["shares"] or config.shares, options["threshold"] or config.threshold
        progress = self._quorum(
            options,
            lambda text, nonce: lifecycle.vault_rekey(
                actor=system("cli"), share_text=text, nonce=nonce, shares=shares, threshold=threshold
            ),
        )
        if progress.done:
            self._hand_out(progress.shares, threshold, options, pending="rekey")

    def _rotate_master(self, options: dict[str, Any]) -> None:
        if self._pending_step(options, "rotate"):
            return
        progress = self._quorum(
            options,
            lambda text, nonce: lifecycle.vault_rotate_master(
                actor=system("cli"),
                share_text=text,
                nonce=nonce,
                shares=options["shares"] or None,
                threshold=options["threshold"] or None,
            ),
        )
        if progress.done:
            self._hand_out(
                progress.shares, lifecycle.config_get().pending_threshold, options, pending="rotate"
            )

    def _pending_step(self, options: dict[str, Any], purpose: str) -> bool:
        """``--cancel`` or ``--verify`` of the pending set this command started; False for a new start."""
        if not (options["cancel"] or options["verify"]):
            return False
        config = lifecycle.config_get()
        if config.pending_purpose and config.pending_purpose != purpose:
            other = "rekey" if config.pending_purpose == "rekey" else "rotate-master"
            raise CommandError(
                f"The pending set is a {config.pending_purpose}'s: use handover vault {other} --verify or --cancel."
            )
        if options["cancel"]:
            lifecycle.vault_pending_cancel(actor=system("cli"))
            self.stdout.write("pending set cancelled; the current shares stay current")
            return True
        progress = self._quorum(
            options,
            lambda text, nonce: lifecycle.vault_pending_verify(
                actor=system("cli"), share_text=text, nonce=nonce
            ),
            verify=True,
        )
        if progress.done:
            config = lifecycle.config_get()
            self.stdout.write(
                f"verified: the new set {config.set_id} is current ({config.threshold} of {config.shares}); "
                "the old shares no longer open the vault"
            )
        return True

    def _quorum(
        self,
        options: dict[str, Any],
        submit: Callable[[str, str], lifecycle.QuorumProgress],
        *,
        verify: bool = False,
    ) -> lifecycle.QuorumProgress:
        """Shares from standard input, one a line, into one ceremony; its progress when they run out."""
        texts = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
        if not texts and verify:
            raise CommandError(
                "Type a share of the new set on standard input (one a line; they are not taken as "
                "arguments): the new set becomes current once the threshold of its shares is entered."
            )
        if not texts:
            raise CommandError(
                "Type a current share on standard input (one a line; they are not taken as arguments): "
                "new shares are made only once the threshold of current shares is entered."
            )
        nonce = options["nonce"]
        for text in texts:
            progress = submit(text, nonce)
            nonce = progress.nonce
            if progress.done:
                return progress
        self.stdout.write(
            f"share {progress.index} accepted: {len(progress.entered)} of {progress.threshold}; next holder: "
            f"handover vault {options['action']} --nonce {progress.nonce}"
            + (" --verify" if verify else "")
            + (f" --shares {options['shares']}" if options["shares"] else "")
            + (f" --threshold {options['threshold']}" if options["threshold"] else "")
        )
        return progress

    def _hand_out(
        self, shares: list[str], threshold: int, options: dict[str, Any], pending: str = ""
    ) -> None:
        if options.get("out_dir"):
            _write_files(options["out_dir"], shares)
        if options["format"] == "json":
            self.stdout.write(
                json.dumps({"threshold": threshold, "shares": shares, "pending": bool(pending)})
            )
            return
        self.stdout.write(
            f"Hand each share to one holder; any {threshold} of {len(shares)} unseal the vault."
        )
        self.stdout.write("They are shown this once and stored nowhere (the checksum is in each share).")
        for number, share in enumerate(shares, start=1):
            self.stdout.write(f"  share {number}: {share}")
        if pending:
            command = "rekey" if pending == "rekey" else "rotate-master"
            self.stdout.write(
                f"These shares are pending: the current ones keep opening the vault until {threshold} of these "
                f"are entered back (handover vault {command} --verify, one holder after another). "
                f"To drop them: handover vault {command} --cancel."
            )

    def _unseal(self, options: dict[str, Any]) -> None:
        current = lifecycle.current_keeper()
        if not current.is_remote:
            raise CommandError(
                "This command is configured with a key keeper of its own (HANDOVER_VAULT_KEEPER=in-process), "
                "which ends with it: run it with HANDOVER_VAULT_KEEPER=socket beside `handover serve` (or "
                f"`handover vault keeper`, on {settings.HANDOVER_VAULT_SOCKET})."
            )
        share = sys.stdin.readline().strip()
        if not share:
            raise CommandError("Type the share on standard input (it is not taken as an argument).")
        result = lifecycle.vault_share_enter(actor=system("cli"), share_text=share, nonce=options["nonce"])
        if result["unsealed"]:
            self.stdout.write("unsealed")
        else:
            config = lifecycle.config_get()
            self.stdout.write(
                f"share {result['index']} accepted: {len(result['entered'])} of {config.threshold}; "
                f"next holder: handover vault unseal --nonce {result['nonce']}"
            )

    def _seal(self, options: dict[str, Any]) -> None:
        lifecycle.vault_seal(actor=system("cli"))
        self.stdout.write("sealed")

    def _status(self, options: dict[str, Any]) -> None:
        status = lifecycle.vault_status()
        if options["format"] == "json":
            self.stdout.write(json.dumps(status.__dict__))
            return
        if not status.initialised:
            self.stdout.write("not initialised (run: handover vault init)")
            return
        state = "sealed" if status.sealed else "unsealed"
        line = f"{state}; {status.threshold} of {status.shares} shares; {status.cipher_name}"
        if status.nonce:
            line += f"; ceremony {status.nonce}: {len(status.entered)} of {status.threshold} entered"
        if status.quorum:
            quorum = status.quorum
            line += (
                f"; {quorum['purpose']} ceremony {quorum['nonce']}: {len(quorum['entered'])} of "
                f"{quorum['threshold']} current shares entered"
            )
        if status.pending:
            pending = status.pending
            line += (
                f"; pending {pending['purpose']} to set {pending['set_id']} ({pending['threshold']} of "
                f"{pending['shares']}), waiting for {pending['threshold']} of its shares to be entered back"
            )
        if not status.keeper_remote:
            line += "; no key keeper running (this process only)"
        self.stdout.write(line)
        if status.problem:
            self.stdout.write(status.problem)

    def _put(self, options: dict[str, Any]) -> None:
        engagement = Engagement.objects.filter(code=options["engagement"]).first()
        if engagement is None:
            raise CommandError(f"--engagement: no engagement with the code {options['engagement']!r}")
        site = Site.objects.filter(engagement=engagement, code=options["site"]).first()
        if site is None:
            raise CommandError(f"--site: no site with the code {options['site']!r} in {engagement.code}")
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise CommandError("Type the secret on standard input (it is never taken as an argument).")
        target = services.Target(
            engagement=engagement,
            site=site,
            system_name=options["system"],
            hostname=options["host"],
            login_name=options["account"],
            layer=options["layer"],
            account_class=options["account_class"],
        )
        entry = services.secret_put(actor=system("cli"), target=target, secret=secret, kind=options["kind"])
        self.stdout.write(f"stored: vault entry {entry.pk}")


def _write_files(directory: Path, shares: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for number, share in enumerate(shares, start=1):
        path = directory / f"vault-share-{number}.txt"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(share + "\n")
