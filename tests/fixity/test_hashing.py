"""The hashing paths that small test trees do not reach: big files (read ahead, BLAKE3 on every core)."""

from __future__ import annotations

import hashlib
import os
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


@pytest.mark.parametrize("algo", ALGOS)
def test_big_file_digest_in_pool_workers_is_the_reference(big: Path, tmp_path: Path, algo: str) -> None:
    # In workers BLAKE3 runs on every core (never in this process: see test_blake3_in_process_then_in_a_pool).
    manifest = tmp_path / "m"
    assert integrity.scan(str(big.parent), str(manifest), algo=algo, options=Options(jobs=2)).ok
    digest_line = next(line for line in manifest.read_text().splitlines() if line.endswith("  dump.bin"))
    assert digest_line.split()[0] == reference(algo, big.read_bytes()).hex()


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
