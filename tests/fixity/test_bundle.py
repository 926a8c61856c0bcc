"""Site keys and signed bundles in the agent: made offline, opened only when signature and members agree."""

from __future__ import annotations

import json
import socket
import stat
import zipfile
from pathlib import Path

import pytest

from handover.fixity import bundle, keys
from handover.fixity.cli import main


def report_file(tmp_path: Path, algo: str = "sha256") -> Path:
    tree = tmp_path / "tree"
    (tree / "day").mkdir(parents=True)
    (tree / "day/a.txt").write_text("a")
    manifest = tmp_path / f"m.{algo}"
    assert main(["scan", str(tree), "-o", str(manifest), "--algo", algo, "--jobs", "1", "-q"]) == 0
    (tree / "day/a.txt").write_text("changed")
    report = tmp_path / "verify.json"
    assert main(["verify", str(tree), "--manifest", str(manifest), "--json", str(report), "-q"]) == 1
    return report


def enrolled(tmp_path: Path) -> tuple[Path, keys.SiteKey]:
    agent = tmp_path / "agent"
    code = main(["enroll", "--engagement", "E1", "--site", "BA", "--export", str(tmp_path / "pub.json"),
                 "--agent-dir", str(agent)])  # fmt: skip
    assert code == 0
    return agent, keys.load(agent)


def trusting(key: keys.SiteKey) -> bundle.KeyLookup:
    return lambda key_id: keys.load_public(key.public) if key_id == key.key_id else None


def test_enrolled_key_is_private_and_its_export_public(tmp_path: Path) -> None:
    agent, key = enrolled(tmp_path)
    stored = agent / keys.PRIVATE_FILE
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    exported = json.loads((tmp_path / "pub.json").read_text())
    assert "private_key" not in exported and exported["key_id"] == key.key_id
    assert keys.parse_public((tmp_path / "pub.json").read_text())["site"] == "BA"
    stored.chmod(0o644)
    with pytest.raises(keys.SiteKeyError, match="may be read by others"):
        keys.load(agent)


def test_a_second_enroll_does_not_overwrite_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent, key = enrolled(tmp_path)
    args = ["enroll", "--engagement", "E1", "--site", "BB", "--export", str(tmp_path / "p2.json")]
    assert main([*args, "--agent-dir", str(agent)]) == 2
    assert "--replace" in capsys.readouterr().err
    assert keys.load(agent).key_id == key.key_id


def test_key_file_from_the_technical_group(tmp_path: Path) -> None:
    issued = keys.generate(engagement="E1", site="BB")
    handed = tmp_path / "handed.json"
    keys.write_private(handed, issued)
    agent = tmp_path / "agent"
    assert main(["enroll", "--key-file", str(handed), "--site", "BA", "--agent-dir", str(agent)]) == 2
    assert main(["enroll", "--key-file", str(handed), "--agent-dir", str(agent)]) == 0
    assert keys.load(agent).key_id == issued.key_id
    document = json.loads(handed.read_text())
    document["public_key"] = keys.generate(engagement="E1", site="BB").public_document()["public_key"]
    handed.write_text(json.dumps(document))
    with pytest.raises(keys.SiteKeyError, match="key id does not match"):
        keys.parse_private(handed.read_text())


@pytest.mark.parametrize("algo", ["sha256", "sm3", "blake3"])
def test_bundle_round_trip(tmp_path: Path, algo: str) -> None:
    report = report_file(tmp_path, algo)
    agent, key = enrolled(tmp_path)
    out = tmp_path / "b.zip"
    args = ["bundle", str(report), "-o", str(out), "--system", "集中交易", "--agent-dir", str(agent)]
    assert main([*args, "--site", "BA"]) == 0
    opened = bundle.open_bundle(out, trusted=trusting(key))
    (entry,) = opened.report_entries
    assert (entry["system"], entry["register"], entry["command"]) == ("集中交易", 14, "verify")
    assert opened.reports[entry["name"]]["algorithm"] == algo
    assert list(opened.manifest_sizes) == entry["manifests"]
    assert opened.index["site"] == "BA" and opened.index["key_id"] == key.key_id


def test_bundle_needs_the_system_and_the_right_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = report_file(tmp_path)
    agent, _ = enrolled(tmp_path)
    base = ["bundle", str(report), "-o", str(tmp_path / "b.zip"), "--agent-dir", str(agent)]
    assert main(base) == 2
    assert "--system" in capsys.readouterr().err
    assert main([*base, "--system", "x", "--site", "BB"]) == 2
    assert "not BB" in capsys.readouterr().err
    assert main([*base, "--system", "x", "--system", "y", "--system", "z"]) == 2
    assert not (tmp_path / "b.zip").exists()


