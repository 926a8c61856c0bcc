"""The deploy checks of ``handover check --deploy`` that Django's own do not cover."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _

from handover.core import sqlitesafety


@checks.register(checks.Tags.database, deploy=True)
def sqlite_wal_reset_bug(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Warn when the embedded database runs on a SQLite with the WAL-reset corruption bug."""
    return sqlite_warnings(settings.DATABASES["default"]["ENGINE"], sqlitesafety.wal_reset_bug())


def sqlite_warnings(engine: str, has_bug: bool) -> list[checks.CheckMessage]:
    """The warning for this database engine and SQLite library, if it is due."""
    if not engine.endswith("sqlite3") or not has_bug:
        return []
    return [
        checks.Warning(
            _("SQLite %(version)s has the WAL-reset corruption bug (fixed in 3.51.3).")
            % {"version": sqlite3.sqlite_version},
            hint=str(
                _(
                    "Handover avoids the bug's conditions (writer-locked checkpoints only), but a deployment with "
                    "several app servers should use PostgreSQL (HANDOVER_DATABASE_URL), or a Python built against "
                    "SQLite 3.51.3 or later; see docs/deployment.md."
                )
            ),
            id="handover.W001",
        )
    ]


LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


@checks.register(checks.Tags.security, deploy=True)
def production_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The host names, the proxy's client header and the checkpoint key's place of a deployment behind nginx
    (deploy/, docs/deployment.md): each problem names the variable to change."""
    problems = host_problems(settings.ALLOWED_HOSTS) + proxy_problems(
        settings.HANDOVER_PROXY_CLIENT_HEADER, settings.HANDOVER_TRUSTED_PROXIES
    )
    # As audit.checkpoint.key_inside, which checkpoint_write refuses (core may not import audit).
    if Path(settings.HANDOVER_CHECKPOINT_KEY).resolve().is_relative_to(Path(settings.DATA_DIR).resolve()):
        problems.append(
            checks.Error(
                str(
                    _(
                        "HANDOVER_CHECKPOINT_KEY (%(key)s) is inside the data folder: whoever holds a copy of the "
                        "data could re-sign a rewritten audit trail."
                    )
                )
                % {"key": settings.HANDOVER_CHECKPOINT_KEY},
                hint=str(_("Keep the key in a folder of its own, e.g. /var/lib/handover-signer (deploy/).")),
                id="handover.E004",
            )
        )
    return problems


def host_problems(hosts: list[str]) -> list[checks.CheckMessage]:
    """HANDOVER_ALLOWED_HOSTS that answer any host, or only loopback names (the default, left unset)."""
    if "*" in hosts:
        return [
            checks.Error(
                str(_("HANDOVER_ALLOWED_HOSTS contains '*': the server answers requests for any host name.")),
                hint=str(_("Name the host nginx serves (its server_name).")),
                id="handover.E002",
            )
        ]
    if hosts and set(hosts) <= LOOPBACK_NAMES:
        return [
            checks.Warning(
                _(
                    "HANDOVER_ALLOWED_HOSTS names only loopback (%(hosts)s): behind nginx every request "
                    "for the real host name is refused with 400."
                )
                % {"hosts": ", ".join(hosts)},
                hint=str(_("Name the host nginx serves (its server_name).")),
                id="handover.W003",
            )
        ]
    return []


def proxy_problems(header: str, proxies: list[str]) -> list[checks.CheckMessage]:
    """A client header without a proxy to believe it from, or the reverse: either way the audit trail
    records the proxy's address for every client."""
    if bool(header) == bool(proxies):
        return []
    if header:
        text = _(
            "HANDOVER_PROXY_CLIENT_HEADER is set but HANDOVER_TRUSTED_PROXIES is empty: the header is never "
            "believed, and every audit event records the proxy's address instead of the client's."
        )
    else:
        text = _(
            "HANDOVER_TRUSTED_PROXIES is set but HANDOVER_PROXY_CLIENT_HEADER is empty: every audit event "
            "records the proxy's address instead of the client's."
        )
    hint = _("Behind nginx on this machine: HANDOVER_PROXY_CLIENT_HEADER=X-Forwarded-For and "
             "HANDOVER_TRUSTED_PROXIES=127.0.0.1 (deploy/handover.env).")  # fmt: skip
    return [checks.Warning(str(text), hint=str(hint), id="handover.W005")]
