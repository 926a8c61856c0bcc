"""Bounded reads of a bundle (review H3): whatever the archive declares, index.json, the signature and the
reports are read up to a bound, and a member that inflates past a bound or MAX_RATIO times its compressed size
is refused with the reason, before the signature is looked at. The review's attack is a "deflate bomb":
index.json of hundreds of MiB of spaces in a zip of about half a megabyte."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from handover.fixity import bundle, keys
from handover.fixity.errors import FixityError
from tests.fixity.test_bundle import _rewrite, packed, trusting  # noqa: F401 (packed is a fixture)

SRC = Path(bundle.__file__).parents[2]


def bomb(path: Path, mib: int, name: str = bundle.INDEX) -> Path:
    """A zip whose ``name`` is ``mib`` MiB of spaces (about 1 KiB compressed per MiB), with an index.sig."""
    block = b" " * (1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open(name, "w", force_zip64=True) as member:
            for _ in range(mib):
                member.write(block)
        if name != bundle.INDEX:
            archive.writestr(bundle.INDEX, b"{}")
        archive.writestr(bundle.SIGNATURE, b"AAAA\n")
    return path


@pytest.fixture(scope="module")
def big_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The review's bomb, larger: 768 MiB of spaces; reading it whole needs more than 1 GiB of memory."""
    return bomb(tmp_path_factory.mktemp("bomb") / "bomb768.zip", 768)


def test_a_bomb_index_is_refused_before_the_key_is_asked_for(tmp_path: Path) -> None:
    path = bomb(tmp_path / "bomb.zip", 64)
    assert path.stat().st_size < 1 << 20
    asked: list[str] = []
    with pytest.raises(bundle.BundleRefused, match=r"index\.json inflates more than 100 times") as refused:
        bundle.open_bundle(path, trusted=lambda key_id: asked.append(key_id))  # type: ignore[func-returns-value]
    assert refused.value.reason == "not_a_bundle" and asked == []


def test_the_agent_refuses_to_peek_into_a_bomb(tmp_path: Path) -> None:
    with pytest.raises(FixityError, match=r"index\.json inflates"):
        bundle.peek_index(bomb(tmp_path / "bomb.zip", 64))


def test_a_member_inflating_past_the_ratio_is_refused_as_a_bomb(
    packed: tuple[Path, keys.SiteKey],  # noqa: F811
    tmp_path: Path,
) -> None:
    out, key = packed
    with zipfile.ZipFile(out) as archive:
        name = next(n for n in archive.namelist() if n.startswith("manifests/"))
    target = tmp_path / "t.zip"
    with zipfile.ZipFile(out) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(
                info.filename, b" " * (8 << 20) if info.filename == name else old.read(info.filename)
            )
    with pytest.raises(bundle.BundleRefused, match="more than 100 times its compressed size") as refused:
        bundle.open_bundle(target, trusted=trusting(key))
    assert refused.value.reason == "not_a_bundle"


def test_a_report_past_its_bound_is_refused_whatever_the_archive_declares(
    packed: tuple[Path, keys.SiteKey],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, key = packed
    monkeypatch.setattr(bundle, "MAX_REPORT_BYTES", 100)
    with pytest.raises(bundle.BundleRefused, match="inflates past 100 bytes"):
        bundle.open_bundle(out, trusted=trusting(key))
    monkeypatch.undo()
    assert bundle.open_bundle(out, trusted=trusting(key)).reports


_UNDER_LIMIT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from handover.fixity import bundle
try:
    bundle.open_bundle(sys.argv[1], trusted=lambda key_id: None)
except bundle.BundleRefused as exc:
    print("REFUSED", exc.reason, exc)
"""


def test_the_review_bomb_under_a_1_gib_address_space_ends_in_the_refusal(big_bomb: Path) -> None:
    """The import runs in a separate process limited to 1 GiB: it must end with the reason, not MemoryError."""
    assert big_bomb.stat().st_size < 1 << 20
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", _UNDER_LIMIT, str(big_bomb)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("REFUSED not_a_bundle index.json inflates"), done.stdout
    assert resource.RLIMIT_AS  # the limit exists on this platform
