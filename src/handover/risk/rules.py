"""Versioned, cited rule data of security management: incident grading, reporting clocks, the risk matrix
and the drill interval. A deployment replaces any of them with a JSON file (HANDOVER_RISK_GRADING_FILE,
docs/risk.md shows its shape); the rules in force name their version and source wherever they are applied.

Sources and their standing (docs/risk.md):
- Grading follows the method of 《证券期货业网络安全事件报告与调查处理办法》(证监会公告〔2021〕12号): five classes
  of information systems (一类~五类, 五类 the most important) × the anomaly of the service capability
  (附件1-2 服务能力异常计算方法), and counts of leaked records, give 特别重大 / 重大 / 较大 / 一般. The thresholds
  below are NOT copied from 附件1-2, which this project does not hold: they are defaults shaped on the 2012
  predecessor (证监会公告〔2012〕46号), of which two values are quoted: 第十二条(四) (较大: a securities firm's
  集中交易 or 网上交易 system interrupted for 5 minutes or more of trading time) and the 重大 item "10万人以上的投资者
  数据发生泄露". ``VERIFIED`` says so, and every page that shows a grade shows it. A deployment enters the 2021
  figures from the official text in its file.
- Clocks: the shape of the 2012 measures (an immediate report, updates while a trading system stays down,
  a written report, an investigation report within 5 working days counted on the exchange calendar); the
  2021 figures must be taken from the text (shared/research/anchors-connectors-risk-trust.md §5.5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from handover.core.errors import DomainError

SOURCE_2021 = "证监会公告〔2021〕12号《证券期货业网络安全事件报告与调查处理办法》"
SOURCE_2012 = "证监会公告〔2012〕46号《证券期货业信息安全事件报告与调查处理办法》"
GRADES = ("extreme", "major", "large", "general")


@dataclass(frozen=True)
class GradeRule:
    """A grade is met by an outage rule (system class at least ``min_class``, impaired at least ``minutes``
    for at least ``pct`` % of users) or by a leak of at least ``leaked`` records."""

    grade: str
    min_class: int = 0
    minutes: int = 0
    pct: Decimal = Decimal(0)
    leaked: int = 0
    source: str = ""

    def matches(self, *, system_class: int, minutes: int, pct: Decimal, leaked: int) -> bool:
        if self.leaked:
            return leaked >= self.leaked
        return system_class >= self.min_class and minutes >= self.minutes and pct >= self.pct


@dataclass(frozen=True)
class Clocks:
    """Reporting clocks: minutes after detection for the immediate and the written report, the update
    interval while a trading system is down (after ``update_after_minutes`` of outage), and the working days
    on the exchange calendar for the investigation report, due at ``day_end`` Beijing time."""

    immediate_minutes: int = 60
    written_hours: int = 24
    update_after_minutes: int = 30
    update_every_minutes: int = 60
    investigation_working_days: int = 5
    remind_before_minutes: int = 30
    day_end: str = "17:00"
    source: str = f"{SOURCE_2012}的报告时限结构；2021年版数值待据原文核对"


@dataclass(frozen=True)
class Matrix:
    """Likelihood × impact → level. ``levels[l-1][i-1]`` is the level of likelihood ``l``, impact ``i``; the
    level names run from the lowest; every row and column must be non-decreasing."""

    size: int
    names: tuple[str, ...]
    levels: tuple[tuple[int, ...], ...]
    source: str = ""

    def level(self, likelihood: int, impact: int) -> int:
        return self.levels[likelihood - 1][impact - 1]


@dataclass(frozen=True)
class RuleSet:
    version: str
    verified: bool
    source: str
    grading: tuple[GradeRule, ...]
    clocks: Clocks
    matrix: Matrix
    drill_interval_days: int = 365
    notes: tuple[str, ...] = field(default_factory=tuple)


_Q = f"{SOURCE_2012} 第十二条(四)"
DEFAULT_GRADING = (
    GradeRule(
        "extreme", min_class=5, minutes=120, pct=Decimal(30), source=f"{SOURCE_2021} 附件1-2 (默认值，待核对)"
    ),
    GradeRule("extreme", leaked=1_000_000, source=f"{SOURCE_2021} 数据泄露 (默认值，待核对)"),
    GradeRule(
        "major", min_class=4, minutes=60, pct=Decimal(10), source=f"{SOURCE_2021} 附件1-2 (默认值，待核对)"
    ),
    GradeRule("major", leaked=100_000, source=f"{SOURCE_2012} 重大事件：10万人以上的投资者数据发生泄露"),
    GradeRule("large", min_class=3, minutes=5, pct=Decimal(0), source=f"{_Q}：交易系统中断累计5分钟以上"),
    GradeRule("large", leaked=10_000, source=f"{SOURCE_2021} 数据泄露 (默认值，待核对)"),
    GradeRule("general", min_class=1, minutes=0, pct=Decimal(0), source=f"{SOURCE_2021} 一般事件 (其余)"),
)
# 5×5, levels 1 低 … 4 极高, by likelihood × impact products (CISO Assistant's critical_risk_matrix_5x5 shape).
_PRODUCT_LEVEL = ((1, 4, 1), (5, 9, 2), (10, 15, 3), (16, 25, 4))
DEFAULT_MATRIX = Matrix(
    size=5,
    names=("低", "中", "高", "极高"),
    levels=tuple(
        tuple(next(lv for lo, hi, lv in _PRODUCT_LEVEL if lo <= li * im <= hi) for im in range(1, 6))
        for li in range(1, 6)
    ),
    source="默认 5×5 矩阵（可能性×影响之积：1–4 低、5–9 中、10–15 高、16–25 极高）",
)
DEFAULT = RuleSet(
    version="handover-default-2026-12",
    verified=False,
    source=f"{SOURCE_2021}（分级方法）；数值为默认值，部署方须据附件1-2原文核对或替换",
    grading=DEFAULT_GRADING,
    clocks=Clocks(),
    matrix=DEFAULT_MATRIX,
)


def _fail(path: str, where: str, problem: str) -> DomainError:
    return DomainError(
        _("Rules file %(path)s, %(where)s: %(problem)s") % {"path": path, "where": where, "problem": problem},
        field="HANDOVER_RISK_GRADING_FILE",
    )


def _grade_rules(path: str, items: Any) -> tuple[GradeRule, ...]:
    if not isinstance(items, list) or not items:
        raise _fail(path, "grading", _("a non-empty list of rules is needed"))
    rules = []
    for number, item in enumerate(items, start=1):
        where = f"grading[{number}]"
        if not isinstance(item, dict) or item.get("grade") not in GRADES or not item.get("source"):
            raise _fail(
                path, where, _("each rule needs a grade (extreme, major, large, general) and a source")
            )
        try:
            rules.append(GradeRule(grade=item["grade"], min_class=int(item.get("min_class", 0)),
                                   minutes=int(item.get("minutes", 0)), pct=Decimal(str(item.get("pct", 0))),
                                   leaked=int(item.get("leaked", 0)), source=str(item["source"])))  # fmt: skip
        except (ValueError, ArithmeticError):
            raise _fail(path, where, _("min_class, minutes, pct and leaked must be numbers")) from None
    return tuple(rules)


def _matrix(path: str, item: Any) -> Matrix:
    try:
        levels = tuple(tuple(int(v) for v in row) for row in item["levels"])
        names = tuple(str(n) for n in item["names"])
    except (KeyError, TypeError, ValueError):
        raise _fail(path, "matrix", _("give levels (rows of numbers) and names")) from None
    size = len(levels)
    if size < 2 or any(len(row) != size for row in levels):
        raise _fail(path, "matrix", _("the levels must be a square of at least 2×2"))
    if any(not 1 <= v <= len(names) for row in levels for v in row):
        raise _fail(path, "matrix", _("every level must be between 1 and the number of names"))
    monotone = all(
        levels[r][c] <= levels[r][c + 1] and levels[c][r] <= levels[c + 1][r]
        for r in range(size) for c in range(size - 1)
    )  # fmt: skip
    if not monotone:
        raise _fail(path, "matrix", _("a level may not fall as likelihood or impact rises"))
    return Matrix(size=size, names=names, levels=levels, source=str(item.get("source", path)))


def parse(path: str, text: str) -> RuleSet:
    """A rule set from a deployment's JSON file; what it leaves out keeps the default."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, _("line %(line)s") % {"line": exc.lineno}, _("not valid JSON")) from None
    if not isinstance(data, dict) or not data.get("version") or not data.get("source"):
        raise _fail(path, "version", _("the file must name its version and its source"))
    clocks = DEFAULT.clocks
    if "clocks" in data:
        try:
            clocks = Clocks(**{**clocks.__dict__, **data["clocks"]})
        except TypeError as exc:
            raise _fail(path, "clocks", str(exc)) from None
    return RuleSet(
        version=str(data["version"]),
        verified=bool(data.get("verified", False)),
        source=str(data["source"]),
        grading=_grade_rules(path, data["grading"]) if "grading" in data else DEFAULT.grading,
        clocks=clocks,
        matrix=_matrix(path, data["matrix"]) if "matrix" in data else DEFAULT.matrix,
        drill_interval_days=int(data.get("drill_interval_days", DEFAULT.drill_interval_days)),
    )


