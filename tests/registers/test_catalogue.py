"""The register index against the guideline's own 目录, character for character."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handover.org.models import Role
from handover.registers import catalogue
from handover.registers.signing import footer_roles

GUIDELINE = Path(__file__).resolve().parents[2] / "docs" / "guideline.zh.txt"  # vendored: docs/guideline.md


def guideline_toc() -> list[tuple[int, str]]:
    """The registers the 目录 lists, with the page-break line breaks of the source text removed."""
    text = GUIDELINE.read_text(encoding="utf-8")
    toc = re.sub(
        r"\s+", "", text[text.index("附件三：准备期系统摸底表汇总表") : text.index("第一章 总则 第一条")]
    )
    return [(int(n), name) for n, name in re.findall(r"表(\d+)：(.+?)(?=表\d+：|附件[一二三四五]|$)", toc)]


def test_the_41_registers_match_the_guideline_table_of_contents():
    expected = guideline_toc()
    assert len(expected) == 41
    assert [(spec.number, spec.name_zh) for spec in catalogue.REGISTERS] == expected


def test_the_alias_of_table_4_is_the_name_article_20_uses():
    assert catalogue.get(4).alias in GUIDELINE.read_text(encoding="utf-8")


def test_annexes_and_phases():
    assert {s.number for s in catalogue.REGISTERS if s.phase == catalogue.PREPARATION} == {1, 2, 3, 4}
    assert catalogue.get(24).annex == "附件四" and catalogue.get(25).phase == catalogue.STABILISATION
    assert catalogue.get(34).title == "表34：技术资料登记表"


def test_dual_signature_and_finance_registers_follow_the_specification():
    # registers.md §1.2 (★) and §1 footer (财); 表29 and 表30 by their 执行/复核 columns (§3.4, 第三十一条第6项: C20).
    assert {s.number for s in catalogue.REGISTERS if s.dual_signature} == {
        29,
        30,
        8,
        9,
        10,
        13,
        14,
        26,
        27,
        28,
        31,
        36,
        37,
    }
    assert {s.number for s in catalogue.REGISTERS if s.finance_signs} == {16, 17, 19, 32, 33, 35, 36}


def test_an_unknown_register_number_is_a_clear_error():
    with pytest.raises(KeyError, match="表1 to 表41"):
        catalogue.get(42)


def test_each_register_declares_whether_it_is_computed_annexed_and_who_signs_its_footer():
    # registers.md §3.2 (computed), 表24 (its annexes: 5–23 and 39), §1 and §3.1 (footers).
    assert {s.number for s in catalogue.REGISTERS if s.computed} == {6, 24}
    assert {s.number for s in catalogue.REGISTERS if s.annexed} == {*range(5, 24), 39}
    tech, onsite, finance, firm_it = Role.TECH_GROUP, Role.ONSITE_POST, Role.FIRM_FINANCE, Role.FIRM_IT
    assert {s.number for s in catalogue.REGISTERS if s.footer == (tech,)} == {1, 2, 3, 4, 24}
    assert catalogue.get(8).footer == (onsite, firm_it)
    assert catalogue.get(19).footer == (onsite, finance, firm_it)
    approved = [s for s in catalogue.REGISTERS if s.tech_group_signs]
    assert approved and all(s.footer[-1] == tech for s in approved)
    assert all(
        footer_roles(s.number) == s.footer for s in catalogue.REGISTERS
    )  # the one policy reads the spec
