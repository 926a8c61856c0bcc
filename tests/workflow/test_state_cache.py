"""The state kept between writes (stamp.py, state.compute) never disagrees with the state computed afresh
(issue 18): every table the computation reads is watched by the stamp's triggers, and after a random sequence
of writes of every kind (the ORM's save, update() and bulk_create, deletes, a write rolled back) and of
moves of the clock across deadlines, what ``compute`` gives equals ``compute_afresh``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from handover import demo
from handover.org.models import Engagement, Person, Phase, Site
from handover.registers import completeness
from handover.registers.models import Form, FormState, InformationSystem, Row, Signature
from handover.workflow import stamp, state, steps
from handover.workflow.deadlines import BEIJING
from handover.workflow.models import (
    CaseState,
    DeadlineOverride,
    Escalation,
    ExceptionCase,
    Feedback,
    StepInstance,
)

TODAY = dt.date(2026, 12, 2)


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hour, minute, tzinfo=BEIJING)


@pytest.fixture
def engagement(db) -> Engagement:
    """The demo engagement mid-handover, with every site's 稳定期 steps too (the routine's reads)."""
    found = demo.load(today=TODAY, with_vault=False).engagement
    StepInstance.objects.bulk_create(
        StepInstance(engagement=found, site=site, step_id=s.id, phase=s.phase, created_at=at(1, 20))
        for site in Site.objects.filter(engagement=found)
        for s in steps.for_site_level(Phase.STABILISATION, site.level)
    )
    state.forget()
    return found


def snapshot(views: dict[state.Key, state.StepView]) -> dict[state.Key, tuple[object, ...]]:
    """Every field of every view, reasons as the text they show."""
    return {
        key: tuple(
            tuple(str(r) for r in getattr(view, f.name))
            if f.name in ("gate_reasons", "reasons")
            else getattr(view, f.name)
            for f in dataclasses.fields(view)
        )
        for key, view in views.items()
    }


def agrees(engagement: Engagement, now: dt.datetime) -> bool:
    """What ``compute`` gives (kept or not) is what a computation from scratch gives."""
    fresh = Engagement.objects.get(pk=engagement.pk)  # as a request reads it
    return snapshot(state.compute(engagement=fresh, now=now)) == snapshot(
        state.compute_afresh(engagement=fresh, now=now)
    )


def tables_read(sql: str) -> set[str]:
    return set(re.findall(r'(?:FROM|JOIN)\s+"?(\w+)"?', sql, flags=re.IGNORECASE))


def test_every_table_read_is_watched_and_the_kept_state_is_reused_until_a_write_a_deadline_or_midnight(
    engagement,
):
    with CaptureQueriesContext(connection) as queries:
        state.compute_afresh(engagement=engagement, now=at(10, 9))
    read = set().union(*(tables_read(q["sql"]) for q in queries.captured_queries))
    assert {"registers_row", "workflow_stepinstance", "risk_assessmentreport"} <= read  # the parse finds them
    assert read - set(stamp.watched_tables()) == set()
    before = stamp.tokens(engagement.pk)
    with transaction.atomic():
        Row.objects.filter(form__engagement=engagement).update(remarks="改")
        inside = stamp.tokens(engagement.pk)
        transaction.set_rollback(True)
    assert before and inside and inside != before and stamp.tokens(engagement.pk) == before  # rolled back
    now = at(2, 10)
    first = state.compute(engagement=engagement, now=now)
    assert state.compute(engagement=engagement, now=now + dt.timedelta(minutes=1)) is first
    due = min(v.due for v in first.values() if v.due is not None and v.due > now)
    assert state.compute(engagement=engagement, now=due) is first  # "overdue" is after the deadline
    assert state.compute(engagement=engagement, now=due + dt.timedelta(microseconds=1)) is not first
    again = state.compute(engagement=engagement, now=now)
    eve = state.compute(engagement=engagement, now=at(3, 0) - dt.timedelta(microseconds=1))
    assert state.compute(engagement=engagement, now=at(3, 0)) is not eve  # the routine's day changed
    again = state.compute(engagement=engagement, now=now)
    InformationSystem.objects.filter(engagement=engagement).update(is_active=True)
    assert stamp.tokens(engagement.pk) not in (before, inside)
    assert state.compute(engagement=engagement, now=now) is not again


# The writes of the random sequence: each takes (rng, engagement, now) and changes what the state reads.


def _row(rng, engagement, numbers=(7, 8, 10, 11, 14, 15, 23, 39)):
    rows = list(
        Row.objects.filter(form__engagement=engagement, form__register_no__in=numbers, is_current=True)
    )
    return rng.choice(rows) if rows else None


def row_data_changed(rng, engagement, now):  # update(): a failed backup, a system swapped, a reported 表39
    row = _row(rng, engagement)
    if row is None:
        return
    systems = list(InformationSystem.objects.filter(engagement=engagement).values_list("pk", flat=True))
    data = dict(row.data)
    change = rng.choice(["readable", "system", "reported", "drop"])
    if change == "readable":
        data["readable"] = rng.choice(["通过", "不通过"])
    elif change == "system" and systems:
        data["system_id"] = rng.choice(systems)
    elif change == "reported":
        data["reported_tg_at"] = rng.choice(["", "2026-12-02T09:00"])
    else:
        data.pop(rng.choice(sorted(data)) if data else "x", None)
    Row.objects.filter(pk=row.pk).update(data=data)


def row_new_version(rng, engagement, now):  # save(): a correction, the old version no longer current
    row = _row(rng, engagement)
    if row is None:
        return
    Row.objects.filter(pk=row.pk).update(is_current=False)
    Row.objects.create(
        form_id=row.form_id, seq=row.seq, data={**row.data, "readable": "通过"}, previous=row,
        version=row.version + 1, correction_reason="更正",
    )  # fmt: skip


def row_moved_or_deleted(rng, engagement, now):  # a row now about another site's system, or deleted
    row = _row(rng, engagement, (7, 8, 10, 14, 22, 23))
    if row is None:
        return
    if rng.random() < 0.5:
        elsewhere = InformationSystem.objects.filter(engagement=engagement).exclude(site=row.form.site_id)
        other = elsewhere.order_by("?").first()
        Row.objects.filter(pk=row.pk).update(data={**row.data, "system_id": other.pk})
    else:  # with its row signatures (a row signed is protected)
        Signature.objects.filter(row=row).delete()
        Row.objects.filter(pk=row.pk).delete()


def form_reopened(rng, engagement, now):  # a signed form back to draft, or a draft signed
    forms = list(Form.objects.filter(engagement=engagement, is_current=True, register_no__in=[7, 8, 10, 14]))
    if forms:
        form = rng.choice(forms)
        state_ = FormState.DRAFT if form.state == FormState.SIGNED else FormState.SIGNED
        Form.objects.filter(pk=form.pk).update(state=state_)


def system_toggled(rng, engagement, now):  # the inventory: a system retired, or a new one at a site
    if rng.random() < 0.5:
        system = InformationSystem.objects.filter(engagement=engagement).order_by("?").first()
        InformationSystem.objects.filter(pk=system.pk).update(is_active=not system.is_active)
    else:
        site = Site.objects.filter(engagement=engagement).order_by("?").first()
        InformationSystem.objects.create(
            engagement=engagement, site=site, name=f"新系统{rng.randrange(10**6)}"
        )


def step_confirmed(rng, engagement, now):
    step = StepInstance.objects.filter(engagement=engagement, confirmed_at__isnull=True).order_by("?").first()
    if step is not None:
        StepInstance.objects.filter(pk=step.pk).update(confirmed_at=now)


def feedback_given(rng, engagement, now):
    step = StepInstance.objects.filter(engagement=engagement, site__isnull=False).order_by("?").first()
    person = Person.objects.filter(engagement=engagement).first()
    Feedback.objects.create(
        step=step, reason="介质不足", expected_at=now, reported_by=person, reported_at=now
    )


def escalated(rng, engagement, now):
    step = (
        StepInstance.objects.filter(engagement=engagement, site__isnull=False, escalation__isnull=True)
        .order_by("?")
        .first()
    )
    if step is not None:
        Escalation.objects.bulk_create([Escalation(step=step, raised_at=now, due_at=now)])


def case_opened(rng, engagement, now):  # a new exception case, or a closed one open again (N-04 waits)
    closed = ExceptionCase.objects.filter(engagement=engagement, state=CaseState.CLOSED).first()
    if closed is not None and rng.random() < 0.5:
        ExceptionCase.objects.filter(pk=closed.pk).update(state=CaseState.OPEN)
    else:
        site = Site.objects.filter(engagement=engagement).order_by("?").first()
        ExceptionCase.objects.create(
            engagement=engagement,
            site=site,
            path_id="E05",
            description="x",
            opened_at=now,
            state=CaseState.OPEN,
        )


def deadline_moved(rng, engagement, now):
    step_id = rng.choice(["T-01", "T-02", "T-04", "N-04", "S-02"])
    found = DeadlineOverride.objects.filter(engagement=engagement, step_id=step_id)
    if found.exists() and rng.random() < 0.5:
        found.delete()
    else:
        DeadlineOverride.objects.update_or_create(
            engagement=engagement, step_id=step_id,
            defaults={"day": rng.randrange(0, 4), "time": rng.choice(["09:00", "18:00"]), "updated_at": now},
        )  # fmt: skip


def disposal_moved(rng, engagement, now):
    Engagement.objects.filter(pk=engagement.pk).update(
        disposal_date=dt.date(2026, 12, 1) + dt.timedelta(days=rng.choice([-1, 0, 0, 1]))
    )


def site_toggled(rng, engagement, now):
    site = Site.objects.filter(engagement=engagement, parent__isnull=False).order_by("?").first()
    Site.objects.filter(pk=site.pk).update(is_active=not site.is_active)


def rolled_back(rng, engagement, now):  # a write, the state computed inside its transaction, then undone
    with transaction.atomic():
        row_data_changed(rng, engagement, now)
        state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)
        transaction.set_rollback(True)


WRITES = [
    row_data_changed,
    row_new_version,
    row_moved_or_deleted,
    form_reopened,
    system_toggled,
    step_confirmed,
    feedback_given,
    escalated,
    case_opened,
    deadline_moved,
    disposal_moved,
    site_toggled,
    rolled_back,
]


def test_the_kept_state_agrees_with_a_full_recomputation_after_random_writes(engagement):
    seed = random.randrange(10**6)  # a new sequence each run; a failure names its seed
    rng = random.Random(seed)
    now = at(2, 10)
    for step in range(40):
        kept = state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)
        if rng.random() < 0.3:  # the clock moves: to a deadline, just past it, or back
            dues = sorted({v.due for v in kept.values() if v.due is not None})
            pick = rng.choice(dues)
            now = rng.choice(
                [pick, pick + dt.timedelta(microseconds=1), pick - dt.timedelta(hours=1), at(2, 10)]
            )
            write = None
        else:
            write = rng.choice(WRITES)
            write(rng, engagement, now)
        assert agrees(engagement, now), (
            f"seed {seed}, step {step}: {write.__name__ if write else 'clock'} at {now}"
        )
    # The kept state is reused when nothing changed (the random steps may all have written or crossed a
    # deadline, so a reuse among them is not certain).
    again = state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)
    assert state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now) is again, (
        f"seed {seed}"
    )

    # And the comparison does catch a write that escapes the stamp: without the triggers on the rows, a row
    # that fails is not seen by the kept state.
    now = at(2, 10)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for event in ("insert", "update", "delete"):
                cursor.execute(f"DROP TRIGGER {stamp.PREFIX}registers_row_{event}")
        else:
            for event in ("insert", "update", "delete"):
                cursor.execute(f"DROP TRIGGER {stamp.PREFIX}registers_row_{event} ON registers_row")
    try:
        assert agrees(engagement, now)
        t8 = Row.objects.filter(form__engagement=engagement, form__register_no=8, is_current=True)
        for row in t8:
            Row.objects.filter(pk=row.pk).update(data={**row.data, "readable": "不通过"})
        assert not agrees(engagement, now)
    finally:
        stamp.install(connection)


# Per-site parts (stamp.py's scopes): a write at one site derives that site again, and nothing else.


def _linked(engagement):
    """The sites whose covered registers' rows say something of another site's system or site, and those
    other sites (the demo has some: a 营业部's 表7 naming head office's system)."""
    owner = dict(InformationSystem.objects.filter(engagement=engagement).values_list("pk", "site_id"))
    linked = set()
    for site_id, facts in completeness.site_facts(engagement=engagement).items():
        others = {owner.get(pk) for pk in facts.mentioned()[0]} | facts.sites_in_15
        others -= {site_id, None}
        if others:
            linked |= {site_id} | others
    return linked


def _branches(engagement):
    """Two 营业部 of the demo whose rows say nothing of another site's systems, nor another site's of theirs
    (A, where the writes go, and B, which must be left alone)."""
    linked = _linked(engagement)  # the demo may have some (a 营业部's 表7 naming head office's system)
    alone = Site.objects.filter(engagement=engagement, level="branch").exclude(pk__in=linked).order_by("path")
    filled = Row.objects.filter(form__register_no=8, form__site__in=alone, is_current=True)
    a = Site.objects.get(pk=filled.values_list("form__site_id", flat=True).first())  # the demo fills one
    return a, alone.exclude(pk=a.pk).first()


def _row_at(site, number):
    return (
        Row.objects.filter(form__site=site, form__register_no=number, is_current=True).order_by("seq").first()
    )


def a_row_corrected(engagement, site, now):  # a new version of a 表8 row, its backup now unreadable
    row = _row_at(site, 8)
    Row.objects.filter(pk=row.pk).update(is_current=False)
    Row.objects.create(
        form_id=row.form_id, seq=row.seq, data={**row.data, "readable": "不通过"}, previous=row,
        version=row.version + 1, correction_reason="更正",
    )  # fmt: skip


def a_signature(engagement, site, now):  # a footer signature on a signed form of a step done: done when given
    from handover.registers.models import Signature, SignatureKind

    views = state.compute_afresh(engagement=engagement, now=now)
    done = {
        n for (at_site, _s), v in views.items() if at_site == site.pk and v.done_at for n in v.step.outputs
    }
    form = Form.objects.filter(
        site=site, register_no__in=done, is_current=True, state=FormState.SIGNED
    ).first()
    Signature.objects.create(
        form=form, kind=SignatureKind.FOOTER, role="复核",
        person=Person.objects.filter(engagement=engagement).exclude(register_signatures__form=form).first(),
    )  # fmt: skip


def a_step_confirmed(
    engagement, site, now
):  # M-01 at the site confirmed (no engagement-level step waits for it)
    updated = StepInstance.objects.filter(engagement=engagement, site=site, step_id="M-01").update(
        confirmed_at=None if StepInstance.objects.get(site=site, step_id="M-01").confirmed_at else now
    )
    assert updated == 1


def a_feedback(engagement, site, now):
    step = StepInstance.objects.get(engagement=engagement, site=site, step_id="T-01")
    Feedback.objects.create(
        step=step, reason="介质不足", expected_at=now, reported_by=Person.objects.filter(engagement=engagement).first(),
        reported_at=now,
    )  # fmt: skip


def a_case(engagement, site, now):  # an exception case at the site: N-04 (engagement-level) waits for it
    ExceptionCase.objects.create(
        engagement=engagement, site=site, path_id="E05", description="x", opened_at=now, state=CaseState.OPEN
    )


def a_deadline(engagement, site, now):  # engagement-wide: every site's T-01 is due at another time
    DeadlineOverride.objects.update_or_create(
        engagement=engagement, step_id="T-01", defaults={"day": 3, "time": "18:00", "updated_at": now}
    )


def the_disposal_date(engagement, site, now):  # engagement-wide: D moves
    Engagement.objects.filter(pk=engagement.pk).update(disposal_date=dt.date(2026, 12, 2))


def _heatmap(engagement, views):
    """The overview's heat map of ``views`` (charts.heatmap keeps its rows by their views' identity)."""
    from handover.workflow import charts
    from handover.workflow.selectors.overview import SiteRow, heatmap_columns

    columns, groups = heatmap_columns(engagement.phase)
    rows = []
    for site in Site.objects.filter(engagement=engagement).order_by("path"):
        cells = [views.get((site.pk, step.id)) for step in columns]
        present = [v for v in cells if v is not None]
        rows.append(SiteRow(site, cells, sum(v.finished for v in present), len(present), 0))
    return charts.heatmap(rows, columns, "/s/0/", "/t/0/", groups)


def test_a_write_at_one_site_derives_that_site_again_and_the_state_equals_the_one_computed_afresh(
    engagement, monkeypatch
):
    """One write after the other (one demo: a load per case would cost seconds each), each followed by the
    overview's computation: which sites it derived again, that B's kept views are the very objects kept
    before, and that the state equals the one computed afresh (the oracle). Then rows naming another site's
    system, and every 营业部 listing head office's."""
    from handover.workflow import charts

    a, b = _branches(engagement)
    now = at(2, 10)
    before = state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)
    every = sorted({site_id for site_id, _step in before if site_id is not None})
    _heatmap(engagement, before)
    for write, derives in [
        (a_row_corrected, [a.pk]),
        (a_signature, [a.pk]),
        (a_step_confirmed, [a.pk]),
        (a_feedback, [a.pk]),
        (a_case, []),
        (a_deadline, every),
        (the_disposal_date, every),
    ]:
        kept_b = {key: view for key, view in before.items() if key[0] == b.pk}
        write(engagement, a, now)
        after = state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)
        assert after is not before, write.__name__
        assert state.last_derived == derives, write.__name__
        if derives != every:
            assert all(after[key] is view for key, view in kept_b.items()), write.__name__
        assert agrees(engagement, now), write.__name__
        mine = [k for k in after if k[0] in (a.pk, None)]  # the write shows at A (else it proves nothing)
        assert snapshot({k: after[k] for k in mine}) != snapshot({k: before[k] for k in mine}), write.__name__
        kept_rows = _heatmap(engagement, after)  # the rows of unchanged sites from charts' own keeping
        charts._ROWS.clear()
        assert kept_rows == _heatmap(engagement, after), write.__name__
        before = after
    _linked_sites_derive_together(engagement, monkeypatch)
    monkeypatch.undo()
    state.forget()  # the state left wrong on purpose
    _every_branch_lists_head_office_s_system(engagement)


