"""Evidence files under HANDOVER_DATA_DIR/workflow/evidence, named by their SHA-256 (content-addressed).

The same content is stored once. A file is written to a temporary name in the same folder, hashed while it
is written, then renamed, so a crash never leaves a half file under a hash name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Stored:
    sha256: str
    size: int
    relative: str  # under the data folder


def root() -> Path:
    return Path(settings.DATA_DIR) / "workflow" / "evidence"


def store(stream: BinaryIO) -> Stored:
    """Copy ``stream`` into the evidence folder; returns its hash, size and stored name."""
    folder = root()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        name = digest.hexdigest()
        final = folder / name[:2] / name
        final.parent.mkdir(mode=0o700, exist_ok=True)
        if final.exists() and verify(str(final.relative_to(settings.DATA_DIR)), name):
            os.unlink(temp)
        else:  # new content, or a stored copy that was damaged: this upload restores it
            os.replace(temp, final)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return Stored(name, size, str(final.relative_to(settings.DATA_DIR)))


def open_stored(relative: str) -> BinaryIO:
    return (Path(settings.DATA_DIR) / relative).open("rb")


def verify(relative: str, sha256: str) -> bool:
    """True when the stored file is there and still has the hash recorded for it."""
    path = Path(settings.DATA_DIR) / relative
    if not path.is_file():
        return False
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest() == sha256
