"""The content-addressed file store behind register attachments and workflow evidence (handover.core.filestore):
real files in a real folder, real threads for the concurrent case."""

from __future__ import annotations

import hashlib
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from handover.core import filestore
from handover.core.filestore import FileStore

SCAN = b"%PDF-1.4\n" + bytes(range(256)) * 4000  # about 1 MiB: more than one chunk when read back


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_a_file_is_stored_under_its_sha256(tmp_path):
    store = FileStore(tmp_path / "store")
    kept = store.put([SCAN[:1000], SCAN[1000:]], limit=None)
    digest = hashlib.sha256(SCAN).hexdigest()
    assert kept.sha256 == digest and kept.size == len(SCAN)
    assert kept.path == tmp_path / "store" / digest[:2] / digest and kept.path.read_bytes() == SCAN
    with store.open(digest) as handle:
        assert handle.read() == SCAN


def test_the_same_content_twice_is_one_file_and_repairs_a_damaged_copy(tmp_path):
    store = FileStore(tmp_path)
    first = store.put([SCAN], limit=None)
    second = store.put(filestore.read_chunks(io.BytesIO(SCAN)), limit=None)
    assert first == second and files_in(tmp_path) == [f"{first.sha256[:2]}/{first.sha256}"]
    first.path.write_bytes(b"damaged")
    assert store.put([SCAN], limit=None) == first and first.path.read_bytes() == SCAN
    assert files_in(tmp_path) == [f"{first.sha256[:2]}/{first.sha256}"]


def test_past_the_size_limit_nothing_is_left_behind(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(filestore.TooLarge) as refused:
        store.put([SCAN[:600], SCAN[600:1001]], limit=1000)
    assert refused.value.limit == 1000 and files_in(tmp_path) == []
    assert store.put([SCAN[:1000]], limit=1000).size == 1000  # the limit itself is allowed


def test_a_refusal_by_the_caller_or_a_failing_stream_leaves_nothing(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(ValueError, match="not evidence"), store.receive([SCAN], limit=None) as pending:
        assert pending.path.read_bytes() == SCAN and pending.path.parent == tmp_path
        raise ValueError("not evidence")

    def broken():
        yield SCAN[:10]
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        store.put(broken(), limit=None)
    assert files_in(tmp_path) == []


def test_a_tampered_or_missing_file_is_named_and_not_given_out(tmp_path):
    store = FileStore(tmp_path)
    kept = store.put([SCAN], limit=None)
    kept.path.write_bytes(SCAN + b"tampered")
    with pytest.raises(filestore.Changed) as changed:
        store.open(kept.sha256)
    assert changed.value.path == kept.path and str(kept.path) in str(changed.value)
    assert changed.value.found == hashlib.sha256(SCAN + b"tampered").hexdigest()
    kept.path.unlink()
    with pytest.raises(filestore.Missing) as missing:
        store.open(kept.sha256)
    assert str(kept.path) in str(missing.value)


def test_only_a_digest_names_a_stored_file(tmp_path):
    store = FileStore(tmp_path)
    for bad in ("../../etc/passwd", "AB" * 32, "ab" * 31, ""):
        with pytest.raises(ValueError, match="SHA-256"):
            store.path(bad)


def test_concurrent_uploads_of_the_same_content_end_with_one_complete_file(tmp_path):
    store, writers = FileStore(tmp_path), 8
    everyone_mid_upload = threading.Barrier(writers)

    def upload(_n: int) -> filestore.Stored:
        def chunks():
            yield SCAN[:4096]
            everyone_mid_upload.wait()  # all temporary files exist at once; then all rename
            yield SCAN[4096:]

        return store.put(chunks(), limit=None)

    with ThreadPoolExecutor(writers) as pool:
        results = set(pool.map(upload, range(writers)))
    assert len(results) == 1
    (kept,) = results
    assert files_in(tmp_path) == [f"{kept.sha256[:2]}/{kept.sha256}"]
    with store.open(kept.sha256) as handle:
        assert handle.read() == SCAN


def test_a_reader_never_sees_a_half_file_while_the_same_content_is_stored_again(tmp_path):
    store = FileStore(tmp_path)
    digest = store.put([SCAN], limit=None).sha256
    done, seen, failed = threading.Event(), [], []

    def read_meanwhile() -> None:
        while not done.is_set():
            try:
                with store.open(digest) as handle:  # Changed or Missing on a half-written or absent file
                    seen.append(len(handle.read()))
            except filestore.FileStoreError as exc:
                failed.append(exc)

    reader = threading.Thread(target=read_meanwhile)
    reader.start()
    try:
        for _ in range(20):
            store.put([SCAN[:100], SCAN[100:]], limit=None)
    finally:
        done.set()
        reader.join()
    assert failed == [] and seen and set(seen) == {len(SCAN)}


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_file_digest_is_hashlib_over_the_rest_of_the_stream(algorithm):
    stream = io.BytesIO(b"head" + SCAN)
    stream.read(4)
    digest = filestore.file_digest(stream, algorithm)
    assert digest == (hashlib.new(algorithm, SCAN).hexdigest(), len(SCAN))
