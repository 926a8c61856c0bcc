"""A one-line progress bar on stderr with rate and time left; silent unless asked for or on a terminal."""

from __future__ import annotations

import sys
import time

from handover.fixity._types import TYPE_CHECKING
from handover.fixity.report import human_bytes

if TYPE_CHECKING:
    from typing import TextIO


class Progress:
    """Redraws at most five times a second; ``total_bytes`` may be unknown (0), then no time left is shown."""

    def __init__(self, *, enabled: bool, total_bytes: int = 0, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.total = total_bytes
        self.stream = stream or sys.stderr
        self.files = 0
        self.done = 0
        self.start = time.monotonic()
        self.last = 0.0

    def advance(self, nbytes: int, files: int = 1) -> None:
        self.files += files
        self.done += nbytes
        if self.enabled and (now := time.monotonic()) - self.last >= 0.2:
            self.last = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.start, 1e-6)
        rate = self.done / elapsed
        text = f"{self.files:,} files  {human_bytes(self.done)}  {human_bytes(rate)}/s"
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 24)
            left = (self.total - self.done) / rate if rate else 0.0
            text = f"[{bar:<24}] {share:4.0%}  {text}  left {_clock(left)}"
        return text

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line(time.monotonic()) + "\x1b[K\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
