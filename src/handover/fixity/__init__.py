"""Backup verification engine: manifests, integrity, readability, continuity over trading days, tampering.

This package imports no Django, so that ``handover-agent`` (``handover.fixity.cli``) runs on a branch laptop
from a plain ``pip install`` with no settings and no database. See docs/fixity.md.
"""
