"""The ``handover`` command: Django's management commands and ours, with the local settings by default."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["package", "verify"]:
        # Offline: the verifier imports no Django, so it runs with no settings and no database.
        from handover.reports.verify import main as verify_main

        sys.exit(verify_main(args[2:]))
    if args[:2] == ["backup", "verify"]:
        # Offline too: the platform backup's verifier (docs/backup.md) needs no settings and no database.
        from handover.platform_backup.archive import main as backup_verify_main

        sys.exit(backup_verify_main(args[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "handover.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["handover", *args])


if __name__ == "__main__":
    main()
