"""Bounded imports (review H4) and scoped references (review M8).

H4: a 1.5 KB xlsx with 序号 in A1 and a value at XFD2000 made calamine build 32.8 M cells (1.36 GB) in the
web worker; one cell at XFD1048576 asked for 512 GB and aborted the process. M8: an import resolved names
across the whole engagement, so an HZ post stored Shenzhen people and rows, and learnt which exist.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import xlsxwriter
from django.utils import translation

from handover.core.limits import memory_limit_apply
from handover.org.models import Role
from handover.registers import catalogue
from handover.registers.io import importing, jobs, reading
from handover.registers.io.template import template_bytes
from handover.registers.models import Form, ImportJob, ImportState, Row
from handover.registers.tasks import import_start
from tests.factories import t8_values
from tests.registers.io_support import Scenery, fill_template, valid_row

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scenery(world):
    return Scenery(world)


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def _far_xlsx(row: int, column: int) -> bytes:
    """The review's file: 序号 in A1 and one value far away (row and column 0-based)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet()
    sheet.write_string(0, 0, "序号")
    sheet.write_number(row, column, 1)
    book.close()
    return out.getvalue()


# A separate process under a 1 GiB address-space limit imports the files as the web worker does
# (import_start: a small file at once), on its own SQLite database, and prints each job's outcome.
_UNDER_1_GIB = """
import json, resource, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from django.utils import translation
from handover.org.models import Role
from handover.registers.tasks import import_start
from handover.registers.models import Row
from tests.factories import World
translation.activate("zh-hans")
world = World()
user = world.login_with(Role.FIRM_IT, site=world.branch_a)
outcomes = []
for path in sys.argv[1:]:
    content = open(path, "rb").read()
    job = import_start(actor=user, engagement=world.engagement, site=world.branch_a, register_no=11,
                       filename=path.rsplit("/", 1)[-1], content=content)
    outcomes.append([len(content), job.state, job.result.get("message", ""), Row.objects.count()])
print(json.dumps(outcomes, ensure_ascii=False))
"""


