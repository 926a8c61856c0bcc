"""Checking a row's values against its register's column declarations.

Errors are collected for every column, never only the first, as ``{column key: [message, …]}`` with
messages a person can act on; import and the API name the row and the column label around them.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from handover.registers.columns import CONDITIONAL, REQUIRED, Column

# registers.md §1.3: a register never stores a password, a hash or any fingerprint of one.
_CREDENTIAL_PATTERNS = (
    re.compile(r"(pass(word)?|passwd|pwd|口令|密码|secret|token)\s*[:=：是为]\s*\S+", re.IGNORECASE),
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # a URL with user:password@
    re.compile(r"(^|\s)-p\S{4,}"),  # mysql -pSECRET
    re.compile(r"\$(2[aby]|argon2\w*|[156])\$\S{8,}"),  # a password hash
)


def looks_like_credential(text: str) -> bool:
    """True for free text that appears to contain a password, a password hash or a random secret."""
    if any(pattern.search(text) for pattern in _CREDENTIAL_PATTERNS):
        return True
    for token in text.split():
        classes = sum(bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"\d", r"[^\w\s]"))
        if len(token) >= 12 and classes >= 4:
            return True
    return False


# Issue 17, interop review §1c: Chinese Excel saves a date cell to CSV as it shows it, 2020/3/15 (and a time
# as 2020/3/15 9:05). Year first, the order is unambiguous; only ISO 8601 was taken before.
_SLASHED = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def parse_day(text: str) -> date:
    """A date typed or saved by a spreadsheet: ``2020-03-15`` or ``2020/3/15``; ValueError else."""
    moment = _slashed(text)
    if moment is None:
        return date.fromisoformat(text.strip())
    if len(moment) > 3:
        raise ValueError(text)
    return date(*moment)


def parse_moment(text: str) -> datetime:
    """A date and time: ISO 8601 or ``2020/3/15 9:05``; ValueError else."""
    moment = _slashed(text)
    if moment is None:
        return datetime.fromisoformat(text.strip())
    if len(moment) == 3:
        raise ValueError(text)
    year, month, day, hour, minute, *second = moment
    return datetime(year, month, day, hour, minute, second[0] if second else 0)


def _slashed(text: str) -> tuple[int, ...] | None:
    match = _SLASHED.match(text.strip())
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _parse(column: Column, value: Any) -> Any:
    """The stored (JSON) form of a value, or ValueError with the reason."""
    kind = column.type
    if kind in ("text", "ltext"):
        text = str(value).strip()
        if looks_like_credential(text):
            raise ValueError(
                _(
                    "This looks like a password or other secret. Registers never hold secrets "
                    "(registers.md §1.3): put it in the vault and enter the vault reference here."
                )
            )
        return text
    if kind == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(_("Enter a whole number."))
        return int(str(value).strip())
    if kind == "dec":
        try:
            return str(Decimal(str(value).strip()))
        except InvalidOperation:
            raise ValueError(_("Enter a number.")) from None
    if kind == "date":
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        return parse_day(str(value)).isoformat()
    if kind == "dt":
        if isinstance(value, datetime):
            return value.isoformat()
        return parse_moment(str(value)).isoformat()
    if kind == "bool":
        text = str(value).strip().lower()
        if value is True or text in ("是", "yes", "true", "1", "y"):
            return True
        if value is False or text in ("否", "no", "false", "0", "n"):
            return False
        raise ValueError(_("Enter 是 or 否."))
    if kind == "enum":
        text = str(value).strip()
        for choice in column.choices:
            if text in (choice.zh, choice.en):
                return choice.zh
        allowed = "、".join(c.zh for c in column.choices)
        raise ValueError(_("Choose one of: %(allowed)s.") % {"allowed": allowed})
    if kind == "ref":
        return int(value)
    if kind == "refs":
        items = value if isinstance(value, list | tuple) else str(value).replace("，", ",").split(",")
        return [int(item) for item in items if str(item).strip()]
    return value  # att: stored by the attachment service


def _message(column: Column, exc: Exception) -> str:
    # Python's own parse errors ("Invalid isoformat string", "month must be in 1..12") are not for people.
    python_error = column.type in ("date", "dt") or str(exc).lower().startswith(("invalid", "could not"))
    if isinstance(exc, ValueError) and exc.args and not python_error:
        return str(exc.args[0])
    formats = {"date": "YYYY-MM-DD", "dt": "YYYY-MM-DD HH:MM", "int": "123", "ref": "123", "refs": "1, 2"}
    return _("Not a valid value; expected %(format)s.") % {"format": formats.get(column.type, column.type)}


def clean_row(
    columns: tuple[Column, ...], data: dict[str, Any], *, partial: bool = False
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Parse and check every column; returns (clean values, errors by column key).

    ``partial`` (a draft row filled by a machine, e.g. the fixity import) checks the values given and
    leaves missing required ones for a person to fill; submitting the form checks them all.
    """
    by_key = {c.key: c for c in columns}
    errors: dict[str, list[str]] = {
        key: [_("No such column in this register.")] for key in data if key not in by_key
    }
    clean: dict[str, Any] = {}
    for column in columns:
        value = data.get(column.key)
        if _empty(value):
            continue
        try:
            clean[column.key] = _parse(column, value)
        except (ValueError, TypeError) as exc:
            errors.setdefault(column.key, []).append(_message(column, exc))
    for column in columns:
        if partial or column.key in clean or column.key in errors:
            continue
        if column.required == REQUIRED:
            errors[column.key] = [_("Required.")]
        elif column.required == CONDITIONAL and column.required_if:
            other, values = column.required_if
            current = clean.get(other)
            shown = "是" if current is True else "否" if current is False else current
            if shown in values:
                errors[column.key] = [
                    _("Required when %(other)s is %(value)s.") % {"other": by_key[other].zh, "value": shown}
                ]
    return clean, errors