@lru_cache(maxsize=4)
def _load(path: str) -> RuleSet:
    try:
        with open(path, encoding="utf-8") as source:
            return parse(path, source.read())
    except OSError as exc:
        raise _fail(path, "open", exc.strerror or str(exc)) from None


def current() -> RuleSet:
    """The rules in force: the deployment's file if one is set, else the built-in defaults."""
    path = getattr(settings, "HANDOVER_RISK_GRADING_FILE", "")
    return _load(path) if path else DEFAULT


def grade_of(rules: RuleSet, *, system_class: int, minutes: int, pct: Decimal, leaked: int) -> GradeRule:
    """The most severe rule met (rules are tried from the most severe grade down)."""
    ordered = sorted(rules.grading, key=lambda r: GRADES.index(r.grade))
    for rule in ordered:
        if rule.matches(system_class=system_class, minutes=minutes, pct=pct, leaked=leaked):
            return rule
    return GradeRule("general", source=f"{rules.source}: 未达较大以上，按一般")


def vuln_sla_days() -> dict[str, int]:
    """Days to fix per severity (``HANDOVER_VULN_SLA_DAYS``, ``critical=7,high=30,…``); a bad value names it."""
    text = str(getattr(settings, "HANDOVER_VULN_SLA_DAYS", "") or "critical=7,high=30,medium=90,low=120")
    days = {"critical": 7, "high": 30, "medium": 90, "low": 120}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _eq, value = part.partition("=")
        if name.strip() not in days or not value.strip().isdigit() or int(value) < 1:
            raise DomainError(
                _("HANDOVER_VULN_SLA_DAYS: %(part)r is not severity=days (critical, high, medium, low).")
                % {"part": part},
                field="HANDOVER_VULN_SLA_DAYS",
            )
        days[name.strip()] = int(value)
    return days
