"""Where a Linux account's password may be used in configuration (第二十六条第2项 「对配置文件中相应用户的密码进行
修改」; 表10 配置文件中使用 and 相关配置文件), and whether those files still hold the old password after the change.

``find`` reads, as root in one SSH session with a fixed script (the account, the patterns and the declared paths
are its shell-quoted arguments, never secret), the places that run as the account or may hold its password: its
crontab and the /etc/crontab and /etc/cron.d lines running as it, systemd units with ``User=`` it, its own
``~/.pgpass`` and ``~/.my.cnf``, and under each path the plan declares the files named like configuration
(.pgpass, my.cnf, *.cnf, tnsnames.ora, *.properties, *.xml, *.yml/*.yaml, *.env) that name the account as a user
(a ``user=``/``username:`` key, a JDBC or URL user, an XML user element, a .pgpass line). Oracle wallets are
listed as not readable here. Each use carries the file's SHA-256; files and counts past the limits below are
listed with the reason they were not read.

``still_holds`` reads the listed files (base64 over the session's standard output) and searches each, in this
process, for the old password in the forms configuration files write it (as is, URL-, .pgpass-, properties-,
XML- and JSON-escaped, base64). Only the path, the file's SHA-256 and the answer leave it: the password is never
in a command line, and neither it nor a file's content is logged, returned or kept.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

from handover.connectors.change.linux import AS_ROOT, _check_name, _run, _where
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target

MAX_PATHS = 32  # declared paths per plan
MAX_FILES = 500  # configuration files examined under each declared path
MAX_DEPTH = 8  # folders below a declared path
MAX_FILE_BYTES = 1 << 20  # a file larger than this is listed, not read
CONFIG_NAMES = (".pgpass", "my.cnf", "*.cnf", "tnsnames.ora", "*.properties", "*.xml", "*.yml", "*.yaml",
                "*.env", ".env")  # fmt: skip
WALLET_NAMES = ("cwallet.sso", "ewallet.p12")
# Why a file was listed without being read (the faces translate these).
SKIP_REASONS = ("size", "count", "missing", "unreadable", "wallet")

# $1 the account; $2–$4 the patterns (cron line, unit, configuration); $5 the limits; then the declared paths.
# Prints NUL-terminated triples: kind, path, and the SHA-256 of the file or "!" and why it was not read.
FIND_SCRIPT = r"""set -u
a=$1; cron=$2; unit=$3; cfg=$4; maxb=$5; maxf=$6; depth=$7; shift 7
EACH='kind=$1; how=$2; pat=$3; maxb=$4; shift 4
for f; do
  [ -f "$f" ] || continue
  if [ ! -r "$f" ]; then printf "%s\0%s\0!unreadable\0" "$kind" "$f"; continue; fi
  if [ -n "$pat" ] && ! grep -q"$how" -e "$pat" -- "$f" 2>/dev/null; then continue; fi
  n=$(wc -c < "$f")
  if [ "$n" -gt "$maxb" ]; then printf "%s\0%s\0!size\0" "$kind" "$f"; continue; fi
  printf "%s\0%s\0%s\0" "$kind" "$f" "$(sha256sum < "$f" | cut -d" " -f1)"