def _derives(engagement, now, expected):
    state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)
    return state.last_derived == sorted(expected) and agrees(engagement, now)


def _linked_sites_derive_together(engagement, monkeypatch):
    """Rows at A that name B's system: the coverage rules read them for B too (B's system is then in 表7, has
    its backup). A write at A that changes what the rows say of B's system derives B with A, and the state
    agrees with the one computed afresh; a write there that changes nothing of it derives A alone; with the
    sites concerned ignored, B's kept part is wrong, which is what they are for."""
    a, b = _branches(engagement)
    now = at(2, 10)
    theirs = InformationSystem.objects.create(engagement=engagement, site=b, name="B的新系统")
    state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)  # the inventory: all sites
    row = _row_at(a, 7)
    Row.objects.filter(pk=row.pk).update(data={**row.data, "system_id": theirs.pk})  # A's 表7 lists it
    assert _derives(engagement, now, [a.pk, b.pk])
    a_row_corrected(engagement, a, now)  # says nothing new of B's system: A alone
    assert _derives(engagement, now, [a.pk])
    backup = _row_at(a, 8)  # A's 表8 backs up B's system: its 表8 facts change (B's 表7 expects nothing)
    data = {**backup.data, "system_id": theirs.pk, "purpose": "交接全备份", "object_type": "数据库"}
    Row.objects.filter(pk=backup.pk).update(data=data)
    assert _derives(engagement, now, [a.pk, b.pk])
    Row.objects.filter(pk=backup.pk).update(data={**data, "readable": "不通过"})  # no fact of B changes
    assert _derives(engagement, now, [a.pk])
    hq = Site.objects.get(engagement=engagement, level="hq")
    central = InformationSystem.objects.filter(site=hq).order_by("pk").first()
    listing = {s for s, y in Row.objects.filter(form__register_no=7, is_current=True).values_list(
        "form__site_id", "data__system_id") if y == central.pk}  # fmt: skip
    moved = {**data, "system_id": central.pk, "object_type": "网络设备配置文件"}  # a class HQ's lacks
    Row.objects.filter(pk=backup.pk).update(data=moved)  # moved from B's system to HQ's
    state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)
    assert {a.pk, b.pk, hq.pk} <= set(state.last_derived) <= {a.pk, b.pk, hq.pk} | listing
    assert agrees(engagement, now)
    Row.objects.filter(pk=row.pk).delete()  # A's 表7 row naming B's system deleted: B's system lacks its row
    assert _derives(engagement, now, [a.pk, b.pk])

    monkeypatch.setattr(completeness, "concerned", lambda **_kw: set())
    Row.objects.create(form_id=row.form_id, seq=row.seq, data={**row.data, "system_id": theirs.pk})
    state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)  # B's system in 表7: unseen
    assert state.last_derived == [a.pk] and not agrees(engagement, now)


def _every_branch_lists_head_office_s_system(engagement):
    """Every 营业部 listing head office's 集中交易系统 in 表7 (as in a real firm) links no site to another: a
    write at one of them that says nothing new of head office's systems derives that 营业部 alone."""
    now = at(2, 10)
    hq = Site.objects.get(engagement=engagement, level="hq")
    central = InformationSystem.objects.filter(site=hq).order_by("pk").first()
    branches = list(Site.objects.filter(engagement=engagement, level="branch").order_by("path"))
    t7 = Form.objects.filter(site__in=branches, register_no=7, is_current=True)
    have = set(t7.values_list("site_id", flat=True))
    Form.objects.bulk_create(
        Form(engagement=engagement, site=s, register_no=7, form_no=f"{s.code}-T07", form_date=TODAY)
        for s in branches if s.pk not in have
    )  # fmt: skip
    Row.objects.bulk_create(Row(form=form, seq=99, data={"system_id": central.pk}) for form in t7)
    state.compute(engagement=Engagement.objects.get(pk=engagement.pk), now=now)
    site = next(s for s in branches if _row_at(s, 8) is not None)
    a_row_corrected(engagement, site, now)
    assert _derives(engagement, now, [site.pk]) and len(branches) > 2
