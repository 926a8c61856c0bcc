"""One collected static folder for every server a test run starts (the browser tests', the vault canary's).

The laptop settings keep a manifest of static files (WhiteNoise), as `handover serve` does, so each server's
data folder needs them collected; a link to one folder per run means they are compressed once, not once per
server. Nothing secret is ever in it (the canary search does not follow the link)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_folder: list[Path] = []


def link_static(data_dir: Path) -> None:
    """Make ``data_dir/static`` the run's shared folder (collectstatic then fills it or finds it done)."""
    if not _folder:
        _folder.append(Path(tempfile.mkdtemp(prefix="handover-test-static-")))
        atexit.register(shutil.rmtree, _folder[0], ignore_errors=True)
    (data_dir / "static").symlink_to(_folder[0], target_is_directory=True)