def test_far_cells_are_refused_before_they_cost_memory_in_a_process_limited_to_1_gib(tmp_path):
    files = {
        "far2k.xlsx": _far_xlsx(1999, 16383),  # XFD2000
        "farthest.xlsx": _far_xlsx(1048575, 16383),  # XFD1048576
        "deep.xlsx": _far_xlsx(1048575, 0),  # A1048576
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "handover.settings.test",
        "HANDOVER_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    env.pop("HANDOVER_TEST_DATABASE", None)
    env.pop("HANDOVER_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", _UNDER_1_GIB, *(str(tmp_path / n) for n in files)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]  # not killed, not aborted by Rust, no MemoryError
    far2k, farthest, deep = json.loads(done.stdout.strip().splitlines()[-1])
    assert far2k[0] < 6000  # a few KB, as in the review
    # 31 columns: 表11 with its 保留理由, the widest register.
    assert far2k[1:] == [
        ImportState.FAILED,
        "far2k.xlsx，工作表 Sheet1，单元格 XFD2000：登记表的列之外有值（最多读取 31 列）。"
        "请删除表格右侧的单元格后重新导入。",
        0,
    ]
    assert farthest[1] == ImportState.FAILED and "单元格 XFD1048576" in farthest[2] and farthest[3] == 0
    assert deep[1:] == [
        ImportState.FAILED,
        "deep.xlsx，工作表 Sheet1：超过 200000 行；一次导入最多 200000 行。请拆分文件。",
        0,
    ]


def test_an_empty_used_range_costs_nothing_and_the_rows_import(scenery):
    """Styled blank cells out to XFD (formatting, no value) are not data: the file imports as usual."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("表11")
    bold = book.add_format({"bold": True})
    template = fill_template(template_bytes(11), [valid_row(11, scenery)], {"日期": "2026-12-01"})
    rows = reading.read_table("t.xlsx", template, bounds=importing.bounds(11))
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            if value not in ("", None):
                sheet.write(r, c, value)
    sheet.write_blank(1999, 16383, None, bold)
    book.close()
    result = importing.register_import(
        actor=scenery.world.login_with(Role.FIRM_IT, site=scenery.world.branch_a),
        engagement=scenery.world.engagement,
        site=scenery.world.branch_a,
        register_no=11,
        filename="styled.xlsx",
        content=out.getvalue(),
    )
    assert result.created == [1]


def _distinct_rows(scenery, count):
    """``count`` valid rows of 表18, each a different document (its natural key)."""
    number_at = 1 + [c.zh for c in catalogue.columns(18)].index("编号")
    rows = [valid_row(18, scenery, seq) for seq in range(1, count + 1)]
    for seq, cells in enumerate(rows, start=1):
        cells[number_at] = f"DOC-{seq}"
    return rows


def test_more_rows_than_the_cap_are_refused_naming_the_cap(scenery, settings):
    settings.HANDOVER_IMPORT_MAX_ROWS = 3
    rows = _distinct_rows(scenery, 4)
    importing.register_import(  # as many as the cap: imported
        actor=scenery.world.login_with(Role.FIRM_IT, site=scenery.world.branch_a),
        engagement=scenery.world.engagement,
        site=scenery.world.branch_a,
        register_no=18,
        filename="three.xlsx",
        content=fill_template(template_bytes(18), rows[:3], {"日期": "2026-12-02"}),
    )
    before = Row.objects.count()
    with pytest.raises(reading.TooManyRows, match="超过 3 行；一次导入最多 3 行"):
        importing.register_import(
            actor=scenery.world.login_with(Role.FIRM_IT, site=scenery.world.branch_a),
            engagement=scenery.world.engagement,
            site=scenery.world.branch_a,
            register_no=18,
            filename="four.xlsx",
            content=fill_template(template_bytes(18), rows, {"日期": "2026-12-01"}),
        )
    assert Row.objects.count() == before

    csv_rows = "\n".join(",".join(str(i) for i in range(12)) for _r in range(3))
    with pytest.raises(reading.DomainError, match=r"t\.csv，第 1 行：超过 40 列"):
        reading.read_table("t.csv", ("," * 20_000 + "\n" + csv_rows).encode(), bounds=reading.Bounds(40, 3))
    with pytest.raises(reading.TooManyRows, match=r"t\.csv：超过 3 行"):
        reading.read_table("t.csv", "\n".join(["a,b"] * 50).encode(), bounds=reading.Bounds(40, 3))


def test_a_small_file_with_many_rows_goes_to_the_task_worker(scenery, monkeypatch):
    monkeypatch.setattr(jobs, "INLINE_MAX_ROWS", 2)
    runs: list[tuple[int | None, str]] = []
    run = jobs.import_job_run

    def spy(*, job_id, max_rows=None):
        runs.append((max_rows, ImportJob.objects.get(pk=job_id).state))
        return run(job_id=job_id, max_rows=max_rows)

    monkeypatch.setattr(jobs, "import_job_run", spy)  # the task (immediate in tests) looks it up there
    content = fill_template(template_bytes(18), _distinct_rows(scenery, 3), {"日期": "2026-12-01"})
    assert len(content) < jobs.BACKGROUND_BYTES
    job = import_start(
        actor=scenery.world.login_with(Role.FIRM_IT, site=scenery.world.branch_a),
        engagement=scenery.world.engagement,
        site=scenery.world.branch_a,
        register_no=18,
        filename="three.xlsx",
        content=content,
    )
    # At once with the web worker's cap, refused by it with nothing stored, then queued without the cap.
    assert runs == [(2, ImportState.QUEUED), (None, ImportState.QUEUED)]
    assert job.state == ImportState.DONE and job.result["created"] == [1, 2, 3], job.errors


def _vm_size() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize")


def test_an_import_job_reaching_the_worker_memory_limit_fails_with_a_message_and_writes_nothing(scenery):
    user = scenery.world.login_with(Role.FIRM_IT, site=scenery.world.branch_a)
    row = ",".join(f'"{cell}"' for cell in valid_row(18, scenery))
    labels = ",".join(importing.frame(18).labels)
    content = ("日期,2026-12-01\n" + labels + "\n" + "\n".join([row] * 150_000)).encode()
    before = Row.objects.count()
    job = ImportJob.objects.create(  # as import_start keeps a large file, in the web worker
        engagement=scenery.world.engagement,
        site=scenery.world.branch_a,
        register_no=18,
        filename="huge.csv",
        content=content,
        sha256="0" * 64,
        created_by=user,
    )
    original = resource.getrlimit(resource.RLIMIT_AS)
    memory_limit_apply(megabytes=(_vm_size() >> 20) + 160)  # what the worker does, with little to spare
    try:
        job = jobs.import_job_run(job_id=job.pk)  # what the worker's task runs
    finally:
        resource.setrlimit(resource.RLIMIT_AS, original)
    assert job.state == ImportState.FAILED
    assert job.result["message"] == (
        "huge.csv 所需内存超过后台任务进程的上限；未写入任何内容。请按站点拆分文件后分别导入。"
    )
    assert Row.objects.count() == before


def test_references_resolve_only_within_the_users_sites_and_say_not_found_alike(scenery):
    """M8: an on-site post at 甲营业部 names a person and a 表8 row of 乙营业部; both are "not found", in the
    words used for names that do not exist, and nothing is stored."""
    world = scenery.world
    other = Form.objects.create(
        engagement=world.engagement,
        site=world.branch_b,
        register_no=8,
        form_no="BB-T08-20261130-001",
        form_date=date(2026, 11, 30),
    )
    Row.objects.create(form=other, seq=1, data=t8_values(world.engagement, world.branch_b))
    post = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    person_at = 1 + [c.key for c in catalogue.columns(11)].index("user_person_id")
    backup_at = 1 + [c.key for c in catalogue.columns(11)].index("pre_backup_ref")
    rows = []
    for seq, (person, backup) in enumerate(
        [
            (world.person_b.name, "BB-T08-20261130-001#1"),  # exist, at 乙营业部
            ("无此人", "BB-T08-20261130-009#1"),  # do not exist
            (f"{world.person_b.name}#{world.person_b.pk}", scenery.target_rows[8]),  # by id; own row
        ],
        start=1,
    ):
        cells = valid_row(11, scenery, seq)
        cells[person_at], cells[backup_at] = person, backup
        rows.append(cells)
    before = (Row.objects.count(), Form.objects.count())
    with pytest.raises(importing.ImportRefused) as refused:
        importing.register_import(
            actor=post,
            engagement=world.engagement,
            site=world.branch_a,
            register_no=11,
            filename="scope.xlsx",
            content=fill_template(template_bytes(11), rows, {"日期": "2026-12-01"}),
        )
    assert (Row.objects.count(), Form.objects.count()) == before
    reasons = {
        (i.row - min(j.row for j in refused.value.issues), i.column): i.reason for i in refused.value.issues
    }
    assert reasons[(0, "使用人")].startswith(f"未找到：{world.person_b.name}。")
    assert reasons[(1, "使用人")].startswith("未找到：无此人。")
    assert reasons[(2, "使用人")].startswith(f"未找到：{world.person_b.name}#{world.person_b.pk}。")
    assert reasons[(0, "权限配置备份")] == "表8 中没有当前有效的行 BB-T08-20261130-001#1。"
    assert reasons[(1, "权限配置备份")] == "表8 中没有当前有效的行 BB-T08-20261130-009#1。"
    assert (2, "权限配置备份") not in reasons


def _with_sheet_data(content: bytes, sheet_data: str) -> bytes:
    """The workbook with its first sheet's <sheetData> replaced."""
    import re
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<sheetData>.*</sheetData>", sheet_data.encode(), data, flags=re.S)
            target.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("sheet_data", "cell"),
    [
        # Cells without r (the standard allows it): each is placed after the previous one of its row.
        ('<sheetData><row r="1">' + '<c t="n"><v>1</v></c>' * 31 + "</row></sheetData>", "AE1"),
        # r not first, with a '>' inside another attribute's value.
        ('<sheetData><row r="2"><c s="0" foo="&gt;>" r="XFD2"><v>1</v></c></row></sheetData>', "XFD2"),
        # A namespace prefix on the cell.
        (
            '<sheetData><row r="3"><x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
            ' r="XFD3"><x:v>1</x:v></x:c></row></sheetData>',
            "XFD3",
        ),
    ],
)
def test_cells_written_otherwise_are_placed_as_calamine_places_them(sheet_data, cell):
    content = _with_sheet_data(_far_xlsx(0, 1), sheet_data)
    with pytest.raises(reading.DomainError, match=f"单元格 {cell}："):
        reading.read_table("odd.xlsx", content, bounds=reading.Bounds(columns=30, max_rows=100))
