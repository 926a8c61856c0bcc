"""The static files storage compresses a file once per version (WhiteNoise compressed everything at every
``collectstatic``, and ``handover serve`` collects at each start), and never a source map."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import brotli
import pytest
from django.core.files.storage import FileSystemStorage

from handover.core.staticfiles import Storage

BUNDLE = "let x = 1;\n" * 400 + "//# sourceMappingURL=app.js.map\n"
STYLE = "body { color: #333; }\n" * 300
NOTES = "plain notes, nothing hashed refers to them\n" * 300


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    root.mkdir()
    (root / "app.js").write_text(BUNDLE)
    (root / "app.js.map").write_text('{"version": 3, "mappings": "' + "AAAA;" * 2000 + '"}')
    (root / "site.css").write_text(STYLE)
    (root / "notes.txt").write_text(NOTES)
    return root


def collect(source: Path, target: Path) -> Storage:
    """What collectstatic does: copy the files that changed since the last copy, then post-process all."""
    storage = Storage(location=str(target), base_url="/static/")
    found = {}
    target.mkdir(exist_ok=True)
    for path in sorted(p.name for p in source.iterdir()):
        original, copy = source / path, target / path
        if not copy.exists() or copy.stat().st_mtime_ns < original.stat().st_mtime_ns:
            copy.write_bytes(original.read_bytes())
        found[path] = (FileSystemStorage(location=str(source)), path)
    for _name, _hashed, processed in storage.post_process(found):
        assert not isinstance(processed, Exception), processed
    return storage


def copies(target: Path) -> dict[str, int]:
    """Each compressed copy and the inode-change time that tells whether it was written again."""
    return {p.name: p.stat().st_ctime_ns for p in target.iterdir() if p.suffix in (".br", ".gz")}


def test_a_second_collect_compresses_nothing_and_maps_are_never_compressed(source: Path, tmp_path: Path):
    target = tmp_path / "static"
    storage = collect(source, target)
    first = copies(target)
    hashed_js = storage.hashed_files["app.js"]
    assert {f"{hashed_js}.br", f"{hashed_js}.gz", "app.js.br", "notes.txt.gz"} <= set(first)
    assert not [name for name in first if ".map" in name]
    assert brotli.decompress((target / f"{hashed_js}.br").read_bytes()).decode().startswith("let x")

    collect(source, target)

    assert copies(target) == first  # Django wrote the hashed JS again; its copies stand


def test_a_changed_file_is_compressed_again(source: Path, tmp_path: Path):
    target = tmp_path / "static"
    collect(source, target)
    before = copies(target)
    (source / "notes.txt").write_text("new notes\n" * 300)
    stamp = (target / "notes.txt").stat().st_mtime_ns + 10**9
    os.utime(source / "notes.txt", ns=(stamp, stamp))

    collect(source, target)

    after = copies(target)
    assert after["notes.txt.gz"] != before["notes.txt.gz"]
    assert gzip.decompress((target / "notes.txt.gz").read_bytes()).decode().startswith("new notes")
    assert after["site.css.gz"] == before["site.css.gz"]
