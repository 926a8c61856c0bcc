"""``handover demo``: load the demo engagement (data only) and print the demo logins once."""

from __future__ import annotations

import unicodedata
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import translation

from handover import demo
from handover.core.context import command_context


class Command(BaseCommand):
    help = (
        "Load the demo engagement (idempotent), print a fresh password for each demo login, and set up the "
        "vault with demo secrets the first time (printing its shares)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate("zh-hans")
        with command_context("cli"):
            loaded = demo.load()
        engagement, logins = loaded.engagement, loaded.logins
        self.stdout.write(
            f"Demo engagement: {engagement.code_name} ({engagement.code}), "
            f"{engagement.sites.count()} sites, {engagement.people.count()} people"
        )
        self.stdout.write("Demo logins (passwords are new on every run; nothing is stored in clear).")
        self.stdout.write(
            "Log in with one of these at the address the server prints (make demo: http://127.0.0.1:8000/):"
        )
        self.stdout.write(f"  {_pad('role', 22)} {'user name':<16} password")
        for login in logins:
            self.stdout.write(
                f"  {_pad(login.role, 22)} {login.username:<16} {login.password}   {login.scope}"
            )
        self._vault(loaded.shares)

    def _vault(self, shares: list[str]) -> None:
        if not shares:
            self.stdout.write(
                "Vault: already set up; its shares were printed when it was (they are stored nowhere)."
            )
            return
        self.stdout.write(
            "Vault: set up 3 of 5 with a few demo secrets. It is sealed whenever the server starts: log in as the "
            "technical group or the Hangzhou on-site post, open /vault/ and enter any 3 of these demo shares:"
        )
        for number, share in enumerate(shares, start=1):
            self.stdout.write(f"  share {number}: {share}")


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal, counting a CJK character as two columns."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - used)
