"""Django's SQLite backend, checkpointing the WAL after commits when the library has the WAL-reset bug.

With ``wal_autocheckpoint=0`` (``sqlitesafety.connection_pragmas``) nothing else checkpoints, so the WAL would
grow without end; after each commit the connection checks its size (one ``stat``) and, past 4 MiB, runs the
writer-locked TRUNCATE checkpoint.
"""

from __future__ import annotations

from django.db.backends.sqlite3 import base

from handover.core import sqlitesafety


class DatabaseWrapper(base.DatabaseWrapper):
    """The stock wrapper; ``_commit`` then checkpoints when due (once the transaction is over)."""

    def _commit(self) -> None:
        super()._commit()  # type: ignore[misc]  # the stubs omit the private method
        if (
            self.connection is not None
            and sqlitesafety.wal_reset_bug()
            and not self.connection.in_transaction
        ):
            sqlitesafety.checkpoint_if_due(self.connection, self.settings_dict["NAME"])
