"""Every article and item the code cites exists in the guideline (trace C32): the citation tests of the registers
and the workflow checked the article only, so a wrong 项 number passed. The guideline's own text
(docs/guideline.zh.txt) is split into its articles by their headings, in order, and each cited 第X条第N项 must
find item N inside article X."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUIDELINE = (ROOT / "docs" / "guideline.zh.txt").read_text(encoding="utf-8")
DIGITS = "一二三四五六七八九"


def chinese(n: int) -> str:
    tens, units = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else DIGITS[tens - 1] + "十")
    return head + ("" if units == 0 else DIGITS[units - 1])


def articles() -> dict[str, str]:
    """Article number (Chinese) → its text: each heading is 第X条 at a line start or after a full stop, not
    followed by 第 (a reference like 第二十八条第5项), searched after the previous heading."""
    starts: dict[str, int] = {}
    position = 0
    for n in range(1, 60):
        heading = re.compile(r"(?:^|[\n。\s])(第" + chinese(n) + r"条)(?!第)", re.M)
        found = heading.search(GUIDELINE, position)
        if found:  # 第十四条 is missing from the published text; the numbering goes on after it
            starts[chinese(n)], position = found.start(1), found.end(1)
    ordered = sorted(starts.items(), key=lambda kv: kv[1])
    ends = [start for _name, start in ordered[1:]] + [len(GUIDELINE)]
    return {name: GUIDELINE[start:end] for (name, start), end in zip(ordered, ends, strict=True)}


def cited_items() -> set[tuple[str, int, str]]:
    found = set()
    for path in (ROOT / "src" / "handover").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for article, item in re.findall(r"第([一二三四五六七八九十]+)条第(\d+)项", text):
            found.add((article, int(item), str(path.relative_to(ROOT))))
    return found


def test_the_headings_are_found_in_order():
    found = articles()
    assert len(found) >= 37 and "二十八" in found and found["二十八"].startswith("第二十八条")
    assert "1. 密码修改异常" in found["二十八"] and "10." in found["二十六"]


def test_every_cited_item_exists_in_its_article():
    found = articles()
    wrong = sorted(
        (f"第{article}条第{item}项", path)
        for article, item, path in cited_items()
        if article not in found
        or not re.search(r"(?:^|[\s。：；）)])" + str(item) + r"[.．、]", found[article])
    )
    assert not wrong, wrong


def test_a_wrong_item_would_be_caught():
    found = articles()
    assert not re.search(r"(?:^|[\s。：；）)])11[.．、]", found["二十六"])  # 第二十六条 has ten items
