"""The column declarations of 表1–表41 against registers.md §3 and the guideline's rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handover.registers import catalogue
from handover.registers.columns import BOOL_CHOICES, CONDITIONAL, Column
from handover.registers.definitions import COLUMNS, HEADER_FIELDS
from handover.registers.validation import clean_row

GUIDELINE = Path(__file__).resolve().parents[2] / "docs" / "guideline.zh.txt"  # vendored: docs/guideline.md
NUMBERS = range(1, 42)
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
ARTICLE = re.compile(r"第[一二三四五六七八九十]+条(第\d+项)?|附件一（[一二三四五六七八九十]+）")
SECRET_WORDS = re.compile(r"password|passwd|pwd|secret|口令|密码", re.IGNORECASE)


def every_column() -> list[tuple[int, Column]]:
    return [(n, c) for n in NUMBERS for c in (*COLUMNS[n], *HEADER_FIELDS.get(n, ()))]


def test_every_register_declares_its_columns():
    assert sorted(COLUMNS) == list(NUMBERS)
    assert set(HEADER_FIELDS) <= set(NUMBERS)
    for n in NUMBERS:
        assert len(COLUMNS[n]) >= 2, f"表{n}"


@pytest.mark.parametrize("number", NUMBERS)
def test_keys_are_unique_snake_case_and_labels_are_unique(number):
    body, header = COLUMNS[number], HEADER_FIELDS.get(number, ())
    keys = [c.key for c in (*body, *header)]
    assert len(keys) == len(set(keys)), f"表{number}: duplicate keys"
    for column in (*body, *header):
        assert SNAKE_CASE.fullmatch(column.key) and column.key.isascii(), column.key
        assert column.zh.strip() and column.en.strip(), column.key
    for group in (body, header):
        labels = [c.zh for c in group]
        assert len(labels) == len(set(labels)), f"表{number}: duplicate Chinese labels"


def test_the_frame_columns_are_left_to_the_engine():
    # registers.md §1: 序号, 备注, the common header and every signature block are added by the engine.
    frame = {"seq", "remarks", "form_no", "form_date", "custodied_org_id", "register_no", "register_name"}
    for n, column in every_column():
        assert not column.key.startswith("sig_"), f"表{n}.{column.key}"
        if n != 24:  # 表24's rows are one per annexed register
            assert column.key not in frame, f"表{n}.{column.key}"


def test_conditions_name_an_enum_or_bool_column_of_the_same_register_and_its_values():
    for n, column in every_column():
        if column.required == CONDITIONAL:
            assert column.condition, f"表{n}.{column.key}: C without the specification's condition"
        if column.required_if is None:
            continue
        assert column.required == CONDITIONAL, f"表{n}.{column.key}"
        other_key, values = column.required_if
        others = {c.key: c for c in (*COLUMNS[n], *HEADER_FIELDS.get(n, ()))}
        assert other_key in others, f"表{n}.{column.key}: no column {other_key}"
        other = others[other_key]
        assert other.type in ("enum", "bool"), f"表{n}.{column.key}: {other_key} is {other.type}"
        allowed = {c.zh for c in (other.choices if other.type == "enum" else BOOL_CHOICES)}
        assert values and set(values) <= allowed, f"表{n}.{column.key}: {set(values) - allowed}"


def test_references_to_registers_name_existing_registers():
    for n, column in every_column():
        if column.type in ("ref", "refs") and column.ref.startswith("T"):
            for target in column.ref.split("|"):
                assert re.fullmatch(r"T\d+", target) and int(target[1:]) in NUMBERS, f"表{n}.{column.key}"


def test_articles_are_written_in_the_guideline_style():
    for n, column in every_column():
        for article in column.articles:
            assert ARTICLE.fullmatch(article), f"表{n}.{column.key}: {article!r}"


def test_cited_articles_exist_in_the_guideline():
    text = re.sub(r"\s+", "", GUIDELINE.read_text(encoding="utf-8"))
    for n, column in every_column():
        for article in column.articles:
            head = re.match(r"第[一二三四五六七八九十]+条|附件一", article)
            assert head and head.group(0) in text, f"表{n}.{column.key}: {article}"


def test_no_register_has_a_column_for_a_secret_value():
    # registers.md §1.3: only where a secret is kept (vault_ref) and yes/no confirmations, never the value.
    for n, column in every_column():
        named_for_secret = any(SECRET_WORDS.search(s) for s in (column.key, column.zh, column.en))
        if named_for_secret and column.type in ("text", "ltext", "att"):
            pytest.fail(f"表{n}.{column.key} ({column.zh}) could hold a secret")
    for n in (9, 10, 27):
        by_key = {c.key: c for c in COLUMNS[n]}
        assert by_key["vault_ref"].type == "text", f"表{n}"
        assert [c.zh for c in by_key["login_verified"].choices] == ["成功", "失败", "未验证"], f"表{n}"
        assert by_key["holders"].type == "refs" and by_key["holders"].ref == "person", f"表{n}"
        confirmation = "secret_captured" if n == 9 else "secret_changed"
        assert by_key[confirmation].type == "bool", f"表{n}"
    assert {c.key: c.ref for c in COLUMNS[9]}["witness"] == "person"


def test_table_34_keeps_the_sourced_layout():
    # registers.md 表34 (SOURCED): | 资料类别 | 资料名称 | 编号 | 存放地点 | 简要说明 | 备注 |, then the designed
    # source link; 备注 is the engine's remarks column.
    assert [(c.key, c.zh) for c in COLUMNS[34]] == [
        ("category", "资料类别"),
        ("title", "资料名称"),
        ("doc_no", "编号"),
        ("location", "存放地点"),
        ("summary", "简要说明"),
        ("source_ref", "来源"),
    ]


@pytest.mark.parametrize(
    ("number", "first"),
    [
        (2, [("system_id", "系统名称", "ref"), ("category", "类别", "enum")]),
        (8, [("system_id", "系统", "ref"), ("asset_id", "主机", "ref"), ("purpose", "备份目的", "enum")]),
        (
            13,
            [("change_no", "操作单号", "text"), ("system_id", "系统", "ref"), ("account_id", "账户", "ref")],
        ),
        (37, [("mnt_no", "维护单号", "text"), ("system_id", "系统", "ref"), ("db", "数据库", "text")]),
        (39, [("risk_no", "编号", "text"), ("phase", "阶段", "enum"), ("site_id", "站点", "ref")]),
    ],
)
def test_first_columns_follow_the_specification(number, first):
    assert [(c.key, c.zh, c.type) for c in COLUMNS[number][: len(first)]] == first


def test_preparation_registers_have_the_report_header():
    for n in (1, 2, 3, 4):
        header = {c.key: c for c in catalogue.header_fields(n)}
        assert header["report_period"].required == "R"
        assert [c.zh for c in header["report_cycle"].choices] == ["月报", "季报"]


def test_computed_registers_say_so():
    for n in (6, 24):
        assert all(c.note.startswith("computed:") for c in COLUMNS[n]), f"表{n}"


def test_continued_registers_take_their_handover_twin_columns():
    keys = {n: [c.key for c in COLUMNS[n]] for n in NUMBERS}
    t10 = [k for k in keys[10] if k not in ("prior_ref", "pre_backup_ref", "exception_refs")]
    assert keys[27] == [*t10, "reason", "strength_ok", "last_changed_on", "next_due_on", "exception_refs"]
    t16 = [k for k in keys[16] if k != "exception_refs"]
    assert keys[32] == [*t16, "movement", "moved_on", "source_ref", "is_key", "redundancy", "exception_refs"]
    assert "disconnected_at" not in keys[38] and {"period", "mode"} <= set(keys[38])


def test_the_catalogue_looks_columns_up():
    assert catalogue.columns(8) == COLUMNS[8]
    assert catalogue.header_fields(5) == ()
    with pytest.raises(KeyError, match="表1 to 表41"):
        catalogue.columns(42)


def test_a_conditional_column_is_enforced_by_validation():
    # 表5: 离职 needs the leave date and a contact after leaving (第二十五条第3项, 第二十八条第2项).
    _, errors = clean_row(catalogue.columns(5), {"employment": "离职"})
    assert {"leave_date", "post_leave_contact"} <= set(errors)
    _, errors = clean_row(catalogue.columns(5), {"employment": "在职"})
    assert not {"leave_date", "post_leave_contact"} & set(errors)
