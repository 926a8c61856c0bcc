"""The package zip's digest is taken mostly before the final transaction (jobs._Head): the annexes' part is
hashed once outside it, and the transaction hashes only the small files it appends — after checking the zip is
still the one hashed."""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest
from django.utils import translation

from handover.core.errors import DomainError
from handover.reports.services.jobs import _Head


def _annexes(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("annex/a.xlsx", os.urandom(300_000), compress_type=zipfile.ZIP_STORED)
        archive.writestr("annex/b.pdf", os.urandom(5_000), compress_type=zipfile.ZIP_STORED)


def _append(path: Path, head: _Head) -> None:
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        head.check(path, archive)
        archive.writestr("manifest.json", b'{"files": {}}')


def test_the_digest_is_the_whole_zips_and_the_transaction_reads_only_the_tail(tmp_path):
    zipped = tmp_path / "package.zip"
    _annexes(zipped)
    head = _Head(zipped)
    _append(zipped, head)
    whole = zipped.read_bytes()
    digest = head.digest(zipped)
    assert (digest.hexdigest, digest.size) == (hashlib.sha256(whole).hexdigest(), len(whole))
    assert zipfile.ZipFile(zipped).namelist() == ["annex/a.xlsx", "annex/b.pdf", "manifest.json"]
    # A byte of an annex changed behind the build's back (size and time kept): the tail's hash does not see
    # it, which shows that the annexes' part is not read again inside the transaction.
    stat = zipped.stat()
    with zipped.open("r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(zipped, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert head.digest(zipped).hexdigest == digest.hexdigest


def test_a_zip_changed_after_it_was_hashed_is_refused_before_anything_is_appended(tmp_path):
    zipped = tmp_path / "package.zip"
    _annexes(zipped)
    head = _Head(zipped)
    with zipfile.ZipFile(zipped, "a") as archive:
        archive.writestr("stray.txt", b"written by someone else")
    before = zipped.read_bytes()
    with translation.override("en"), pytest.raises(DomainError, match="changed while it was being built"):
        _append(zipped, head)
    assert zipped.read_bytes() == before
