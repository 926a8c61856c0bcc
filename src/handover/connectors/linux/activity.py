"""Who logged in when (lastlog, wtmp, btmp, faillock outputs) and what runs as whom (cron, systemd)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from handover.connectors.linux.reading import Reader, evidence
from handover.connectors.linux.source import clean
from handover.connectors.model import Job

_CTIME = re.compile(r"([A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d)(?: ([+-]\d{4}))? (\d{4})")
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[,.]\d+)?(?:[+-]\d\d:?\d\d|Z)?)")


def _when(text: str) -> datetime | None:
    """The first time in a line: ISO 8601 (``--time-format iso``), else ctime with or without a zone
    (``lastlog``, ``last -F``); a time without a zone is taken as UTC."""
    match = _ISO.search(text)
    if match:
        value = datetime.fromisoformat(match.group(1).replace(",", "."))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    match = _CTIME.search(text)
    if not match:
        return None
    day, zone, year = match.group(1), match.group(2), match.group(3)
    try:
        value = datetime.strptime(f"{day} {zone or '+0000'} {year}", "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        return None
    return value


@dataclass(frozen=True)
class Logins:
    """One account's last login, whether the sources cover it, and its failure counts (btmp, faillock)."""

    last: datetime | None = None
    known: bool = False
    counts: dict[str, str] = field(default_factory=dict)


def logins(reader: Reader) -> dict[str, Logins]:
    """Per account name: its last login and failure counts from the collected command outputs."""
    return {name: Logins(*facts) for name, facts in _logins(reader).items()}


def _logins(reader: Reader) -> dict[str, tuple[datetime | None, bool, dict[str, str]]]:
    """Per account: last login, whether the sources cover it, and counts of failures (btmp, faillock)."""
    out: dict[str, tuple[datetime | None, bool, dict[str, str]]] = {}

    def seen(name: str, when: datetime | None, known: bool) -> None:
        old = out.get(name, (None, False, {}))
        best = max((w for w in (old[0], when) if w is not None), default=None)
        out[name] = (best, old[1] or known or when is not None, old[2])

    lastlog = reader.text("handover/lastlog.txt")
    for line in (lastlog or "").splitlines()[1:]:
        words = line.split()
        if not words:
            continue
        if "**Never logged in**" in line:
            seen(words[0], None, True)
        else:
            seen(words[0], _when(line), True)
    for line in (reader.text("handover/wtmp.txt") or "").splitlines():
        words = line.split()
        if (
            len(words) < 3
            or words[0] in ("reboot", "shutdown", "wtmp", "btmp")
            or line.startswith(("wtmp", "btmp"))
        ):
            continue
        when = _when(line)
        if when is not None:
            seen(words[0], when, True)
    for line in (reader.text("handover/btmp.txt") or "").splitlines():
        words = line.split()
        if len(words) < 3 or line.startswith(("btmp", "wtmp")):
            continue
        old = out.get(words[0], (None, False, {}))
        counts = dict(old[2])
        counts["failed_logins_btmp"] = str(int(counts.get("failed_logins_btmp", "0")) + 1)
        out[words[0]] = (old[0], old[1], counts)
    current = ""
    for line in (reader.text("handover/faillock.txt") or "").splitlines():
        if line.endswith(":") and " " not in line:
            current = line[:-1]
            continue
        if current and re.match(r"^\d{4}-\d\d-\d\d", line) and line.rstrip().endswith("V"):
            old = out.get(current, (None, False, {}))
            counts = dict(old[2])
            counts["faillock_failures"] = str(int(counts.get("faillock_failures", "0")) + 1)
            out[current] = (old[0], old[1], counts)
    return out


_CRON_SPECIAL = {"@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def _cron(reader: Reader, path: str, *, user: str | None) -> Iterable[Job]:
    text = reader.text(path)
    if text is None:
        return []
    jobs = []
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.strip()
        if not body or body.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*\s*=", body):
            continue
        words = body.split()
        size = 1 if words[0] in _CRON_SPECIAL else 5
        need = size + (0 if user else 1) + 1
        if len(words) < need:
            reader.warnings.append(f"/{clean(path)}:{number}: not a cron line")
            continue
        schedule = " ".join(words[:size])
        runs_as = user or words[size]
        command = " ".join(words[size + (0 if user else 1) :])
        jobs.append(Job(runs_as, command, schedule, "cron", evidence(reader, path, number, line)))
    return jobs


def jobs(reader: Reader) -> list[Job]:
    """Cron lines (system and per-user crontabs) and systemd services, each with the account it runs as."""
    jobs: list[Job] = list(_cron(reader, "etc/crontab", user=None))
    for path in reader.source.listdir("etc/cron.d"):
        jobs += _cron(reader, path, user=None)
    for path in reader.source.listdir("var/spool/cron/crontabs"):
        jobs += _cron(reader, path, user=path.rsplit("/", 1)[-1])
    for path in reader.source.listdir("var/spool/cron"):
        jobs += _cron(reader, path, user=path.rsplit("/", 1)[-1])
    for path in reader.source.listdir("etc/systemd/system"):
        if not path.endswith(".service"):
            continue
        text = reader.text(path) or ""
        section, user, command, start = "", "root", "", 0
        for number, line in enumerate(text.splitlines(), start=1):
            body = line.strip()
            if body.startswith("["):
                section = body
            elif section == "[Service]" and "=" in body:
                key, _, value = body.partition("=")
                if key.strip() == "User" and value.strip():
                    user = value.strip()
                elif key.strip() == "ExecStart" and value.strip() and not command:
                    command, start = value.strip(), number
        if command:
            raw = text.splitlines()[start - 1]
            jobs.append(
                Job(
                    user,
                    command,
                    "systemd",
                    "systemd:" + path.rsplit("/", 1)[-1],
                    evidence(reader, path, start, raw),
                )
            )
    return jobs
