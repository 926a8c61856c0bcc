"""The manifest format: round trips of any name, GNU sha256sum compatibility, truncation caught."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handover.fixity import integrity, manifest
from handover.fixity.errors import ManifestError
from handover.fixity.manifest import Header, ManifestEntry, ManifestReader, ManifestWriter, escape_name, load

# A name a walk of a tree gives: no "/" or NUL in a component, and no "." component (a manifest's leading "./",
# as `find . -exec sha256sum` writes it, is the root: manifest.py).
component = st.binary(min_size=1, max_size=12).filter(
    lambda b: b"/" not in b and b"\0" not in b and b != b"."
)
names = st.lists(component, min_size=1, max_size=4).map(b"/".join)
entries = st.lists(
    st.tuples(
        names, st.binary(min_size=32, max_size=32), st.integers(0, 2**62), st.integers(-(2**62), 2**62)
    ),
    max_size=20,
    unique_by=lambda t: t[0],
)


def _write(items: list[ManifestEntry], header: Header) -> bytes:
    out = io.BytesIO()
    writer = ManifestWriter(out, header)
    for entry in items:
        writer.write(entry)
    writer.finish()
    return out.getvalue()


@settings(max_examples=200, deadline=None)
@given(entries, names, st.integers(0, 2**62))
def test_any_names_round_trip(items: list[tuple[bytes, bytes, int, int]], root: bytes, created: int) -> None:
    written = [ManifestEntry(path, digest.hex(), size, mtime) for path, digest, size, mtime in items]
    data = _write(written, Header("sm3", root, created, "host", "tool", native=True))
    reader = ManifestReader(io.BytesIO(data))
    assert list(reader) == written
    assert (reader.header.algorithm, reader.header.root, reader.header.created_ns) == ("sm3", root, created)


@given(names)
def test_escaping_leaves_no_raw_newline(name: bytes) -> None:
    prefix, escaped = escape_name(name)
    assert b"\n" not in escaped and b"\r" not in escaped
    assert bool(prefix) == any(c in name for c in (b"\\", b"\n", b"\r"))


def test_cut_short_manifest_is_refused() -> None:
    data = _write(
        [ManifestEntry(b"a", "0" * 64, 1, 0), ManifestEntry(b"b", "1" * 64, 2, 0)], Header(native=True)
    )
    for cut in (data[: data.rindex(b"# end")], data[:-5]):
        with pytest.raises(ManifestError):
            list(ManifestReader(io.BytesIO(cut)))


def test_end_line_must_agree() -> None:
    data = _write([ManifestEntry(b"a", "0" * 64, 1, 0)], Header(native=True)).replace(b"1 files", b"2 files")
    with pytest.raises(ManifestError, match="end line"):
        list(ManifestReader(io.BytesIO(data)))


def test_plain_sha256sum_output_is_read(tmp_path: Path) -> None:
    (tmp_path / "a b").write_bytes(b"x")
    out = subprocess.run(["sha256sum", "a b"], cwd=tmp_path, capture_output=True, check=True).stdout
    (tmp_path / "plain.sha256").write_bytes(out)
    header, table = load(tmp_path / "plain.sha256")
    assert not header.native and list(table) == [b"a b"]


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="GNU coreutils not installed")
def test_gnu_sha256sum_checks_our_manifest(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "sub").mkdir(parents=True)
    for name in (
        b"plain.txt",
        b"with space",
        b"back\\slash",
        b"new\nline",
        b"car\rriage",
        b"gbk-\xc9\xcf\xba\xa3",
    ):
        (root / "sub" / os.fsdecode(name)).write_bytes(name * 3)
    manifest = tmp_path / "m.sha256"
    assert integrity.scan(str(root), str(manifest)).ok
    checked = subprocess.run(
        ["sha256sum", "--check", "--strict", str(manifest)], cwd=root, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(b": OK") == 6
    (root / "sub" / "with space").write_bytes(b"changed")
    assert (
        subprocess.run(["sha256sum", "--check", str(manifest)], cwd=root, capture_output=True).returncode == 1
    )


@settings(max_examples=200, deadline=None)
@given(entries, st.booleans())
def test_fast_load_agrees_with_reading_line_by_line(
    items: list[tuple[bytes, bytes, int, int]], crlf: bool
) -> None:
    written = [ManifestEntry(path, digest.hex(), size, mtime) for path, digest, size, mtime in items]
    data = _write(written, Header("blake3", b"/srv", 1, "host", "tool", native=True))
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    fast = manifest._load_as_written(io.BytesIO(data))
    header, table = manifest._load_read(io.BytesIO(data), algorithm="sha256", lenient=False)
    plain = not crlf and all(not set(path) & set(b"\\\n\r") for path, *_ in items) and items
    assert (fast is not None) == bool(plain)  # it takes every manifest as written, and nothing else
    if fast is not None:
        assert fast[1] == table and list(fast[1]) == list(table)
        assert (fast[0].algorithm, fast[0].root, fast[0].created_ns) == (header.algorithm, header.root, 1)


def test_fast_load_leaves_faults_to_the_line_reader(tmp_path: Path) -> None:
    good = _write(
        [ManifestEntry(b"a", "0" * 64, 1, 0), ManifestEntry(b"b", "1" * 64, 2, 0)], Header(native=True)
    )
    faults = {
        "end line": good.replace(b"2 files", b"3 files"),
        "listed twice": good.replace(b"  b\n", b"  a\n"),
        "after the end": good + b"0" * 64 + b"  c\n",
        "no end line": good[: good.rindex(b"# end")],
    }
    for message, data in faults.items():
        (tmp_path / "m").write_bytes(data)
        with pytest.raises(ManifestError, match=message):
            load(tmp_path / "m")


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="GNU coreutils not installed")
def test_find_dot_sha256sum_manifest_verifies_and_compares_without_moves(tmp_path: Path) -> None:
    """`find . -type f -exec sha256sum {} +`, the commonest hand-made manifest, names files ./x (review §4)."""
    root = tmp_path / "tree"
    (root / "清算" / "20241008").mkdir(parents=True)
    for name in ("a.txt", "dir with space/b c.txt", "清算/20241008/成交明细.csv", "back\\slash.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name * 3)
    found = subprocess.run(
        ["find", ".", "-type", "f", "-exec", "sha256sum", "{}", "+"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    assert found.count(b"  ./") == 4 and b"  ./back\\\\slash.txt" in found  # escaped as GNU does
    (tmp_path / "find.sha256").write_bytes(found)
    report = integrity.verify(str(root), str(tmp_path / "find.sha256"))
    assert report.ok, report.problems
    assert integrity.scan(str(root), str(tmp_path / "ours.sha256")).ok
    compared = integrity.compare(str(tmp_path / "find.sha256"), str(tmp_path / "ours.sha256"))
    assert compared.ok, compared.problems
    (root / "a.txt").rename(root / "a2.txt")
    moved = integrity.verify(str(root), str(tmp_path / "find.sha256"))
    assert [(p.kind, p.path) for p in moved.problems] == [("moved", b"a2.txt")]
