"""Import of a register file (xlsx or CSV in the official frame) into a form of a site: all or nothing.

Every problem is collected, never only the first: the header row is checked strictly (a missing, unknown or
repeated column is named by its label), then every row is parsed, its references resolved and its values
checked (``validation.clean_row``) before anything is written. One problem anywhere and nothing is written;
the problems are listed by row number, column label and reason, and the failed rows can be downloaded as
an xlsx with an error column. Otherwise the rows go into the form in one transaction with one audit event.

The form is the one whose 编号 the file gives, or the site's form of 表N with the file's 日期, or a new one.
A row whose natural key (``RegisterSpec.natural_key``, else 序号) is in the form already updates that row,
so importing the same file twice changes nothing; rows not in the file are left as they are. Signed means
frozen (DESIGN.md decision 2): a signed row, or any row of a signed form, is not touched, and the result
says so; the correction of a signed form is a new version, made on its page.

The steps live in their own modules: ``parsing`` (the file against the frame), ``applying`` (the write) and
``parsed`` (what was found, the refusal and its error workbook); this module runs them and stays the public
entry, re-exporting their names.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from handover.core import faults
from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.org.models import Engagement, Site
from handover.org.selectors import require
from handover.registers import catalogue
from handover.registers.io.applying import ImportResult, import_write
from handover.registers.io.frame import frame
from handover.registers.io.parsed import (
    ERROR_COLUMN,
    ImportRefused,
    Issue,
    ParsedFile,
    ParsedRow,
    Progress,
    failed_rows_xlsx,
)
from handover.registers.io.parsing import COLUMN_MARGIN, PROGRESS_EVERY, bounds, parse
from handover.registers.io.reading import read_table

__all__ = [
    "COLUMN_MARGIN",
    "ERROR_COLUMN",
    "PROGRESS_EVERY",
    "DomainError",
    "ImportRefused",
    "ImportResult",
    "Issue",
    "ParsedFile",
    "ParsedRow",
    "Progress",
    "bounds",
    "failed_rows_xlsx",
    "frame",
    "parse",
    "register_import",
]


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a file is imported.

    An import holds every cell, parsed row and Row of the file until it ends, and they form no cycles:
    reference counting frees them. Left on, the collector walks all of them (and the whole process) on each
    full collection, and it runs more full collections the more rows the import holds: 10,000 rows spent a
    quarter of their time there, 1,000 none, so the import grew faster than its rows (docs/benchmarks.md).
    Another thread's import may end first and turn the collector back on; this one is then only slower.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


@_cycle_collector_paused()
def register_import(
    *,
    actor: Actor,
    engagement: Engagement,
    site: Site,
    register_no: int,
    filename: str,
    content: bytes,
    progress: Progress | None = None,
    max_rows: int | None = None,
) -> ImportResult:
    """Import a file of 表N for ``site``: every row checked first, then all written, or none (ImportRefused).
    At most ``max_rows`` data rows (default ``HANDOVER_IMPORT_MAX_ROWS``) are taken; more refuse the file
    (reading.TooManyRows). The steps are looked up here (``read_table``, ``parse``, ``import_write``), so a
    test can watch each one run (tests/registers/test_io_import_errors.py)."""
    catalogue.get(register_no)
    require(user=actor, engagement=engagement, capability=perms.FILL_REGISTERS, site=site)
    table = read_table(filename, content, bounds=bounds(register_no, max_rows))
    parsed = parse(
        register_no,
        table,
        engagement=engagement,
        site=site,
        progress=progress,
        filename=filename,
        max_rows=max_rows,
        user=actor,
    )
    if parsed.issues:
        raise ImportRefused(parsed, filename)
    if progress is not None:
        progress("writing", len(parsed.rows), len(parsed.rows))
    faults.point("registers.import.after_parse")
    return import_write(
        actor=actor,
        engagement=engagement,
        site=site,
        parsed=parsed,
        filename=filename,
        sha256=hashlib.sha256(content).hexdigest(),
    )
