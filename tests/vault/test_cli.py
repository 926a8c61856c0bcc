"""``handover vault init|status|seal|rekey|rotate-master`` in this process (its own key keeper); the keeper
process and ``unseal`` are in test_keeper.py, ``put`` in test_capture.py."""

from __future__ import annotations

import io
import json
import stat
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from handover.vault.crypto.shamir import Share, combine
from handover.vault.models import VaultConfig


def run(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    with mock.patch("sys.stdin", io.StringIO(stdin)):
        call_command("vault", *args, stdout=out)
    return out.getvalue()


def test_init_json_prints_every_share_once_and_out_dir_keeps_them_private(db, tmp_path):
    document = json.loads(
        run("init", "--shares", "4", "--threshold", "2", "--format", "json", "--out-dir", str(tmp_path / "s"))
    )
    shares = [Share.decode(s) for s in document["shares"]]
    assert document["threshold"] == 2 and len(shares) == 4
    assert combine(shares[:2]) == combine(shares[2:])
    files = sorted((tmp_path / "s").iterdir())
    assert [f.read_text().strip() for f in files] == document["shares"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert json.loads(run("status", "--format", "json"))["sealed"] is False
    with pytest.raises(CommandError):
        run("init")


def test_status_seal_rekey_and_rotate(db):
    assert run("status").startswith("not initialised")
    first = json.loads(run("init", "--format", "json"))["shares"]
    assert run("status").startswith("unsealed; 3 of 5 shares")
    one = run("rekey", "--shares", "3", "--threshold", "2", stdin=first[0] + "\n")
    assert "1 of 3" in one and VaultConfig.objects.get().threshold == 3
    nonce = one.split("--nonce ", 1)[1].split()[0]
    assert f"rekey ceremony {nonce}: 1 of 3 current shares entered" in run("status")
    rekeyed = json.loads(
        run(
            "rekey",
            "--shares",
            "3",
            "--threshold",
            "2",
            "--nonce",
            nonce,
            "--format",
            "json",
            stdin="\n".join(first[3:]) + "\n",
        )
    )
    assert len(rekeyed["shares"]) == 3 and rekeyed["pending"] and VaultConfig.objects.get().threshold == 3
    assert "pending rekey to set" in run("status")
    with pytest.raises(CommandError, match="rekey"):
        run("rotate-master", "--verify", stdin=rekeyed["shares"][0])
    half = run("rekey", "--verify", stdin=rekeyed["shares"][2])
    assert "1 of 2" in half and "--verify" in half and VaultConfig.objects.get().threshold == 3
    verify_nonce = half.split("--nonce ", 1)[1].split()[0]
    done = run("rekey", "--verify", "--nonce", verify_nonce, stdin=rekeyed["shares"][0])
    assert "verified" in done and VaultConfig.objects.get().threshold == 2
    rotated = run("rotate-master", stdin="\n".join(rekeyed["shares"][:2]))
    assert rotated.count("HOV1-K002") == 3 and "rotate-master --verify" in rotated
    assert VaultConfig.objects.get().key_version == 1
    assert "cancelled" in run("rotate-master", "--cancel")
    rotated = run("rotate-master", stdin="\n".join(rekeyed["shares"][:2]))
    new = [line.split(": ", 1)[1] for line in rotated.splitlines() if line.strip().startswith("share ")]
    assert "verified" in run("rotate-master", "--verify", stdin="\n".join(new[1:]))
    assert VaultConfig.objects.get().key_version == 2
    assert run("seal").strip() == "sealed"
    assert run("status").startswith("sealed")
    with pytest.raises(CommandError, match="封存"):
        run("rekey", stdin=first[0])


def test_init_refuses_bad_parameters(db):
    with pytest.raises(CommandError, match="shares"):
        run("init", "--shares", "2", "--threshold", "3")
    with pytest.raises(CommandError, match="cipher"):
        run("init", "--cipher", "des")
    assert not VaultConfig.objects.exists()
