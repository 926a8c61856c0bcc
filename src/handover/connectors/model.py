"""The facts a connector gathers: accounts, groups, privileges, keys, jobs, with their evidence.

Plain frozen dataclasses (no Django), shared by every connector, the review rules and the Django app that
stores them. Dates are ``datetime.date``; instants are timezone-aware ``datetime``. ``None`` means "not
known from this source", never "no": a connector that cannot read last logins says ``last_login=None`` and
``last_login_known=False`` rather than pretending the account never logged in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class AccountKind(StrEnum):
    """Where the account lives (registers.md §2: the account entity's class)."""

    OS = "os"  # a Linux/Windows/network-device login
    DATABASE = "database"  # a PostgreSQL/MariaDB/Oracle role or user
    DIRECTORY = "directory"  # an LDAP/AD entry
    APPLICATION = "application"  # an operator of a counter/business system (表12)


class PasswordState(StrEnum):
    """What the stored verifier says, without ever holding it here."""

    SET = "set"  # a usable hash is stored
    EMPTY = "empty"  # an empty verifier: anyone logs in without a password
    LOCKED = "locked"  # a hash prefixed by '!' (usermod -L) or a lock attribute
    DISABLED = "disabled"  # '*' or '!' alone, NOLOGIN, ACCOUNT LOCK: no password login possible
    NONE = "none"  # no verifier at all (e.g. PostgreSQL role without password)
    UNKNOWN = "unknown"  # the source does not say (shadow not readable)


@dataclass(frozen=True)
class Evidence:
    """Where a fact came from: the source (file path or query), the line, the raw text, the source's digest.

    ``raw`` is the line as read, with any password verifier replaced by ``<verifier>`` (a shadow line keeps
    its other fields); ``digest`` is ``sha256:<hex>`` (or ``sm3:<hex>``) of the whole source as read.
    """

    source: str
    raw: str
    digest: str
    line: int | None = None


@dataclass(frozen=True)
class Privilege:
    """One right an account holds, and how it holds it.

    ``name`` is the platform's word (``ALL`` for sudo, ``SUPERUSER``, ``GRANT OPTION``, ``DBA``, ``uid 0``);
    ``scope`` what it applies to (``ALL`` commands, ``*.*``, a schema, a host list); ``via`` how the account
    gets it: ``user``, ``group:<name>``, ``alias:<name>``, ``role:<name>`` (recursively, the nearest first).
    ``superuser`` marks a super-user equivalent (第二十二条: 超级用户及同等权限用户).
    """

    name: str
    scope: str = ""
    via: str = "user"
    nopasswd: bool = False
    negated: bool = False
    superuser: bool = False
    evidence: Evidence | None = None


@dataclass(frozen=True)
class Key:
    """An SSH public key that lets someone log in as the account (or another credential of that kind)."""

    algorithm: str
    fingerprint: str  # "SHA256:<base64, no padding>" as ssh-keygen -l prints it
    comment: str = ""
    options: tuple[str, ...] = ()
    file: str = ""
    evidence: Evidence | None = None


@dataclass(frozen=True)
class Account:
    """One account on one system, as its source shows it."""

    name: str
    kind: AccountKind
    uid: str = ""  # the platform's id: uid, OID, DN, user@host, SID
    display_name: str = ""  # GECOS full name, cn/displayName, an operator's name
    email: str = ""
    shell: str = ""
    home: str = ""
    login_allowed: bool | None = None  # None: not known
    password_state: PasswordState = PasswordState.UNKNOWN
    password_changed: date | None = None
    password_max_days: int | None = None  # None: never expires (or unknown, see password_policy_known)
    password_policy_known: bool = False
    password_expires: date | None = None
    account_expires: date | None = None
    locked: bool = False
    last_login: datetime | None = None
    last_login_known: bool = False
    groups: tuple[str, ...] = ()
    privileges: tuple[Privilege, ...] = ()
    keys: tuple[Key, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()  # platform specifics as (name, value), sorted
    evidence: tuple[Evidence, ...] = ()

    @property
    def superuser(self) -> bool:
        """Whether any privilege makes this account a super-user equivalent."""
        return any(p.superuser and not p.negated for p in self.privileges)


@dataclass(frozen=True)
class Group:
    """A group (Linux group, LDAP groupOfNames, database role used as a group, AD group)."""

    name: str
    gid: str = ""
    members: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()  # gshadow administrators, group owners
    privileged: bool = False  # wheel/sudo/docker/disk, Domain Admins, a role with superuser rights
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class Job:
    """A scheduled or standing job that runs as an account (cron, systemd unit, a DB job)."""

    runs_as: str
    command: str
    schedule: str = ""
    source: str = ""
    evidence: Evidence | None = None


@dataclass(frozen=True)
class SourceFile:
    """One source read (a file or a query's answer): its name, digest and size.

    ``content`` holds the bytes for permission backups (第二十六条第2、3项); ``sealed`` is true when they hold
    password verifiers (shadow, gshadow, role dumps): the Django side seals those in the vault and never
    stores them in the clear. Content is left out of ``repr``.
    """

    name: str
    digest: str
    size: int
    content: bytes = field(default=b"", repr=False)
    sealed: bool = False
    backup: bool = False  # part of the permission backup that 表8 names


@dataclass(frozen=True)
class Inventory:
    """Everything one gathering found on one target (a host, a database, a directory)."""

    platform: str  # the connector's code: linux, postgresql, mariadb, ldap, ad, oracle, windows, ...
    target: str  # host[:port] or the file/folder it was read from
    gathered_at: datetime
    accounts: tuple[Account, ...] = ()
    groups: tuple[Group, ...] = ()
    jobs: tuple[Job, ...] = ()
    settings: tuple[tuple[str, str], ...] = ()  # effective configuration (sshd -T, password policy), sorted
    sources: tuple[SourceFile, ...] = ()
    warnings: tuple[str, ...] = ()  # what could not be read, in plain words (the rest is still good)
    host_key: str = ""  # "<algorithm> <base64>" the host presented on a live gathering ('' offline)

    def account(self, name: str) -> Account | None:
        """The account called ``name``, if there is one (the first, for platforms that allow several)."""
        return next((a for a in self.accounts if a.name == name), None)


def digest_of(data: bytes) -> str:
    """The digest an ``Evidence`` and a ``SourceFile`` carry: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
