"""The static files storage: WhiteNoise's hashed names and compressed copies, compressed only when needed.

WhiteNoise compresses every collected file with gzip and Brotli at their highest levels on each
``collectstatic``, and ``handover serve`` collects at every start: 22 s on two cores, most of it for the API
pages' source maps (4 MB each) and the same bundles under their hashed and plain names. Here a file whose
compressed copy is already there for this very version is left alone (a hashed name is one content; for a
plain name, WhiteNoise gives the copy the source's modification time, and collectstatic copies a file again
only when it changed), and source maps, which only a developer's
browser tools fetch, are not compressed at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
SUFFIXES = (".br", ".gz")
SAME_TIME_NS = 1_000_000


class Storage(CompressedManifestStaticFilesStorage):
    """CompressedManifestStaticFilesStorage that compresses only new or changed files."""

    def create_compressor(self, **kwargs: object) -> Compressor:
        kwargs["extensions"] = kwargs.get("extensions") or SKIP_COMPRESS_EXTENSIONS
        return Compressor(**kwargs)

    def compress_files(self, paths: Iterable[str]) -> Iterator[tuple[str, str]]:
        hashed = set(self.hashed_files.values())  # a hashed name is one content, whenever it was written
        stale = []
        for path in paths:
            done = compressed_copies(self.path(path), any_time=path in hashed)
            if done:
                yield from ((path, path + suffix) for suffix in done)
            else:
                stale.append(path)
        yield from super().compress_files(stale)


def compressed_copies(full_path: str, *, any_time: bool = False) -> list[str]:
    """The suffixes of the compressed copies made from this version of the file (none if one was made from
    another version, told by its time unless ``any_time``: Django rewrites a hashed file at every collect)."""
    try:
        mtime = os.stat(full_path).st_mtime_ns
        found = [s for s in SUFFIXES if os.path.exists(full_path + s)]
        # WhiteNoise sets the copy's time from a float: it may be off by a fraction of a microsecond.
        fresh = any_time or all(abs(os.stat(full_path + s).st_mtime_ns - mtime) < SAME_TIME_NS for s in found)
    except OSError:
        return []
    return found if fresh else []
