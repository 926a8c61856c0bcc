"""The hashing paths that small test trees do not reach: big files (read ahead) and huge ones (mapped in a
child process, BLAKE3 on every core there). The huge-file size is lowered here so that the test file, a little
past BIG_FILE, takes that path too, over several windows and a last partial one."""

from __future__ import annotations

import hashlib
import mmap
import os
import subprocess
import sys
from pathlib import Path

import blake3
import pytest

from handover.fixity import hashing, integrity
from handover.fixity.integrity import Options

ALGOS = ("sha256", "sm3", "blake3")


def reference(algo: str, data: bytes) -> bytes:
    return blake3.blake3(data).digest() if algo == "blake3" else hashlib.new(algo, data).digest()


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file past BIG_FILE whose size is not a multiple of the read-ahead buffer."""
    path = tmp_path_factory.mktemp("big") / "dump.bin"
    path.write_bytes(os.urandom(hashing.BIG_FILE + 3 * hashing.BIG_BUFFER_SIZE // 2 + 7))
    return path


@pytest.mark.parametrize("algo", ALGOS)
def test_big_file_digest_is_the_reference(big: Path, algo: str) -> None:
    digest, size, mtime_ns = hashing.FileHasher(algo).digest_file(str(big))
    assert digest == reference(algo, big.read_bytes())
    assert (size, mtime_ns) == (big.stat().st_size, big.stat().st_mtime_ns)


@pytest.fixture
def mapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files from BIG_FILE up are mapped, a window of 16 allocation units at a time (forked workers inherit
    the patched values)."""
    monkeypatch.setattr(hashing, "MAP_FILE", hashing.BIG_FILE)
    monkeypatch.setattr(hashing, "MAP_WINDOW", 16 * mmap.ALLOCATIONGRANULARITY)


@pytest.mark.parametrize("algo", ALGOS)
def test_a_mapped_file_digest_is_the_reference(big: Path, mapped: None, algo: str) -> None:
    digest, size, _ = hashing.FileHasher(algo).digest_file(str(big))
    assert (digest, size) == (reference(algo, big.read_bytes()), big.stat().st_size)


def _shrink_after_first_window(name: str) -> object:
    """A map_window that, in the child hashing ``name``, truncates that file right after mapping its second
    window: the window's pages are gone, and touching them raises SIGBUS."""
    original = hashing.map_window

    def shrinking(fd: int, offset: int, length: int) -> mmap.mmap:
        window = original(fd, offset, length)
        path = os.readlink(f"/proc/self/fd/{fd}")
        if offset > 0 and path.endswith(name):
            os.truncate(path, offset)  # the window just mapped now lies past the end of the file
        return window

    return shrinking


def test_a_file_that_shrinks_under_the_mapping_kills_only_its_reader(
    big: Path, tmp_path: Path, mapped: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "shrinks.bin"
    path.write_bytes(big.read_bytes())
    monkeypatch.setattr(hashing, "map_window", _shrink_after_first_window("shrinks.bin"))
    with pytest.raises(hashing.UnstableFile, match="shrank"):
        hashing.FileHasher("blake3").digest_file(str(path))


SHRINK_UNDER_FAULTHANDLER = """
import faulthandler, mmap, sys
from handover.fixity import hashing
sys.path.insert(0, {tests!r})
from test_hashing import _shrink_after_first_window
assert faulthandler.is_enabled()
hashing.MAP_FILE, hashing.MAP_WINDOW = 1, 16 * mmap.ALLOCATIONGRANULARITY
hashing.map_window = _shrink_after_first_window("shrinks.bin")
try:
    hashing.FileHasher("blake3").digest_file({path!r})
except hashing.UnstableFile as exc:
    print("reported:", exc)
"""


def test_the_sigbus_of_a_shrinking_file_prints_no_fatal_error(big: Path, tmp_path: Path) -> None:
    """The reading child dies of SIGBUS by design; with faulthandler on (pytest, ``-X faulthandler``) it
    used to print a "Fatal Python error" traceback on the terminal of a run that was going well."""
    path = tmp_path / "shrinks.bin"
    path.write_bytes(big.read_bytes())
    script = SHRINK_UNDER_FAULTHANDLER.format(tests=str(Path(__file__).parent), path=str(path))
    done = subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", script], capture_output=True, text=True, check=False
    )
    assert "reported: file changed while being read" in done.stdout, done.stderr
    assert "Fatal Python error" not in done.stderr


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_verify_reports_the_file_that_shrank_and_checks_the_others(
    big: Path, tmp_path: Path, mapped: None, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    for name in ("a-shrinks.bin", "b-stays.bin"):
        (root / name).write_bytes(big.read_bytes())
    manifest = tmp_path / "m.sha256"
    assert integrity.scan(str(root), str(manifest), options=Options(jobs=jobs)).ok
    monkeypatch.setattr(hashing, "map_window", _shrink_after_first_window("a-shrinks.bin"))

    report = integrity.verify(str(root), str(manifest), options=Options(jobs=jobs))

    assert [(p.path, "shrank" in p.detail) for p in report.problems] == [(b"a-shrinks.bin", True)]
    assert report.extra["hashed"] == 1  # b-stays.bin, verified; a-shrinks.bin is reported instead


@pytest.mark.parametrize("size", [0, 1, hashing.BUFFER_SIZE, hashing.BUFFER_SIZE + 1])
def test_small_file_digest_at_buffer_edges(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(size))
    assert hashing.FileHasher("sha256").digest_file(str(path))[:2] == (
        reference("sha256", path.read_bytes()),
        size,
    )


def test_other_size_than_expected_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    hasher = hashing.FileHasher("sha256")
    assert hasher.digest_file(str(path), expect_size=4)[:2] == (b"", 5)
    assert hasher.digest_file(str(path), expect_size=5)[0] == reference("sha256", b"12345")


def test_blake3_in_process_then_in_a_pool(big: Path, tmp_path: Path) -> None:
    # A run in this process (jobs=1) and then one with forked workers: had the first started BLAKE3's
    # threads here, the workers would hang on their first big file.
    manifest = tmp_path / "m.blake3"
    assert integrity.scan(str(big.parent), str(manifest), algo="blake3", options=Options(jobs=1)).ok
    assert integrity.verify(str(big.parent), str(manifest), options=Options(jobs=2)).ok


@pytest.mark.parametrize("jobs", [1, 2])
def test_big_file_changed_or_resized_is_found(big: Path, tmp_path: Path, jobs: int) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    data = big.read_bytes()
    (root / "same-size.bin").write_bytes(data)
    (root / "longer.bin").write_bytes(data)
    manifest = tmp_path / "m.sha256"
    assert integrity.scan(str(root), str(manifest), options=Options(jobs=jobs)).ok
    (root / "same-size.bin").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    (root / "longer.bin").write_bytes(data + b"!")

    report = integrity.verify(str(root), str(manifest), options=Options(jobs=jobs))

    assert {(p.kind, p.path) for p in report.problems} >= {
        ("changed", b"same-size.bin"),
        ("size", b"longer.bin"),
    }
    assert report.extra["hashed"] == 1  # the resized file was not read
