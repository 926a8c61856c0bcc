"""Text that a spreadsheet must show as text: a cell starting with ``=``, ``+``, ``-``, ``@`` or a control
character is a formula to Excel when it opens a CSV (CSV injection). Every CSV export (the registers', the
audit trail's) writes such text with a leading apostrophe, which the register import takes off again.

It lives in ``core`` because both the registers and the audit trail export CSV, and the trail may not
depend on the registers (docs/architecture.md)."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_for_csv(text: str) -> str:
    """Free text as text, never as a formula, when a spreadsheet opens the CSV."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def text_from_cell(text: str) -> str:
    """The inverse of ``text_for_csv``: the apostrophe a CSV export put before a formula-like text."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
