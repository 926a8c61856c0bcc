"""The laptop default (``make demo``): SQLite in the data folder, TOTP offered but not required."""

from handover.settings.base import *  # noqa: F403
