"""scan, verify and compare on generated trees with known faults, for every algorithm."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from handover.fixity import integrity
from handover.fixity.integrity import Options
from tests.fixity.trees import clean_tree, copy_tree

ALGOS = ("sha256", "sm3", "blake3")


def kinds(report: integrity.Report) -> set[tuple[str, str]]:
    return {(p.kind, (p.path or b"").decode("utf-8", "backslashreplace")) for p in report.problems}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = clean_tree(tmp_path_factory.mktemp("pristine") / "tree")
    (root / "names").mkdir()
    for name in (b"with space", b"new\nline", b"back\\slash", b"gbk-\xc9\xcf\xba\xa3"):
        (root / "names" / os.fsdecode(name)).write_bytes(name)
    return root


def sealed(pristine: Path, tmp_path: Path, algo: str, jobs: int = 1) -> tuple[Path, Path]:
    root = copy_tree(pristine, tmp_path / "tree")
    manifest = tmp_path / f"manifest.{algo}"
    report = integrity.scan(str(root), str(manifest), algo=algo, options=Options(jobs=jobs))
    assert report.ok, report.problems
    assert report.files == 15 and report.extra["hashed"] == 15
    return root, manifest


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("jobs", [1, 2])
def test_clean_tree_has_no_problem(pristine: Path, tmp_path: Path, algo: str, jobs: int) -> None:
    root, manifest = sealed(pristine, tmp_path, algo, jobs)
    report = integrity.verify(str(root), str(manifest), options=Options(jobs=jobs))
    assert report.ok, report.problems
    assert report.files == 15 and report.bytes == sum(
        p.stat().st_size for p in root.rglob("*") if p.is_file()
    )


@pytest.mark.parametrize("algo", ALGOS)
def test_every_fault_is_reported(pristine: Path, tmp_path: Path, algo: str) -> None:
    root, manifest = sealed(pristine, tmp_path, algo)
    day = root / "counter/20241008"
    original = (day / "notes.txt").read_bytes()
    (day / "notes.txt").write_bytes(original[:-2] + b"!\n")  # same size, other content
    os.utime(day / "notes.txt", ns=(1, 1))  # and an mtime from before the seal: only the digest tells
    (day / "trades.csv").write_bytes(b"shorter")
    (day / "data.bin").unlink()
    (day / "new.txt").write_text("not sealed")
    (root / "names/with space").rename(root / "names/renamed")
    (day / "log.gz").unlink()
    os.mkfifo(day / "log.gz")  # a FIFO where a file was: unreadable even as root
    (day / "files.zip").unlink()
    (day / "files.zip").symlink_to(day / "gone")  # a dangling link where a file was
    later = time.time_ns() + 10**9
    os.utime(day / "clearing.dbf", ns=(later, later))  # touched after sealing, content unchanged

    report = integrity.verify(str(root), str(manifest), options=Options(jobs=2))

    assert kinds(report) == {
        ("changed", "counter/20241008/notes.txt"),
        ("size", "counter/20241008/trades.csv"),
        ("modified_after_seal", "counter/20241008/trades.csv"),
        ("missing", "counter/20241008/data.bin"),
        ("extra", "counter/20241008/new.txt"),
        ("moved", "names/renamed"),
        ("unreadable", "counter/20241008/log.gz"),
        ("unreadable", "counter/20241008/files.zip"),
        ("modified_after_seal", "counter/20241008/clearing.dbf"),
    }
    assert len(report.problems) == 9


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode; the FIFO case covers it")
def test_permission_denied_is_unreadable(pristine: Path, tmp_path: Path) -> None:
    root, manifest = sealed(pristine, tmp_path, "sha256")
    (root / "counter/20241008/notes.txt").chmod(0)
    report = integrity.verify(str(root), str(manifest))
    assert kinds(report) == {("unreadable", "counter/20241008/notes.txt")}


def test_directory_where_a_file_was(pristine: Path, tmp_path: Path) -> None:
    root, manifest = sealed(pristine, tmp_path, "sha256")
    (root / "ta/20241008/ta.sqlite").unlink()
    (root / "ta/20241008/ta.sqlite").mkdir()
    report = integrity.verify(str(root), str(manifest))
    assert kinds(report) == {("unreadable", "ta/20241008/ta.sqlite")}


class Interrupt(Exception):
    pass


def stop_after(n: int) -> integrity.Hook:
    seen: list[bytes] = []

    def hook(path: bytes) -> None:
        seen.append(path)
        if len(seen) == n:
            raise Interrupt

    return hook


@pytest.mark.parametrize("jobs", [1, 2])
def test_scan_resumes_without_rehashing(pristine: Path, tmp_path: Path, jobs: int) -> None:
    root = copy_tree(pristine, tmp_path / "tree")
    manifest = tmp_path / "m.txt"
    with pytest.raises(Interrupt):
        integrity.scan(str(root), str(manifest), options=Options(jobs=jobs, on_hashed=stop_after(6)))
    assert not manifest.exists() and (tmp_path / "m.txt.partial").exists()
    report = integrity.scan(str(root), str(manifest), options=Options(jobs=jobs))
    assert (report.extra["reused"], report.extra["hashed"]) == (6, 9)
    assert not (tmp_path / "m.txt.partial").exists()
    fresh = tmp_path / "fresh.txt"
    integrity.scan(str(root), str(fresh))
    strip = lambda p: [line for line in p.read_bytes().splitlines() if not line.startswith(b"# created")]  # noqa: E731
    assert strip(manifest) == strip(fresh)


def test_verify_resumes_and_rehashes_a_file_changed_meanwhile(pristine: Path, tmp_path: Path) -> None:
    root, manifest = sealed(pristine, tmp_path, "sha256")
    journal = str(tmp_path / "verify.partial")
    with pytest.raises(Interrupt):
        integrity.verify(
            str(root), str(manifest), journal_path=journal, options=Options(on_hashed=stop_after(5))
        )
    dbf = root / "counter/20241008/clearing.dbf"  # hashed before the interruption, then changed
    dbf.write_bytes(b"X" * dbf.stat().st_size)
    report = integrity.verify(str(root), str(manifest), journal_path=journal)
    assert report.extra["reused"] == 4 and report.extra["hashed"] == 11
    assert ("changed", "counter/20241008/clearing.dbf") in kinds(report)
    assert not os.path.exists(journal)


def test_compare_reports_changes_since_the_seal(pristine: Path, tmp_path: Path) -> None:
    root, old = sealed(pristine, tmp_path, "blake3")
    day = root / "counter/20241008"
    (day / "notes.txt").write_text("rewritten after the seal")
    (day / "data.bin").unlink()
    (day / "added.txt").write_text("new")
    (day / "plain.tar").rename(day / "moved.tar")
    later = time.time_ns() + 10**9
    os.utime(day / "clearing.dbf", ns=(later, later))
    new = tmp_path / "new.blake3"
    integrity.scan(str(root), str(new), algo="blake3")
    report = integrity.compare(str(old), str(new))
    assert kinds(report) == {
        ("changed", "counter/20241008/notes.txt"),
        ("modified_after_seal", "counter/20241008/notes.txt"),
        ("removed", "counter/20241008/data.bin"),
        ("added", "counter/20241008/added.txt"),
        ("moved", "counter/20241008/moved.tar"),
        ("modified_after_seal", "counter/20241008/clearing.dbf"),
    }
    assert integrity.compare(str(old), str(old)).ok


def test_max_rate_slows_reading(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree/big").write_bytes(b"\0" * (3 << 20))
    started = time.monotonic()
    integrity.scan(str(tmp_path / "tree"), str(tmp_path / "m"), options=Options(max_rate=10e6))
    assert time.monotonic() - started >= 0.25  # 3 MiB at 10 MB/s: about 0.3 s, not milliseconds


@pytest.mark.parametrize("jobs", [1, 2])
def test_verify_against_plain_sha256sum_output(pristine: Path, tmp_path: Path, jobs: int) -> None:
    # No sizes in the manifest: every listed file is hashed, and extras are sized by a stat of their own.
    root = copy_tree(pristine, tmp_path / "tree")
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and "\n" not in p.name)
    out = subprocess.run(["sha256sum", "--", *files], cwd=root, capture_output=True, check=True).stdout
    (tmp_path / "plain.sha256").write_bytes(out)
    (root / "counter/20241008/notes.txt").write_text("other text, other size")
    (root / "counter/20241008/data.bin").rename(root / "counter/20241008/data.moved")
    (root / "counter/20241008/trades.csv").unlink()

    report = integrity.verify(str(root), str(tmp_path / "plain.sha256"), options=Options(jobs=jobs))

    found = kinds(report)
    assert {
        ("changed", "counter/20241008/notes.txt"),
        ("moved", "counter/20241008/data.moved"),
        ("missing", "counter/20241008/trades.csv"),
    } <= found
    assert {kind for kind, _ in found} <= {"changed", "moved", "missing", "extra"}


def test_a_verify_of_a_few_files_runs_in_one_process_with_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    root = tmp_path / "tree"
    root.mkdir()
    for name in ("a.dbf", "b.dbf"):
        (root / name).write_bytes(name.encode() * 1000)
    manifest = tmp_path / "m.sha256"
    assert integrity.scan(str(root), str(manifest), options=integrity.Options(jobs=1)).ok
    (root / "b.dbf").write_bytes(b"c.dbf" * 1000)  # same size, other bytes
    started = workers_started(monkeypatch)
    monkeypatch.setattr(integrity, "SMALL_MANIFEST", 16 << 10)  # the real threshold (conftest sets 0)
    small = integrity.verify(str(root), str(manifest), options=integrity.Options(jobs=2))
    monkeypatch.setattr(integrity, "SMALL_TOTAL", 10_000)  # two files of 5,000 bytes: as if two big dumps
    big = integrity.verify(str(root), str(manifest), options=integrity.Options(jobs=2))
    monkeypatch.setattr(integrity, "SMALL_MANIFEST", 0)
    pooled = integrity.verify(str(root), str(manifest), options=integrity.Options(jobs=2))
    assert started == [1, 2, 2]
    assert [(p.kind, p.path) for p in big.problems] == [(p.kind, p.path) for p in small.problems]
    found = [(p.kind, p.path) for p in small.problems]
    assert found == [(p.kind, p.path) for p in pooled.problems] and ("changed", b"b.dbf") in found
    assert {path for _kind, path in found} == {b"b.dbf"}


def test_one_big_file_is_checked_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers would add nothing to a single file (BLAKE3 puts every core on a huge one in its mapping child)."""

    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "dump.bin").write_bytes(b"d" * 5000)
    manifest = tmp_path / "m.sha256"
    assert integrity.scan(str(tmp_path / "tree"), str(manifest), options=integrity.Options(jobs=1)).ok
    started = workers_started(monkeypatch)
    monkeypatch.setattr(integrity, "SMALL_MANIFEST", 16 << 10)
    monkeypatch.setattr(integrity, "SMALL_TOTAL", 1000)  # the one file is "big"
    assert integrity.verify(str(tmp_path / "tree"), str(manifest), options=integrity.Options(jobs=2)).ok
    assert started == [1]


