"""Reading configuration from the environment.

Every variable Handover reads is declared in ``VARIABLES`` with its default and meaning, so that
docs/configuration.md and .env.example can be checked against it (tests/test_settings.py).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Variable:
    """One documented environment variable."""

    name: str
    default: str
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable("HANDOVER_DATA_DIR", "./data", "Folder for the SQLite file, uploads, logs and local keys."),
    Variable(
        "HANDOVER_DATABASE_URL",
        "",
        "postgres://user:pass@host:port/name to use PostgreSQL; empty for SQLite.",
    ),
    Variable(
        "HANDOVER_DATABASE_OWNER_URL",
        "",
        "PostgreSQL URL of the owner role that runs migrations; the server runs as HANDOVER_DATABASE_URL's role, "
        "which may only INSERT and SELECT audit events.",
    ),
    Variable(
        "HANDOVER_SECRET_KEY",
        "",
        "Django secret key; required in production, generated into the data folder otherwise.",
    ),
    Variable("HANDOVER_DEBUG", "false", "Debug pages; refused by the production settings."),
    Variable(
        "HANDOVER_ALLOWED_HOSTS", "127.0.0.1,localhost", "Comma-separated host names the server answers to."
    ),
    Variable(
        "HANDOVER_CSRF_TRUSTED_ORIGINS",
        "",
        "Comma-separated origins (https://host) trusted for forms behind a proxy.",
    ),
    Variable(
        "HANDOVER_PROXY_CLIENT_HEADER",
        "",
        "Header in which the TLS proxy names the client (X-Forwarded-For); empty uses the socket's address.",
    ),
    Variable(
        "HANDOVER_TRUSTED_PROXIES",
        "",
        "Comma-separated addresses of the proxies whose client header is believed (127.0.0.1).",
    ),
    Variable(
        "HANDOVER_AUDIT_HASH",
        "sha256",
        "Hash of the audit chain: sha256 or sm3. Fixed for the life of a deployment.",
    ),
    Variable(
        "HANDOVER_CHECKPOINT_KEY",
        "",
        "Path of the Ed25519 key signing audit checkpoints, outside the data folder (refused inside it); "
        "default checkpoint.key in the folder <data folder>-signer beside it.",
    ),
    Variable(
        "HANDOVER_AUDIT_PUBLIC_KEY",
        "",
        "PEM public key of the checkpoint key, kept out of band: the only key `handover audit verify` trusts.",
    ),
    Variable(
        "HANDOVER_CHECKPOINT_DIR",
        "",
        "Folder the scheduled audit checkpoints are written to; default checkpoints/ in the data folder.",
    ),
    Variable(
        "HANDOVER_CHECKPOINT_SHIP_DIR",
        "",
        "Second folder, on another mount or machine, every checkpoint is copied to; empty for none.",
    ),
    Variable(
        "HANDOVER_CHECKPOINT_SHIP_EMAIL",
        "",
        "Comma-separated addresses (the auditors') every checkpoint is mailed to; empty for none.",
    ),
    Variable(
        "HANDOVER_CHECKPOINT_INTERVAL",
        "300",
        "Seconds between the audit checkpoints the task worker signs; 0 for none (a timer signs them, deploy/).",
    ),
    Variable(
        "HANDOVER_DISCOVERY_CONCURRENCY", "32", "Targets a discovery run gathers at once, over all sites."
    ),
    Variable("HANDOVER_DISCOVERY_PER_SITE", "8", "Targets of one site a discovery run gathers at once."),
    Variable(
        "HANDOVER_DISCOVERY_STALE_MINUTES",
        "60",
        "A running discovery run with no target finished for this long is marked interrupted (its worker died).",
    ),
    Variable(
        "HANDOVER_PACKAGE_KEY",
        "",
        "Path of the Ed25519 key signing 表24 handover packages; default keys/package.key in the data folder.",
    ),
    Variable(
        "HANDOVER_TOTP_REQUIRED",
        "false",
        "Require a TOTP second factor for every login (always on in production).",
    ),
    Variable("HANDOVER_SESSION_IDLE_SECONDS", "1800", "A session idle this long ends."),
    Variable(
        "HANDOVER_ENROLMENT_CODE_HOURS",
        "72",
        "How long a one-time enrolment code (new or reset login) may be used by its holder.",
    ),
    Variable(
        "HANDOVER_FRESH_CREDENTIAL_HOURS",
        "24",
        "A login reset or enrolled less than this many hours ago cannot approve a vault reveal.",
    ),
    Variable(
        "HANDOVER_LOCKOUT_ATTEMPTS",
        "5",
        "Wrong second-factor codes in a row that lock an account; failed passwords for one name from one address "
        "before that address is backed off for that name.",
    ),
    Variable(
        "HANDOVER_LOCKOUT_SECONDS",
        "900",
        "How long a lock or a first back-off lasts; each further one doubles, up to a day.",
    ),
    Variable(
        "HANDOVER_LOGIN_PENDING_SECONDS",
        "300",
        "A login whose password was right must give its second-factor code within this time (two tries).",
    ),
    Variable("HANDOVER_API_TOKEN_IDLE_SECONDS", "1800", "An API token unused this long ends."),
    Variable("HANDOVER_API_TOKEN_MAX_SECONDS", "43200", "An API token ends this long after it was issued."),
    Variable("HANDOVER_TIME_ZONE", "Asia/Shanghai", "Time zone for display; events are stored in UTC."),
    Variable(
        "HANDOVER_LOG_LEVEL", "INFO", "Level of the log written to logs/handover.log in the data folder."
    ),
    Variable("HANDOVER_VAULT_CIPHER", "aes-256-gcm", "Cipher of new vault secrets: aes-256-gcm or sm4-gcm."),
    Variable(
        "HANDOVER_VAULT_KEEPER",
        "in-process",
        "Which vault key keeper this process uses: socket (the keeper process; handover serve sets it for "
        "its processes) or in-process (a keeper of its own: tests, one-shot commands).",
    ),
    Variable(
        "HANDOVER_VAULT_REVEAL_MINUTES", "15", "How long an approved reveal may be opened before it lapses."
    ),
    Variable(
        "HANDOVER_VAULT_SHOW_SECONDS",
        "60",
        "How long a revealed secret stays on the screen before it is hidden.",
    ),
    Variable(
        "HANDOVER_SMTP_HOST",
        "",
        "SMTP server for notification emails; empty writes them to mail/ in the data folder instead.",
    ),
    Variable(
        "HANDOVER_SMTP_PORT",
        "25",
        "SMTP port.",
    ),
    Variable(
        "HANDOVER_SMTP_USER",
        "",
        "SMTP login, if the server needs one.",
    ),
    Variable(
        "HANDOVER_SMTP_PASSWORD",
        "",
        "SMTP password; never logged.",
    ),
    Variable(
        "HANDOVER_SMTP_TLS",
        "false",
        "Use STARTTLS with the SMTP server.",
    ),
    Variable(
        "HANDOVER_MAIL_FROM",
        "handover@localhost",
        "Sender address of notification emails.",
    ),
    Variable(
        "HANDOVER_WEBHOOK_HOSTS",
        "qyapi.weixin.qq.com,oapi.dingtalk.com",
        "Comma-separated hosts a notification webhook may post to (企业微信 and 钉钉 robots by default); * for any.",
    ),
    Variable(
        "HANDOVER_ATTACHMENT_MAX_BYTES",
        "26214400",
        "Largest evidence file (scan, screenshot, configuration file) a register row accepts, in bytes.",
    ),
    Variable(
        "HANDOVER_IMPORT_MAX_BYTES",
        "52428800",
        "Largest register file (xlsx or CSV) an import opens, in bytes.",
    ),
    Variable(
        "HANDOVER_IMPORT_MAX_ROWS",
        "200000",
        "Most data rows one register import takes; a larger file is refused (split it by site).",
    ),
    Variable(
        "HANDOVER_WORKER_MEMORY_LIMIT_MB",
        "2048",
        "Address-space limit of the background worker (handover worker), in MiB; 0 for none. "
        "An import that reaches it fails with a message and writes nothing.",
    ),
    Variable(
        "HANDOVER_UPLOAD_MAX_BYTES_BUNDLE",
        "536870912",
        "Largest request body of a fixity bundle upload, in bytes; refused before it is read.",
    ),
    Variable(
        "HANDOVER_UPLOAD_MAX_BYTES_IMPORT",
        "67108864",
        "Largest request body of a register import (xlsx or CSV), in bytes; refused before it is read.",
    ),
    Variable(
        "HANDOVER_UPLOAD_MAX_BYTES_ATTACHMENT",
        "27262976",
        "Largest request body carrying a register attachment, in bytes (the file limit plus the form).",
    ),
    Variable(
        "HANDOVER_UPLOAD_MAX_BYTES_EVIDENCE",
        "27262976",
        "Largest request body carrying workflow evidence, in bytes (the file limit plus the form).",
    ),
    Variable(
        "HANDOVER_UPLOAD_MAX_BYTES_OTHER",
        "67108864",
        "Largest request body of any other address, in bytes; refused before it is read.",
    ),
    Variable(
        "HANDOVER_RISK_GRADING_FILE",
        "",
        "JSON file replacing the incident grading rules and reporting clocks (docs/risk.md); empty: built-in.",
    ),
    Variable(
        "HANDOVER_VULN_SLA_DAYS",
        "critical=7,high=30,medium=90,low=120",
        "Days to fix a vulnerability by severity, counted from its first sighting (docs/risk.md).",
    ),
    Variable(
        "HANDOVER_SUPPLIER_CONTRACT_DAYS",
        "60",
        "Days before a supplier's contract (表19/35) ends from which it is an open item (docs/risk.md).",
    ),
    Variable(
        "HANDOVER_CHANGE_NOTICE_DAYS",
        "3",
        "Days before its window a change's investor notice must be published (docs/risk.md).",
    ),
    Variable(
        "HANDOVER_CAPACITY_MIN_RATIO",
        "2",
        "Least ratio of a system's tested capacity to its historical peak; below it is an open item (docs/risk.md).",
    ),
    Variable(
        "HANDOVER_ANNUAL_REPORT_DUE",
        "04-30",
        "Month-day by which the previous year's security report is owed (docs/risk.md).",
    ),
)

_KNOWN = {v.name: v for v in VARIABLES}


def get(name: str) -> str:
    """The value of a declared variable, or its default."""
    if name not in _KNOWN:
        raise KeyError(f"{name} is not a declared Handover variable")
    return os.environ.get(name, _KNOWN[name].default)


def get_bool(name: str) -> bool:
    value = get(name).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: use true or false")


def get_int(name: str) -> int:
    value = get(name)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a whole number") from None


def get_choice(name: str, choices: tuple[str, ...]) -> str:
    value = get(name).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: use one of {', '.join(choices)}")
    return value


def get_list(name: str) -> list[str]:
    return [part.strip() for part in get(name).split(",") if part.strip()]


def get_addresses(name: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = []
    for part in get_list(name):
        try:
            found.append(ipaddress.ip_address(part))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {part!r} is not an IP address") from None
    return found


def data_dir() -> Path:
    """The data folder, created on first use with owner-only permissions.

    L8: from here on the process creates files readable by its owner only (the SQLite file and its WAL and
    SHM, logs, checkpoints, keys, uploads): the umask is set before any of them is opened.
    """
    os.umask(0o077)
    path = Path(get("HANDOVER_DATA_DIR")).expanduser().resolve()
    for sub in ("", "media", "logs", "keys", "checkpoints", "static"):
        (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def local_secret_key(folder: Path) -> str:
    """A secret key kept in the data folder's keys/, created once: for the laptop default only."""
    key_file = folder / "keys" / "django-secret-key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()
