"""What an imported bundle writes into the registers: the check columns of 表8 / 表14 / 表15 / 表29, and a
draft 表39 entry for every problem (第二十八条: every exception ends with a 表39 entry reported to 技术组).

Each report of the bundle names its system and the register it is evidence for. Its result goes into the
matching row (same site and system, and the same backup path, data item or trading day), which is created
as a draft where none exists; signed rows are never touched (a new draft row is made instead). Values the
agent cannot know (media, seal numbers, signatures) stay empty for a person to fill: the rows are partial
drafts, and the form cannot be submitted until they are complete.

Which 表39 type (registers.md §5.5):
- a failed check of a current or daily backup (表8, 表14, 表29): E05 数据备份异常 (第二十八条第5项);
- a historical-data problem (表15): E06 历史备份数据移交异常 with its sub-type (第二十八条第6项);
- a bundle that came by courier: E08 数据上传异常 (第二十八条第8项);
- signs of tampering or deletion in sealed data are flagged in the entry for immediate report to
  托管工作组 (第二十六条第5项), with their own audit event.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import DomainError
from handover.fixity.bundle import Opened
from handover.fixity.errors import FixityError
from handover.fixity.manifest import parse_ns
from handover.fixity.report import human_bytes
from handover.org.models import Engagement, Phase, Site
from handover.registers import catalogue, inventory
from handover.registers import services as registers
from handover.registers.models import Form, FormState, Row
from handover.registers.validation import looks_like_credential

PASS, FAIL = "通过", "不通过"
TAMPER_KINDS = frozenset({"changed", "size", "missing", "modified_after_seal", "removed"})
# 表15 移交异常类型 by problem kind, worst first (第二十八条第6项).
E06_SUB_TYPES = ("无历史备份", "介质损坏无法读取", "数据不全", "其他无法确认")
_E06_BY_KIND = {
    "unreadable": "介质损坏无法读取",
    "mismatch": "介质损坏无法读取",
    "gap": "数据不全",
    "empty": "数据不全",
    "small": "数据不全",
    "missing": "数据不全",
    "removed": "数据不全",
}
E05, E06, E08 = "E05 数据备份异常", "E06 历史备份数据移交异常", "E08 数据上传异常"
KIND_ZH = {
    "missing": "缺失",
    "extra": "多出",
    "changed": "内容变更",
    "size": "大小不符",
    "moved": "移动",
    "unreadable": "无法读取",
    "mismatch": "类型与扩展名不符",
    "modified_after_seal": "封存后被修改",
    "added": "新增",
    "removed": "删除",
    "gap": "缺少交易日备份",
    "empty": "空备份",
    "small": "备份过小",
    "bad_date": "日期无效",
}
TAMPER_NOTE = "发现原始数据篡改/删除迹象，须立即上报托管工作组（第二十六条第5项）。"
PROBLEMS_IN_REMARKS = 20


@dataclass
class Target:
    """One register row a bundle's reports write into, gathered before anything is written."""

    register: int
    system: str
    match: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    found_at: dt.datetime | None = None


def _worst(old: Any, new: Any) -> Any:
    """Within one bundle the worse finding wins: 不通过 over 通过, 有缺口 over 连续, 是 over 否."""
    if old is None:
        return new
    bad = {FAIL, "有缺口", True, "无法确认"}
    return old if old in bad else new


