"""The Django set-up the database benchmarks share (imported from beside them: ``python bench/x.py`` puts
this folder first on ``sys.path``).

Each benchmark runs in a fresh data folder, and with ``--postgres`` on a throwaway PostgreSQL cluster, both
chosen before Django reads its settings; the database is migrated before anything is timed.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
from contextlib import closing
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def configure(
    postgres: bool,
    *,
    keep: tuple[str, ...] = (),
    static: bool = False,
    seed: Path | None = None,
    **environ: str,
) -> Path:
    """Point Django at a fresh data folder (and cluster), set it up and migrate; returns the folder.

    The caller's ``HANDOVER_*`` variables are dropped, but for those named in ``keep``, so that a figure does
    not depend on the shell it was run from; ``environ`` adds the benchmark's own. ``static`` collects the
    static files, for benchmarks that render pages (the templates link the manifest's names). ``seed``, a
    migrated SQLite database, is copied in first, so that ``migrate`` has nothing to do (a smoke run in tests).
    """
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    data = Path(tempfile.mkdtemp(prefix="handover-bench-"))
    if seed is not None:
        with (
            closing(sqlite3.connect(seed)) as source,
            closing(sqlite3.connect(data / "handover.sqlite3")) as copy,
        ):
            source.backup(copy)
    for name in [k for k in os.environ if k.startswith("HANDOVER_") and k not in keep]:
        del os.environ[name]
    os.environ.update(
        HANDOVER_DATA_DIR=str(data),
        HANDOVER_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="handover.settings.local",
        **environ,
    )
    if postgres:
        from handover.core import pgcluster

        os.environ["HANDOVER_DATABASE_URL"] = pgcluster.start()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if static:
        call_command("collectstatic", verbosity=0, interactive=False)
    return data
