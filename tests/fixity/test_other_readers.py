"""What docs/fixity.md says other tools make of the manifest, checked with those tools where they are installed
(bagit-python is in the bench extra; b3sum is a Debian package): every sentence there is one of these tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from handover.fixity import integrity, readable

PLAIN = ("a.txt", "dir with space/b c.txt", "清算/20241008/成交明细.csv")
ODD = ("back\\slash.txt", "new\nline.txt")


def _tree(root: Path, names: tuple[str, ...]) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name * 7)


def _digest_lines(manifest: Path) -> list[bytes]:
    return [line for line in manifest.read_bytes().splitlines() if line and not line.startswith(b"#")]


def test_bagit_takes_the_digest_lines_of_plain_names_under_data(tmp_path: Path) -> None:
    bagit = pytest.importorskip("bagit")
    bag_dir = tmp_path / "bag"
    _tree(bag_dir, PLAIN + ODD)
    bag = bagit.make_bag(str(bag_dir), checksums=["sha256"])
    assert integrity.scan(str(bag_dir / "data"), str(tmp_path / "m.sha256")).ok
    theirs = set((bag_dir / "manifest-sha256.txt").read_bytes().splitlines())
    prefixed = {
        line.lstrip(b"\\").replace(b"  ", b"  data/", 1) for line in _digest_lines(tmp_path / "m.sha256")
    }
    assert len(prefixed & theirs) == len(
        PLAIN
    )  # plain names: the same line once data/ is put before the path
    assert len(theirs) == len(PLAIN) + len(ODD)  # a backslash and a line feed: GNU escapes, not BagIt's
    # The agent only reads: the bag is still valid after every checking command with outputs outside it.
    assert integrity.verify(str(bag_dir / "data"), str(tmp_path / "m.sha256")).ok
    assert readable.check_readable(str(bag_dir)).ok
    bagit.Bag(str(bag_dir)).validate()
    assert bag.is_valid()


@pytest.mark.skipif(shutil.which("b3sum") is None, reason="b3sum (Debian package b3sum) not installed")
def test_b3sum_checks_the_digest_lines_but_not_the_comment_lines(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    _tree(root, PLAIN)
    manifest = tmp_path / "m.b3"
    assert integrity.scan(str(root), str(manifest), algo="blake3").ok
    as_is = subprocess.run(["b3sum", "-c", str(manifest)], cwd=root, capture_output=True)
    assert as_is.returncode == 1 and b"OK" in as_is.stdout
    digest_only = b"\n".join(_digest_lines(manifest)) + b"\n"
    checked = subprocess.run(["b3sum", "-c"], cwd=root, input=digest_only, capture_output=True)
    assert checked.returncode == 0 and checked.stdout.count(b": OK") == len(PLAIN), checked
