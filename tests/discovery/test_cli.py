"""``handover discovery import|gather|findings`` on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from handover.core.actors import system
from handover.discovery import services
from handover.discovery.models import Snapshot
from handover.registers.models import InformationSystem
from handover.vault import services as vault_services
from tests.discovery.conftest import SECRET_CANARY, Hosts, Rules
from tests.factories import World


def _import(world: World, path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    call_command(
        "discovery",
        "import",
        str(path),
        "--engagement",
        world.engagement.code,
        "--site",
        "BA",
        "--system",
        "集中交易",
        "--kind",
        "testlinux",
    )
    return capsys.readouterr().out


def test_import_then_findings_as_json(
    world: World, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "h1.txt"
    path.write_text("root:0:S\nops:1001:S\n")
    out = _import(world, path, capsys)
    assert "2 accounts" in out and "1 findings" in out
    target = tmp_path / "findings.json"
    call_command("discovery", "findings", "--engagement", world.engagement.code, "--json", str(target))
    items = json.loads(target.read_text())
    assert len(items) == 1
    item = items[0]
    assert {"rule", "system", "host", "account", "detail", "evidence"} <= set(item)
    assert (item["rule"], item["system"], item["host"], item["account"]) == (
        "superuser_equivalent",
        "集中交易",
        "h1",
        "ops",
    )
    assert item["evidence"][0]["line"] == 2 and item["evidence"][0]["source"] == "h1.txt"


def test_a_bad_file_exits_with_its_line(
    world: World, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "h1.txt"
    path.write_text("root:0:S\n\nbad\n")
    with pytest.raises(CommandError, match=r"h1\.txt:3"):
        _import(world, path, capsys)
    assert not Snapshot.objects.exists()


def test_gather_runs_in_process_and_prints_outcomes(
    world: World, hosts: Hosts, rules: Rules, vault, data_dir: Path, capsys
) -> None:
    hosts.answers = {"h1": "root:0:S\n"}
    info = InformationSystem.objects.create(engagement=world.engagement, site=world.branch_a, name="集中交易")
    for host in ("h1", "h2"):
        entry = vault_services.secret_put(
            actor=system("test"),
            target=vault_services.Target(
                engagement=world.engagement,
                site=world.branch_a,
                system_name="集中交易",
                hostname=host,
                login_name="collector",
            ),
            secret=SECRET_CANARY,
        )
        services.target_save(
            actor=system("test"), system=info, hostname=host, connector="testlinux", credential=entry
        )
    call_command("discovery", "gather", "--engagement", world.engagement.code, "--site", "BA")
    out = capsys.readouterr().out
    assert "done" in out and "testlinux:h1\tok" in out and "testlinux:h2\tunreachable h2 不可达" in out
    assert SECRET_CANARY not in out


def test_restore_preview_prints_the_difference(
    world: World, hosts: Hosts, rules: Rules, vault, data_dir: Path, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "h1.txt"
    path.write_text("root:0:S\nops:1001:S\n")
    _import(world, path, capsys)
    path.write_text("root:0:S\n")
    _import(world, path, capsys)
    call_command(
        "discovery",
        "restore-preview",
        "--engagement",
        world.engagement.code,
        "--system",
        "集中交易",
        "--host",
        "h1",
    )
    out = capsys.readouterr().out
    assert "changed\tetc/passwd" in out and "-ops:1001:S" in out
    assert "changed\tetc/shadow (sealed" in out and "canary" not in out.lower()
