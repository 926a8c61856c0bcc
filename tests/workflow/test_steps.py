"""The 附件二 steps, exception paths and deadline rules as data: consistent with each other, the registers
and the guideline's text."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from handover.registers import catalogue
from handover.workflow import deadlines, paths, steps

GUIDELINE_FILE = (
    Path(__file__).resolve().parents[2] / "docs" / "guideline.zh.txt"
)  # vendored: docs/guideline.md
D = dt.date(2026, 12, 1)


def test_ids_are_unique_and_predecessors_exist_and_come_first():
    assert len(steps.BY_ID) == len(steps.STEPS)
    order = [step.id for step in steps.STEPS]
    for step in steps.STEPS:
        for before in step.after:
            assert before in steps.BY_ID, f"{step.id} waits for unknown {before}"
            assert order.index(before) < order.index(step.id), (
                f"{step.id} listed before its predecessor {before}"
            )


def test_the_ordering_rules_of_the_technical_handover():
    assert "T-01" in steps.BY_ID["T-02"].after and "T-01" in steps.BY_ID["T-03"].after
    assert set(steps.BY_ID["T-10"].after) == {f"T-{n:02d}" for n in range(1, 10)}


def test_registers_named_by_steps_exist_and_every_handover_register_is_produced():
    produced = {number for step in steps.STEPS for number in step.outputs}
    for step in steps.STEPS:
        for number in (*step.inputs, *step.outputs):
            catalogue.get(number)
    assert set(range(5, 25)) - produced == set()


def test_dual_signature_steps_produce_the_registers_marked_for_it():
    for step in steps.STEPS:
        if step.phase == steps.HANDOVER and step.id.startswith("T") and step.dual_signature:
            assert any(catalogue.get(n).dual_signature for n in step.outputs), step.id


def test_articles_cited_are_in_the_guideline():
    GUIDELINE = GUIDELINE_FILE.read_text(encoding="utf-8")
    for step in steps.STEPS:
        for article in step.articles:
            article_only = re.match(r"第[一二三四五六七八九十]+条", article)
            assert article_only and article_only.group(0) in GUIDELINE, (step.id, article)
    for path in paths.PATHS:
        assert re.match(r"第[一二三四五六七八九十]+条", path.article).group(0) in GUIDELINE


def test_a_service_point_gets_no_head_office_steps():
    service = {step.id for step in steps.for_site_level(steps.HANDOVER, steps.SERVICE)}
    assert {"T-01", "T-02", "M-03"} <= service
    assert not {"M-02", "M-04", "T-05", "T-09", "N-04"} & service
    assert "M-02" in {step.id for step in steps.for_site_level(steps.HANDOVER, steps.HQ)}
    assert not steps.for_site_level(steps.PREPARATION, steps.BRANCH)


def test_predecessors_count_only_steps_the_site_has():
    present = {step.id for step in steps.for_site_level(steps.HANDOVER, steps.SERVICE)}
    assert steps.predecessors_missing("T-02", done=set(), present=present) == ("T-01",)
    assert steps.predecessors_missing("T-02", done={"T-01"}, present=present) == ()
    # T-05 and T-09 are not a service point's, so T-10 does not wait for them there.
    done = present - {"T-10", "T-08"}
    assert steps.predecessors_missing("T-10", done=done, present=present) == ("T-08",)


def test_every_exception_a_step_names_has_a_path_and_every_path_closes_with_table39():
    named = {e for step in steps.STEPS for e in step.exceptions}
    assert named <= set(paths.BY_ID) and {f"E{n:02d}" for n in range(1, 11)} <= set(paths.BY_ID)
    for path in paths.PATHS:
        assert path.items[-1].key == paths.CLOSE, path.id
        keys = {item.key for item in path.items}
        assert all(before in keys for item in path.items for before in item.after), path.id


def test_cracking_needs_the_working_groups_consent_and_a_courier_needs_its_number():
    assert paths.next_refusal("E02", {"report_wg"}, "crack", {}) == "after:wg_consent"
    assert paths.next_refusal("E02", {"report_wg"}, "wg_consent", {}) == "record:consent"
    assert (
        paths.next_refusal("E02", {"report_wg"}, "wg_consent", {"consent": "托管工作组函〔2026〕1号"}) == ""
    )
    assert paths.next_refusal("E02", {"report_wg", "wg_consent"}, "crack", {}) == ""
    assert paths.next_refusal("E08", set(), "courier", {}) == "record:courier_no"
    assert paths.next_refusal("E08", set(), paths.CLOSE, {}) == "after:courier"
    assert paths.next_refusal("E08", {"courier"}, paths.CLOSE, {}) == ""


def test_deadlines_are_beijing_time_relative_to_d_and_overridable():
    assert deadlines.due_at("T-02", D) == dt.datetime(2026, 12, 1, 23, 30, tzinfo=deadlines.BEIJING)
    assert deadlines.due_at("T-03", D) == dt.datetime(2026, 12, 2, 6, 0, tzinfo=deadlines.BEIJING)
    assert deadlines.due_at("P-01", D).date() == dt.date(2026, 11, 21)
    later = {"T-02": steps.Deadline(1, "02:00")}
    assert deadlines.due_at("T-02", D, later) == dt.datetime(2026, 12, 2, 2, 0, tzinfo=deadlines.BEIJING)


@pytest.mark.parametrize("step", [s for s in steps.STEPS if s.after], ids=lambda s: s.id)
def test_no_default_deadline_falls_before_a_predecessors(step):
    mine = deadlines.due_at(step.id, D)
    for before in step.after:
        assert deadlines.due_at(before, D) <= mine, f"{step.id} due before its predecessor {before}"


def test_overdue_feedback_and_escalation_with_a_controllable_clock():
    due = deadlines.due_at("T-01", D)  # D 20:00
    at = lambda h, m=0, day=1: dt.datetime(2026, 12, day, h, m, tzinfo=deadlines.BEIJING)  # noqa: E731
    assert not deadlines.is_overdue(due, done_at=None, now=at(19, 59))
    assert deadlines.is_overdue(due, done_at=None, now=at(20, 1))
    assert not deadlines.is_overdue(due, done_at=at(21), now=at(22))  # done late is not overdue
    # 第二十七条第2项: feedback is owed by the end of that day; escalation only after it.
    assert not deadlines.needs_escalation(due, done_at=None, feedback_at=None, now=at(23, 59))
    assert deadlines.needs_escalation(due, done_at=None, feedback_at=None, now=at(0, 1, day=2))
    assert not deadlines.needs_escalation(due, done_at=None, feedback_at=at(21), now=at(0, 1, day=2))
