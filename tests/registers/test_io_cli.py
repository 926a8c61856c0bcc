"""``handover registers template|import|export`` end to end: argv in, files and exit codes out."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handover.audit.models import Event
from handover.cli.main import main
from handover.registers.models import Row
from tests.registers.io_support import Scenery, fill_template, read_calamine, valid_row


@pytest.fixture(autouse=True)
def keep_test_connection(monkeypatch):
    # run_from_argv closes every connection when a command ends, which would close the test's database.
    from django.db import connections

    monkeypatch.setattr(connections, "close_all", lambda: None)


def _run(capsys, *argv):
    try:
        main(["registers", *argv])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_template_command_runs_as_the_installed_script(tmp_path):
    target = tmp_path / "t16.xlsx"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "handover.settings.test", "PYTHONPATH": "src"}
    script = Path(sys.executable).with_name("handover")
    done = subprocess.run(
        [str(script), "registers", "template", "--register", "16", "-o", str(target)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "表16：交接日系统硬件台账" in done.stdout
    assert read_calamine(target.read_bytes())[0][0] == "表16：交接日系统硬件台账"


def test_import_then_export_from_the_command_line(world, tmp_path, capsys):
    scenery = Scenery(world)
    code = world.engagement.code
    template = tmp_path / "t18.xlsx"
    assert _run(capsys, "template", "--register", "18", "-o", str(template))[0] == 0
    rows = [valid_row(18, scenery, n) for n in (1, 2)]
    rows[1][3] = "另一编号"  # 编号 (doc_no) is part of 表18's natural key
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(fill_template(template.read_bytes(), rows, {"日期": "2026-12-01"}))

    status, out, err = _run(
        capsys, "import", "--engagement", code, "--site", "BA", "--register", "18", str(filled)
    )
    assert status == 0, err
    assert "新增 2 行" in out and "新增：序号 1–2" in out
    status, out, _err = _run(
        capsys, "import", "--engagement", code, "--site", "BA", "--register", "18", str(filled)
    )
    assert status == 0 and "新增 0 行，更新 0 行，未变 2 行" in out

    for fmt in ("xlsx", "csv", "pdf"):
        target = tmp_path / f"out.{fmt}"
        status, out, err = _run(
            capsys,
            "export",
            "--engagement",
            code,
            "--register",
            "18",
            "--site",
            "BA",
            "--format",
            fmt,
            "-o",
            str(target),
        )
        assert status == 0, err
        assert "2 张表单、3 行" in out  # with the form the scenery made for references
    assert read_calamine((tmp_path / "out.xlsx").read_bytes())[0][0] == "表18：交接日技术资料登记表"
    table = list(csv.reader(io.StringIO((tmp_path / "out.csv").read_text("utf-8-sig"))))
    assert table[2][:2] == ["序号", "资料类别"]
    assert (tmp_path / "out.pdf").read_bytes().startswith(b"%PDF")
    assert Event.objects.filter(action="registers.export").count() == 3


def test_a_refused_import_exits_non_zero_and_prints_every_error(world, tmp_path, capsys):
    scenery = Scenery(world)
    bad = valid_row(18, scenery)
    bad[1] = "不存在的类别"
    bad[10] = "也许"
    filled = tmp_path / "bad.xlsx"
    from handover.registers.io.template import template_bytes

    filled.write_bytes(fill_template(template_bytes(18), [bad], {"日期": "2026-12-01"}))
    errors = tmp_path / "errors.xlsx"
    before = Row.objects.count()
    status, _out, err = _run(
        capsys,
        "import",
        "--engagement",
        world.engagement.code,
        "--site",
        "BA",
        "--register",
        "18",
        "--errors",
        str(errors),
        str(filled),
    )
    assert status == 1
    assert "第4行，资料类别：请从以下选项中选择" in err
    assert "第4行，是否齐全：请填写“是”或“否”。" in err
    assert errors.read_bytes().startswith(b"PK")
    assert Row.objects.count() == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["export", "--engagement", "nope", "--register", "18", "-o", "x.xlsx"],
            "没有代号为 nope 的托管项目",
        ),
        (["template", "--register", "42", "-o", "x.xlsx"], "表42"),
    ],
)
def test_command_line_mistakes_are_named(db, capsys, argv, message):
    status, _out, err = _run(capsys, *argv)
    assert status == 1 and message in err
