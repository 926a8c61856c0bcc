"""The demo engagement is mid-handover: one site done, one late with feedback, the rest escalated, an open
E05 and a closed E01 (issue 4)."""

from __future__ import annotations

import datetime as dt

from handover import demo
from handover.core import clock
from handover.org.models import Phase, Site
from handover.workflow import state
from handover.workflow.deadlines import BEIJING
from handover.workflow.models import CaseState, Escalation, ExceptionCase, Feedback


def test_the_demo_is_mid_handover(db):
    engagement = demo.load(today=dt.date(2026, 12, 2), with_vault=False).engagement
    assert engagement.phase == Phase.HANDOVER and engagement.disposal_date == dt.date(2026, 12, 1)
    sites = {s.code: s.pk for s in Site.objects.filter(engagement=engagement)}
    with clock.frozen(dt.datetime(2026, 12, 2, 10, 0, tzinfo=BEIJING)):
        views = state.compute(engagement=engagement, now=clock.now())
    done = [v for (site, _), v in views.items() if site == sites["BR-HZ"]]
    assert done and all(v.finished for v in done), [(v.step.id, v.state) for v in done if not v.finished]
    late = views[(sites["SP-HZ1"], "T-01")]
    assert late.state == state.OVERDUE and late.feedback_count == 1 and late.escalated_at is None
    assert views[(sites["BR-NJ"], "T-01")].escalated_at is not None
    assert Feedback.objects.filter(step__site_id=sites["SP-HZ1"]).count() == 2
    assert Escalation.objects.filter(step__site_id=sites["BR-HZ"]).count() == 0
    open_cases = ExceptionCase.objects.filter(state=CaseState.OPEN)
    closed = ExceptionCase.objects.filter(state=CaseState.CLOSED)
    assert [c.path_id for c in open_cases] == ["E05"] and [c.path_id for c in closed] == ["E01"]
    assert closed.get().t39_row.form.state == "signed"
    demo.load(today=dt.date(2026, 12, 2), with_vault=False)
    assert ExceptionCase.objects.count() == 2


def test_the_command_line_shows_the_status_and_runs_the_escalation(db):
    import io

    import pytest
    from django.core.management import CommandError, call_command

    demo.load(today=dt.date(2026, 12, 2), with_vault=False)
    out = io.StringIO()
    with clock.frozen(dt.datetime(2026, 12, 3, 10, 0, tzinfo=BEIJING)):
        call_command("workflow", "status", "--engagement", "demo", stdout=out)
        call_command("workflow", "escalate", "--engagement", "demo", stdout=out)
        call_command("workflow", "steps", "--engagement", "demo", stdout=out)
    text = out.getvalue()
    assert "demo\thandover" in text and "open E05" in text and "overdue" in text
    assert "late steps escalated" in text and "0 steps created" in text
    with pytest.raises(CommandError, match="no such engagement"):
        call_command("workflow", "status", "--engagement", "nope")


def test_the_demo_dates_are_beijing_dates_whatever_the_server_clock(db, monkeypatch):
    # 17:30 UTC on 1 December is 01:30 on 2 December in Beijing: D (yesterday) is 1 December, not 30 November.
    from django.utils import timezone

    monkeypatch.setattr(timezone, "now", lambda: dt.datetime(2026, 12, 1, 17, 30, tzinfo=dt.UTC))
    engagement = demo.load(with_vault=False).engagement
    assert engagement.disposal_date == dt.date(2026, 12, 1)
