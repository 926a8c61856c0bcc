"""Prudent change (三(二)三; 第三十一条第3、5项, 第三十八条): a change is requested with its assessment, tests and
rollback plan, approved by two persons other than its requester, and starts only inside its window, outside
the exchanges' sessions for a trading system, outside freeze periods, and with the investors told in time."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools

import pytest
from django.db import IntegrityError, transaction

from handover.core import clock
from handover.core.errors import DomainError, PermissionDenied
from handover.org.models import Phase, Role
from handover.registers import inventory
from handover.registers.models import Row
from handover.risk.models import Change, ChangeApproval, FreezePeriod
from handover.risk.services import changes
from tests.factories import register_form
from tests.risk.conftest import at

NOW = at(2026, 12, 4, 10)  # a Friday, in a session
EVENING = (at(2026, 12, 7, 18), at(2026, 12, 7, 22))  # Monday after the close


@pytest.fixture
def counter(world, people):
    return inventory.system_ensure(
        actor=people["tech"], engagement=world.engagement, site=world.hq, name="集中交易系统", category="集中交易",
        version="UF2.0", platform="Linux",
    )  # fmt: skip


def _request(world, actor, system=None, window=EVENING, **extra):
    values = {"kind": "modify", "title": "柜台系统升级至 V8.2", "risk_assessment": "影响集中交易，已评估",
              "test_evidence": "测试环境全量回归通过（测试报告 T-2026-31）", "rollback_plan": "回退至 V8.1 备份",
              "window_start": window[0], "window_end": window[1], **extra}  # fmt: skip
    with clock.frozen(NOW):
        return changes.change_request(actor=actor, engagement=world.engagement, system=system, **values)


def _approve(change, *actors):
    for actor in actors:
        with clock.frozen(NOW):
            change = changes.change_approve(actor=actor, change=change)
    return change


def test_a_change_is_requested_only_with_its_assessment_tests_and_rollback_plan(world, people, counter):
    for field in ("risk_assessment", "test_evidence", "rollback_plan"):
        with pytest.raises(DomainError) as refused:
            _request(world, people["tech"], counter, **{field: " "})
        assert refused.value.field == field
    with pytest.raises(IntegrityError), transaction.atomic():  # the database keeps the rule too
        Change.objects.create(engagement=world.engagement, number="C-9", kind="modify", title="x", system_name="x",
                              risk_assessment="", test_evidence="t", rollback_plan="r", window_start=EVENING[0],
                              window_end=EVENING[1], requested_by=world.person_a)  # fmt: skip
    assert not Change.objects.exists()


def test_a_trading_systems_window_may_not_meet_a_session_and_no_window_a_freeze_period(
    world, people, counter
):
    with pytest.raises(DomainError, match=r"2026-12-07 13:00–15:00.*第三十一条第3项"):
        _request(world, people["tech"], counter, window=(at(2026, 12, 7, 14), at(2026, 12, 7, 16)))
    with clock.frozen(NOW):
        changes.freeze_set(actor=people["tech"], engagement=world.engagement, starts_on=dt.date(2026, 12, 7),
                           ends_on=dt.date(2026, 12, 9), reason="年末结算保障")  # fmt: skip
    with pytest.raises(DomainError, match="年末结算保障"):
        _request(world, people["tech"], counter)
    # A system that does not trade may change in a session (OA), outside the freeze.
    _request(world, people["tech"], system_name="办公OA", window=(at(2026, 12, 10, 10), at(2026, 12, 10, 11)))


def test_in_custody_a_new_system_needs_its_article_38_request_in_t36(world, people):
    world.engagement.phase = Phase.STABILISATION
    world.engagement.save()
    with pytest.raises(DomainError) as refused:
        _request(world, people["tech"], system_name="新网上交易", kind="new")
    assert refused.value.field == "t36_row"
    row = Row.objects.create(form=register_form(world.engagement, world.hq, 36), seq=1,
                             data={"is_new_system": True, "name": "新网上交易"})  # fmt: skip
    assert (
        _request(world, people["tech"], system_name="新网上交易", kind="new", t36_row=row.pk).t36_row == row
    )


def test_one_person_is_never_enough_two_others_than_the_requester_approve(world, people):
    """Every choice of requester and two approvers among three persons: approved exactly when the approvers are
    two different persons, neither the requester (第八条)."""
    logins = [people["tech"], people["tech2"], people["onsite"]]
    for requester, first, second in itertools.product(range(3), repeat=3):
        with transaction.atomic():
            change = _request(world, logins[requester], system_name="OA")
            for approver in (first, second):
                with contextlib.suppress(DomainError):  # refused: the requester, or the same person twice
                    change = _approve(change, logins[approver])
            expected = len({first, second}) == 2 and requester not in (first, second)
            assert (change.state == "approved") is expected, (requester, first, second)
            transaction.set_rollback(True)
    with pytest.raises(IntegrityError), transaction.atomic():
        change = _request(world, people["tech"], system_name="OA")
        ChangeApproval.objects.create(
            change=change, person=change.requested_by, requester=change.requested_by
        )


def test_a_change_starts_only_in_its_window_outside_sessions_and_freezes_and_after_its_notice(
    world, people, counter
):
    tech, tech2, onsite = people["tech"], people["tech2"], people["onsite"]
    change = _approve(_request(world, tech, counter, notice_required=True), tech2, onsite)
    with clock.frozen(NOW), pytest.raises(DomainError, match="outside its window"):
        changes.change_execute(actor=tech, change=change)
    late = at(2026, 12, 6, 9)  # published one day before the window: 3 are needed
    with clock.frozen(late):
        changes.change_notice(actor=tech, change=change, published_at=late, reference="公司官网公告")
    with (
        clock.frozen(EVENING[0] + dt.timedelta(minutes=5)),
        pytest.raises(DomainError, match="investors were not told"),
    ):
        changes.change_execute(actor=tech, change=change)
    with clock.frozen(NOW):
        changes.change_notice(
            actor=tech, change=change, published_at=at(2026, 12, 3, 18), reference="公司官网及 APP 公告"
        )
        changes.freeze_set(actor=tech, engagement=world.engagement, starts_on=dt.date(2026, 12, 7),
                           ends_on=dt.date(2026, 12, 7), reason="临时保障")  # fmt: skip
    with clock.frozen(EVENING[0] + dt.timedelta(minutes=5)), pytest.raises(DomainError, match="临时保障"):
        changes.change_execute(actor=tech, change=change)
    FreezePeriod.objects.all().delete()  # the period lifted (scenery: no service removes one)
    with clock.frozen(EVENING[0] + dt.timedelta(minutes=5)):
        started = changes.change_execute(actor=tech, change=change)
    assert started.executed_at is not None
    with pytest.raises(DomainError, match="not cancelled"):
        changes.change_close(actor=tech, change=started, state="cancelled", result="取消")
    closed = changes.change_close(actor=tech, change=started, state="done", result="升级后联调通过")
    assert closed.state == "done"


def test_a_trading_systems_window_on_a_closed_day_may_take_the_daytime_and_a_session_is_refused(
    world, people
):
    saturday = (at(2026, 12, 5, 8), at(2026, 12, 5, 20))  # no session on a Saturday
    change = _request(world, people["tech"], system_name="报盘", trading_system=True, window=saturday)
    change = _approve(change, people["tech2"], people["onsite"])
    assert changes.why_not_now(change, at(2026, 12, 5, 10)) == ""
    # Should the calendar change after the request (a make-up trading day), the start is still refused.
    change.window_start, change.window_end = at(2026, 12, 7, 8), at(2026, 12, 7, 20)
    assert "in session" in changes.why_not_now(change, at(2026, 12, 7, 10))


def test_the_observer_neither_requests_nor_approves(world, people):
    observer = world.login_with(Role.OBSERVER, username="wg")
    with pytest.raises(PermissionDenied):
        _request(world, observer, system_name="OA")
    change = _request(world, people["tech"], system_name="OA")
    with pytest.raises(PermissionDenied):
        _approve(change, observer)


def test_the_pages_and_the_api_request_approve_and_explain_what_stands_in_the_way(
    world, people, client, counter
):
    from django.urls import reverse

    from handover.accounts.services import api_token_issue

    code = world.engagement.code
    client.force_login(people["tech"])
    page = reverse("risk:change_list", args=[code])
    refused = client.post(page, {"act": "request", "kind": "modify", "title": "升级", "system": counter.pk,
                                 "risk_assessment": "评估", "test_evidence": "测试", "rollback_plan": "回退",
                                 "window_start": "2026-12-07 14:00", "window_end": "2026-12-07 16:00"})  # fmt: skip
    assert (
        refused.status_code == 200
        and "第三十一条第3项" in refused.content.decode()
        and not Change.objects.exists()
    )
    made = client.post(page, {"act": "request", "kind": "modify", "title": "升级", "system": counter.pk,
                              "risk_assessment": "评估", "test_evidence": "测试", "rollback_plan": "回退",
                              "window_start": "2027-01-04 18:00", "window_end": "2027-01-04 21:00"})  # fmt: skip
    change = Change.objects.get()
    assert made.status_code == 302 and change.trading_system
    detail = reverse("risk:change_detail", args=[code, change.number])
    answer = client.post(detail, {"act": "approve"}, follow=True)  # the requester
    assert "第八条" in answer.content.decode() and not change.approvals.exists()
    client.logout()  # the API by tokens alone (a session would name its own login)
    for login in ("tech2", "onsite"):
        token = api_token_issue(user=people[login])
        answer = client.post(f"/api/engagements/{code}/risk/changes/{change.number}/act/", {"act": "approve"},
                             content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}")  # fmt: skip
        assert answer.status_code == 200, answer.json()
    assert answer.json()["state"] == "approved" and "2027-01-04 18:00" in answer.json()["blocked"]
    client.force_login(people["tech"])
    shown = client.get(detail).content.decode()
    assert 'data-testid="change-blocked"' in shown and 'data-testid="start-change"' in shown
    client.force_login(people["observer"])
    assert client.get(page).status_code == 403


def test_a_change_links_its_rows_of_t28_t30_t31_t36_t37_and_nothing_else(world, people):
    ops = Row.objects.create(form=register_form(world.engagement, world.hq, 30), seq=1, data={})
    other = Row.objects.create(form=register_form(world.engagement, world.hq, 8), seq=1, data={})
    with pytest.raises(DomainError) as refused:
        _request(world, people["tech"], system_name="OA", rows=[ops.pk, other.pk])
    assert refused.value.field == "rows" and str(other.pk) in str(refused.value.message)
    assert not Change.objects.exists()
    assert list(_request(world, people["tech"], system_name="OA", rows=[ops.pk]).rows.all()) == [ops]


def test_a_login_linked_by_the_requester_is_the_requesters_side_and_does_not_approve(world, people):
    """第八条 as rotation asks it (org.selectors.one_side): the requester gave this login its person, so the two
    are one side; a person the requester never touched approves."""
    from datetime import timedelta

    from django.utils import timezone

    from handover.accounts.models import User
    from handover.core.errors import PermissionDenied as Denied
    from handover.org import services as org
    from handover.org.models import Person

    linker = world.login_with(Role.TECH_GROUP, username="linker")
    change = _request(world, linker, system_name="OA")
    helped = world.login_with(Role.TECH_GROUP, username="helped")
    second = User.objects.create(username="helped-2nd", enrolled_at=timezone.now() - timedelta(days=30))
    org.person_link_login(actor=linker, person=Person.objects.get(user=helped), user=second)
    with pytest.raises((DomainError, Denied), match="第八条"):
        _approve(change, second)
    assert not change.approvals.exists()
    assert _approve(change, people["tech2"]).approvals.count() == 1