def _rewrite(source: Path, target: Path, change: dict[str, bytes]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info.filename, change.get(info.filename, old.read(info.filename)))


@pytest.fixture
def packed(tmp_path: Path) -> tuple[Path, keys.SiteKey]:
    report = report_file(tmp_path)
    agent, key = enrolled(tmp_path)
    out = tmp_path / "b.zip"
    assert main(["bundle", str(report), "-o", str(out), "--system", "s", "--agent-dir", str(agent)]) == 0
    return out, key


def test_altered_member_is_refused(packed: tuple[Path, keys.SiteKey], tmp_path: Path) -> None:
    out, key = packed
    with zipfile.ZipFile(out) as archive:
        name = next(n for n in archive.namelist() if n.startswith("reports/"))
        data = json.loads(archive.read(name))
    data["problems"] = []
    _rewrite(out, tmp_path / "t.zip", {name: json.dumps(data).encode()})
    with pytest.raises(bundle.BundleRefused, match="altered after signing") as refused:
        bundle.open_bundle(tmp_path / "t.zip", trusted=trusting(key))
    assert refused.value.reason == "altered"


def test_altered_index_fails_the_signature(packed: tuple[Path, keys.SiteKey], tmp_path: Path) -> None:
    out, key = packed
    with zipfile.ZipFile(out) as archive:
        index = archive.read(bundle.INDEX)
    _rewrite(out, tmp_path / "t.zip", {bundle.INDEX: index.replace(b'"BA"', b'"BB"')})
    with pytest.raises(bundle.BundleRefused) as refused:
        bundle.open_bundle(tmp_path / "t.zip", trusted=trusting(key))
    assert refused.value.reason == "bad_signature"


def test_extra_member_unknown_key_and_not_a_zip(packed: tuple[Path, keys.SiteKey], tmp_path: Path) -> None:
    out, key = packed
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr("reports/99-smuggled.json", b"{}")
    with pytest.raises(bundle.BundleRefused, match="not in the index") as refused:
        bundle.open_bundle(out, trusted=trusting(key))
    assert refused.value.reason == "altered"
    with pytest.raises(bundle.BundleRefused) as refused:
        bundle.open_bundle(out, trusted=lambda key_id: None)
    assert refused.value.reason == "unknown_key"
    (tmp_path / "x.zip").write_bytes(b"not a zip")
    with pytest.raises(bundle.BundleRefused) as refused:
        bundle.open_bundle(tmp_path / "x.zip", trusted=trusting(key))
    assert refused.value.reason == "not_a_bundle"


def test_any_flipped_byte_is_refused_or_harmless(packed: tuple[Path, keys.SiteKey], tmp_path: Path) -> None:
    """Damage anywhere in the file: either a refusal with a reason, or (zip timestamps and the like) exactly
    the signed content, never another error and never other content."""
    out, key = packed
    original = bundle.open_bundle(out, trusted=trusting(key))
    data = out.read_bytes()
    damaged = tmp_path / "damaged.zip"
    refused = 0
    for offset in range(len(data)):
        damaged.write_bytes(data[:offset] + bytes([data[offset] ^ 0x40]) + data[offset + 1 :])
        try:
            opened = bundle.open_bundle(damaged, trusted=trusting(key))
        except bundle.BundleRefused as exc:
            assert exc.reason in ("not_a_bundle", "altered", "bad_signature", "unknown_key", "bad_report")
            refused += 1
            continue
        assert (opened.digest, opened.reports) == (original.digest, original.reports), offset
    assert refused > len(data) // 2


def test_unreachable_server_says_what_to_do_instead(
    packed: tuple[Path, keys.SiteKey], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    out, _ = packed
    assert main(["upload", str(out), "--server", closed, "--token", "t"]) == 2
    assert "courier" in capsys.readouterr().err
    args = ["enroll", "--engagement", "E1", "--site", "BA", "--server", closed, "--token", "t"]
    assert main([*args, "--agent-dir", str(tmp_path / "other")]) == 2
    assert "--export" in capsys.readouterr().err and not (tmp_path / "other").exists()
    assert main(["upload", str(out), "--server", "ftp://x", "--token", "t"]) == 2