def _instant(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(parse_ns(text) / 1e9, tz=dt.UTC)
    except (FixityError, ValueError, OverflowError):  # an odd time must not block the import
        return timezone.now()


def _path_text(path: str, system: str) -> str:
    """A path for a text column; one that the secrets check would take for a password is named instead."""
    text = path.strip() or system
    return text if not looks_like_credential(text) else f"{system} 备份（路径见校验报告）"


def _local_day(text: str) -> str:
    return timezone.localtime(_instant(text)).date().isoformat()


def targets_of(opened: Opened) -> list[Target]:
    """Every row the bundle's reports write into, with merged values and the problems that concern it."""
    found: dict[tuple[Any, ...], Target] = {}
    for entry in opened.report_entries:
        report = opened.reports[entry["name"]]
        for target in _targets_of_report(entry, report, opened):
            key = (target.register, target.system, tuple(sorted(target.match.items())))
            merged = found.setdefault(key, Target(target.register, target.system, target.match))
            for column, value in target.values.items():
                merged.values[column] = _worst(merged.values.get(column), value)
            merged.problems += target.problems
            merged.commands.append(report["command"])
            merged.found_at = max(filter(None, (merged.found_at, target.found_at)), default=None)
    return list(found.values())


def _targets_of_report(entry: dict[str, Any], report: dict[str, Any], opened: Opened) -> list[Target]:
    register, command = int(entry["register"]), report["command"]
    finished = _instant(str(report.get("finished", "")))
    if command == "continuity":
        return _continuity_targets(entry, report, finished)
    system, root, problems = entry["system"], str(report.get("root", "")), report["problems"]
    kinds = {p["kind"] for p in problems}
    values = _check_values(register, command, kinds)
    match: dict[str, Any]
    if register == 8:
        match = {"content": _path_text(root, system)}
    elif register == 14:
        match = {"data_name": _path_text(root, system)}
        values |= _digest_values(entry, report, opened)
    elif register == 15:
        match, values["location"] = {}, _path_text(root, system)
    else:
        match = {"trade_date": entry.get("trade_date") or _local_day(str(report.get("started", "")))}
    return [Target(register, system, match, values, list(problems), found_at=finished)]


def _check_values(register: int, command: str, kinds: set[str]) -> dict[str, Any]:
    """The check columns a report of ``command`` decides, from the kinds of problem it found."""
    verdict = FAIL if kinds else PASS
    readable = FAIL if kinds & {"unreadable", "mismatch"} else None
    out: dict[str, Any] = {}
    if register == 8:
        out["readable"] = verdict if command == "check-readable" else readable
    elif register in (14, 29):
        if command in ("verify", "compare"):
            out["integrity"] = verdict
        out["readability"] = verdict if command == "check-readable" else readable
    elif register == 15:
        out["validity"] = verdict if command == "check-readable" else readable
        if command in ("verify", "compare"):
            out["completeness"] = FAIL if kinds & (TAMPER_KINDS | {"unreadable"}) else PASS
            out["tamper_found"] = bool(kinds & TAMPER_KINDS)
    return {k: v for k, v in out.items() if v is not None}


def _digest_values(entry: dict[str, Any], report: dict[str, Any], opened: Opened) -> dict[str, Any]:
    """表14 数据量 and 校验值: the size checked and the digest of the manifest it was checked against."""
    out: dict[str, Any] = {"size": human_bytes(int(report.get("bytes", 0)))}
    manifests = {m["name"]: m for m in opened.index["members"] if m.get("kind") == "manifest"}
    for name in entry.get("manifests", []):
        if name in manifests:
            out["checksum"] = f"manifest sha256 {manifests[name]['sha256']}"
            break
    return out


def _continuity_targets(entry: dict[str, Any], report: dict[str, Any], finished: dt.datetime) -> list[Target]:
    """One 表15 row per system of a continuity report: 连续 or 有缺口 with the missing days."""
    systems = [str(s) for s in report.get("systems", [])]
    rename = {systems[0]: entry["system"]} if entry.get("system") and len(systems) == 1 else {}
    unplaced = [p for p in report["problems"] if p.get("system") not in systems]  # bad_date: a path only
    out = []
    for n, system in enumerate(systems):
        problems = [p for p in report["problems"] if p.get("system") == system] + (unplaced if n == 0 else [])
        gaps = [f"{p['date']}（{KIND_ZH.get(p['kind'], p['kind'])}）" for p in problems if p.get("date")]
        values: dict[str, Any] = {
            "from_date": report.get("start"),
            "to_date": report.get("end"),
            "continuity": "有缺口" if gaps else "连续",
        }
        if gaps:
            values["gaps"] = "、".join(gaps)
        if problems and len({p["date"] for p in problems if p["kind"] == "gap"}) >= int(
            report.get("trading_days") or 1
        ):
            problems = [{**p, "no_history": True} for p in problems]
        out.append(Target(15, rename.get(system, system), {}, values, problems, found_at=finished))
    return out


@dataclass
class Written:
    """What the import wrote, for the bundle's summary and the audit event."""

    rows: dict[str, list[int]] = field(default_factory=dict)
    exceptions: list[int] = field(default_factory=list)
    tamper_rows: list[int] = field(default_factory=list)


class Writer:
    """Writes targets through the registers' services, as ``actor``, for one site of one engagement."""

    def __init__(
        self, *, actor: Actor, engagement: Engagement, site: Site, digest: str, courier_no: str
    ) -> None:
        self.actor, self.engagement, self.site = actor, engagement, site
        self.digest, self.courier_no = digest, courier_no
        self.day = timezone.localdate()
        self.forms: dict[int, Form] = {}
        self.written = Written()
        self.phase = "稳定期" if engagement.phase == Phase.STABILISATION else "交接期"

    def apply(self, targets: list[Target]) -> Written:
        for target in targets:
            self._apply_target(target)
        if self.courier_no and not any(t.register == 14 for t in targets):
            self._exception(None, E08, None, self._courier_text(), system_id=None, found_at=timezone.now())
        return self.written

    def _apply_target(self, target: Target) -> None:
        system = inventory.system_ensure(
            actor=self.actor, engagement=self.engagement, site=self.site, name=target.system
        )
        values = {**target.values, **target.match, "system_id": system.pk}
        if target.register in (14, 15):
            values["site_id"] = self.site.pk
        if target.register == 14:
            values["upload_via"] = "快递" if self.courier_no else "内部网络"
            if self.courier_no:
                values["courier_no"] = self.courier_no
        if target.register == 15 and target.problems and "hist_exception" not in values:
            values["hist_exception"] = self._sub_type(target.problems)
        elif target.register == 15:
            values.setdefault("hist_exception", "无")
        row = self._row(target.register, system.pk, target.match, values)
        self.written.rows.setdefault(str(target.register), []).append(row.pk)
        refs = self._exceptions_for(target, row, system.pk)
        if refs:
            data = {**row.data, "exception_refs": sorted({*row.data.get("exception_refs", []), *refs})}
            _checked(target.register, registers.row_update, actor=self.actor, row=row, data=data,
                     remarks=row.remarks, partial=True)  # fmt: skip

    def _row(self, register: int, system_id: int, match: dict[str, Any], values: dict[str, Any]) -> Row:
        row = self._matching_row(register, system_id, match)
        if row is None:
            return _checked(register, registers.row_add, actor=self.actor, form=self._form(register), data=values,
                            partial=True)  # fmt: skip
        return _checked(
            register,
            registers.row_update,
            actor=self.actor,
            row=row,
            data={**row.data, **values},
            remarks=row.remarks,
            partial=True,
        )

    def _matching_row(self, register: int, system_id: int, match: dict[str, Any]) -> Row | None:
        rows = Row.objects.filter(
            form__engagement=self.engagement,
            form__site=self.site,
            form__register_no=register,
            form__is_current=True,
            form__state__in=(FormState.DRAFT, FormState.SUBMITTED),
            is_current=True,
            signatures__isnull=True,
        ).order_by("-pk")
        wanted = {"system_id": system_id, **match}
        return next((r for r in rows if all(r.data.get(k) == v for k, v in wanted.items())), None)

    def _form(self, register: int) -> Form:
        if register not in self.forms:
            form = (
                Form.objects.filter(
                    engagement=self.engagement,
                    site=self.site,
                    register_no=register,
                    is_current=True,
                    state=FormState.DRAFT,
                )
                .order_by("-form_date", "-pk")
                .first()
            )
            self.forms[register] = form or registers.form_create(
                actor=self.actor, engagement=self.engagement, site=self.site, register_no=register,
                form_date=self.day,
            )  # fmt: skip
        return self.forms[register]

    @staticmethod
    def _sub_type(problems: list[dict[str, Any]]) -> str:
        if any(p.get("no_history") for p in problems):
            return E06_SUB_TYPES[0]
        found = {_E06_BY_KIND.get(p["kind"], "其他无法确认") for p in problems}
        return next(s for s in E06_SUB_TYPES if s in found)

    def _exceptions_for(self, target: Target, row: Row, system_id: int) -> list[int]:
        refs = []
        found_at = target.found_at or timezone.now()
        if target.problems:
            if target.register == 15:
                groups: dict[str, list[dict[str, Any]]] = {}
                for problem in target.problems:
                    sub = self._sub_type([problem])
                    groups.setdefault(sub, []).append(problem)
                for sub in E06_SUB_TYPES:
                    if sub in groups:
                        refs.append(
                            self._problems_entry(target, row, system_id, E06, sub, groups[sub], found_at)
                        )
            else:
                refs.append(
                    self._problems_entry(target, row, system_id, E05, None, target.problems, found_at)
                )
        if target.register == 14 and self.courier_no:
            refs.append(
                self._exception(row, E08, None, self._courier_text(), system_id=system_id, found_at=found_at)
            )
        return refs

    def _problems_entry(
        self,
        target: Target,
        row: Row,
        system_id: int,
        exc_type: str,
        sub_type: str | None,
        problems: list[dict[str, Any]],
        found_at: dt.datetime,
    ) -> int:
        counts = Counter(p["kind"] for p in problems)
        tamper = bool(set(counts) & TAMPER_KINDS) and target.register in (8, 14, 15)
        listed = "、".join(f"{KIND_ZH.get(k, k)} {n}" for k, n in counts.items())
        text = (
            f"表{target.register} {target.system}：{'、'.join(sorted(set(target.commands)))} 校验发现 "
            f"{len(problems)} 个问题（{listed}）。"
        )
        if tamper:
            text = TAMPER_NOTE + text
        remarks = "\n".join(_problem_line(p) for p in problems[:PROBLEMS_IN_REMARKS])
        if len(problems) > PROBLEMS_IN_REMARKS:
            remarks += f"\n… 共 {len(problems)} 项，见导入批次 {self.digest[:12]} 的报告"
        pk = self._exception(
            row, exc_type, sub_type, text, system_id=system_id, found_at=found_at, remarks=remarks
        )
        if tamper:
            self.written.tamper_rows.append(pk)
        return pk

    def _courier_text(self) -> str:
        return f"内部网络不能上传，校验结果以快递方式上交总部（快递单号 {self.courier_no}）。"

    def _exception(
        self,
        row: Row | None,
        exc_type: str,
        sub_type: str | None,
        text: str,
        *,
        system_id: int | None,
        found_at: dt.datetime,
        remarks: str = "",
    ) -> int:
        n = len(self.written.exceptions) + 1
        data: dict[str, Any] = {
            "risk_no": f"FX-{self.digest[:8].upper()}-{n:02d}",  # no lower case: not taken for a secret
            "phase": self.phase,
            "site_id": self.site.pk,
            "system_id": system_id,
            "exc_type": exc_type,
            "sub_type": sub_type,
            "found_at": found_at,
            "source_row_ref": row.pk if row is not None else None,
            "description": text,
            "state": "处理中",
        }
        entry = _checked(
            39,
            registers.row_add,
            actor=self.actor,
            form=self._form(39),
            data={k: v for k, v in data.items() if v is not None},
            remarks=remarks,
            partial=True,
        )
        self.written.exceptions.append(entry.pk)
        return entry.pk


def _checked(register: int, write: Any, **kwargs: Any) -> Row:
    """A register write whose refusal names the register and column (the whole import is then undone)."""
    try:
        row: Row = write(**kwargs)
    except registers.RowInvalid as exc:
        column, messages = next(iter(exc.errors.items()))
        column = next((c.zh for c in catalogue.columns(register) if c.key == column), column)
        raise DomainError(
            _(
                "The bundle cannot be written into 表%(n)d, column %(column)s: %(reason)s Nothing was imported."
            )
            % {"n": register, "column": column, "reason": " ".join(messages)},
            field="file",
        ) from None
    return row


def _problem_line(problem: dict[str, Any]) -> str:
    where = problem.get("path") or " ".join(str(problem.get(k, "")) for k in ("system", "date")).strip()
    return f"{KIND_ZH.get(problem['kind'], problem['kind'])} {where}: {problem.get('detail', '')}"