@pytest.mark.parametrize("seconds", [0.0, 3600.0])
def test_the_journal_is_written_once_its_second_is_up(
    pristine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: float
) -> None:
    """Written every JOURNAL_FLUSH_SECONDS: with 0, from the first file on; with an hour, never by a run that
    ends first (a run too short to be worth resuming pays nothing for its journal)."""
    monkeypatch.setattr(integrity, "JOURNAL_FLUSH_SECONDS", seconds)
    root, manifest = sealed(pristine, tmp_path, "sha256")
    journal = tmp_path / "verify.partial"
    seen: list[bool] = []
    hook = lambda _path: seen.append(journal.exists())  # noqa: E731
    report = integrity.verify(
        str(root), str(manifest), journal_path=str(journal), options=Options(on_hashed=hook)
    )
    assert report.ok and len(seen) == report.extra["hashed"] > 2
    assert any(seen[1:]) is (seconds == 0.0)
    assert not journal.exists()


def workers_started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``jobs`` of every ``parallel.Workers`` made from now on, in order (1: the run stayed in this process)."""
    from handover.fixity import parallel

    started: list[int] = []
    original = parallel.Workers.__init__

    def recording(self: parallel.Workers, jobs: int, *args: object) -> None:
        started.append(jobs)
        original(self, jobs, *args)

    monkeypatch.setattr(parallel.Workers, "__init__", recording)
    return started
