"""Django's SQLite backend with the checkpoints of ``handover.core.sqlitesafety`` (the embedded default)."""