done'
each() { sh -c "$EACH" each "$@"; }
each crontab E "" "$maxb" "/var/spool/cron/crontabs/$a" "/var/spool/cron/$a"
each cron E "$cron" "$maxb" /etc/crontab /etc/cron.d/*
seen=" "
for d in /etc/systemd/system /run/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
  [ -d "$d" ] || continue
  r=$(readlink -f "$d"); case "$seen" in *" $r "*) continue ;; esac; seen="$seen$r "
  find "$d" -maxdepth 2 -type f \( -name '*.service' -o -name '*.conf' \) \
    -exec sh -c "$EACH" each systemd E "$unit" "$maxb" {} +
done
home=$(getent passwd "$a" | cut -d: -f6)
if [ -n "$home" ]; then each pgpass E "" "$maxb" "$home/.pgpass"; each mycnf E "" "$maxb" "$home/.my.cnf"; fi
for p; do
  if [ -f "$p" ]; then each config Ei "$cfg" "$maxb" "$p"; continue; fi
  if [ ! -d "$p" ]; then printf "config\0%s\0!missing\0" "$p"; continue; fi
  n=$(find "$p" -maxdepth "$depth" -type f \( NAMES \) -print0 | head -z -n $((maxf + 1)) | tr -cd '\0' | wc -c)
  if [ "$n" -gt "$maxf" ]; then printf "config\0%s\0!count\0" "$p"; fi
  find "$p" -maxdepth "$depth" -type f \( NAMES \) -print0 | head -z -n "$maxf" \
    | xargs -0r sh -c "$EACH" each config Ei "$cfg" "$maxb"
  find "$p" -maxdepth "$depth" -type f \( WALLETS \) -print0 | head -z -n "$maxf" \
    | xargs -0r sh -c 'for f; do printf "wallet\0%s\0!wallet\0" "$f"; done' each
done
"""

# $1 the size limit, then the files. One line per file, in order: "ok <base64>", "absent", "size" or "unreadable".
READ_SCRIPT = r"""set -u
maxb=$1; shift
for f; do
  if [ ! -f "$f" ]; then echo absent; continue; fi
  n=$(wc -c < "$f" 2>/dev/null) || { echo unreadable; continue; }
  if [ "$n" -gt "$maxb" ]; then echo size; continue; fi
  printf 'ok '; head -c "$maxb" -- "$f" | base64 -w0; echo
done
"""


@dataclass(frozen=True)
class Use:
    """A file where the account is used: ``kind`` crontab | cron | systemd | pgpass | mycnf | config | wallet;
    ``sha256`` its digest when it was read, else ``skipped`` says why (one of ``SKIP_REASONS``)."""

    path: str
    kind: str
    sha256: str = ""
    skipped: str = ""


@dataclass(frozen=True)
class Held:
    """One file after the change: its SHA-256 ("" when absent or not read) and whether it still holds the old
    password (``unread`` says why it could not be read: absent, size, unreadable)."""

    sha256: str
    holds: bool
    unread: str = ""


def _names(names: Iterable[str]) -> str:
    return " -o ".join(f"-name {shlex.quote(n)}" for n in names)


def _ere(account: str) -> str:
    """The account name as a POSIX extended regular expression matching it literally."""
    return "".join("\\" + c if c in ".$" else c for c in account)


def patterns(account: str) -> tuple[str, str, str]:
    """(a cron line running as the account, a unit's ``User=`` it, a configuration naming it as a user)."""
    a = _ere(account)
    cron = (
        rf"^[[:space:]]*(@[a-z]+[[:space:]]+|([^#[:space:]][^[:space:]]*[[:space:]]+){{5}}){a}([[:space:]]|$)"
    )
    unit = rf"^[[:space:]]*User[[:space:]]*=[[:space:]]*{a}[[:space:]]*$"
    end = r"([\"'[:space:];&,<)/]|$)"
    config = "|".join(
        (
            rf"(user([ _]?name|[ _]?id)?|uid|login)[\"']?[[:space:]]*[=:][[:space:]]*[\"']?{a}{end}",  # keys, JDBC
            rf"<(user(name)?|login)>[[:space:]]*{a}[[:space:]]*<",  # an XML element
            rf"^[^:#]*:[^:]*:[^:]*:{a}:",  # a .pgpass line
            rf"//{a}[:@]",  # a URL's user
            rf":{a}/[^[:space:]]*@",  # Oracle's thin user/password@
        )
    )
    return cron, unit, config


def check_paths(paths: Sequence[str]) -> list[str]:
    """The declared paths, or ValueError naming the first that is not an absolute path of a folder or file that
    may be searched (none of ``..``, a control character, /proc, /sys, /dev, or more than ``MAX_PATHS``)."""
    if len(paths) > MAX_PATHS:
        raise ValueError(f"more than {MAX_PATHS} paths")
    kept: list[str] = []
    for path in paths:
        parts = path.split("/")
        if (
            not path.startswith("/")
            or path == "/"
            or len(path) > 1024
            or any(ord(c) < 32 or ord(c) == 127 for c in path)
            or any(p in (".", "..") for p in parts)
            or parts[1] in ("proc", "sys", "dev")
        ):
            raise ValueError(f"not an absolute path that may be searched: {path!r}")
        cleaned = path.rstrip("/")
        if cleaned not in kept:
            kept.append(cleaned)
    return kept


def _parse_uses(out: str) -> list[Use]:
    fields = out.split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    if len(fields) % 3:
        raise ValueError("a torn answer")
    found: dict[str, Use] = {}
    for i in range(0, len(fields), 3):
        kind, path, what = fields[i : i + 3]
        use = Use(path, kind, skipped=what[1:]) if what.startswith("!") else Use(path, kind, sha256=what)
        found.setdefault(
            path, use
        )  # the first kind that names a file wins (~/.pgpass before a declared path)
    return list(found.values())


async def find(target: Target, admin: Credential, account: str, paths: Sequence[str]) -> list[Use]:
    """Every place ``account``'s password may be used on the host (read as root in one session)."""
    _check_name(account)
    declared = check_paths(paths)
    script = FIND_SCRIPT.replace("WALLETS", _names(WALLET_NAMES)).replace("NAMES", _names(CONFIG_NAMES))
    args = [account, *patterns(account), str(MAX_FILE_BYTES), str(MAX_FILES), str(MAX_DEPTH), *declared]
    command = AS_ROOT.format(cmd="sh -s -- " + " ".join(shlex.quote(a) for a in args))
    out = await _run(target, admin, command, stdin=script)
    try:
        return _parse_uses(out)
    except ValueError:
        raise GatherError(
            Status.PARSE_ERROR, f"{_where(target)}: the list of configuration files could not be read",
            f"{_where(target)}：无法读取配置文件清单",
        ) from None  # fmt: skip


def _forms(secret: str) -> list[bytes]:
    """The ways a configuration file may write ``secret``."""
    utf16 = secret.encode("utf-16-be")
    units = [int.from_bytes(utf16[i : i + 2]) for i in range(0, len(utf16), 2)]
    properties = "".join(  # as java.util.Properties.store writes a value
        "\\" + chr(u) if chr(u) in "\\:=#!" else chr(u) if 32 <= u < 127 else f"\\u{u:04X}" for u in units
    )
    written = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        secret.replace("\\", "\\\\").replace(":", "\\:"),  # .pgpass
        properties,
        html.escape(secret, quote=False),
        html.escape(secret, quote=True),
        json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(),
    }
    return [form.encode() for form in written]


async def still_holds(
    target: Target, admin: Credential, uses: Sequence[Use], old_secret: str
) -> dict[str, Held]:
    """For each use that was read (``sha256`` set), whether its file still holds ``old_secret``. The files are
    read as root in one session; the search is done here and nothing but the path, the digest and the answer
    is kept."""
    if not old_secret:
        raise ValueError("an empty secret is in every file")
    paths = [use.path for use in uses if not use.skipped]
    if not paths:
        return {}
    args = " ".join(shlex.quote(a) for a in (str(MAX_FILE_BYTES), *paths))
    out = await _run(target, admin, AS_ROOT.format(cmd=f"sh -s -- {args}"), stdin=READ_SCRIPT)
    lines = out.split("\n")[: len(paths)]
    if len(lines) != len(paths):
        raise GatherError(Status.PARSE_ERROR, f"{_where(target)}: the configuration files could not be read",
                          f"{_where(target)}：无法读取配置文件")  # fmt: skip
    forms = _forms(old_secret)
    held: dict[str, Held] = {}
    for path, line in zip(paths, lines, strict=True):
        if not line.startswith("ok "):
            held[path] = Held("", False, unread=line.strip()[:20] or "unreadable")
            continue
        content = base64.b64decode(line[3:])
        held[path] = Held(hashlib.sha256(content).hexdigest(), any(form in content for form in forms))
        del content
    return held
