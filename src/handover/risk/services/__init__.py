"""Writes of security management, one module per part (``<thing>_<verb>(*, actor, ...)``, each in one
transaction with its audit event)."""
