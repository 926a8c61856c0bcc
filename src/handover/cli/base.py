"""What every ``handover`` command shares (review §5: seven CLI converters in four formats become one).

Exit codes, the same for every command (README.md, "Exit codes"):

* 0 — done;
* 1 — refused or failed: a service's refusal, a bad value, or a check that found problems (``audit verify``,
  ``risk deadlines`` with overdue duties, an import with row errors);
* 2 — the command line itself is wrong (unknown action or option: argparse's usage error).

A service's refusal (``DomainError``) is printed in one format on standard error, ``field: message`` where the
refusal names a field and the message alone where it does not, never a traceback (STYLE rule 6). The field
agent ``handover-agent`` (fixity/cli.py) has its own codes, documented in docs/fixity.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError

from handover.core.context import command_context
from handover.core.errors import DomainError, StorageFull, disk_full

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


def refusal(exc: DomainError) -> CommandError:
    """A service's refusal as the command's error: ``field: message``, or the message alone."""
    where = f"{exc.field}: " if exc.field else ""
    return CommandError(f"{where}{exc.message}", returncode=EXIT_REFUSED)


@contextmanager
def domain_run(channel: str = "cli") -> Iterator[None]:
    """Run a command's work with one request id for its audit events (``command_context``) and its refusals
    turned into ``refusal``'s error."""
    with command_context(channel):
        try:
            yield
        except DomainError as exc:
            raise refusal(exc) from exc
        except Exception as exc:
            if disk_full(exc):
                raise refusal(StorageFull()) from exc
            raise
