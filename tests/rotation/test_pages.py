"""The rotation pages over scenery built from the models: plans and their counts, the draw-up form's refusals
(nothing written), 第八条 on the run page (the author cannot approve; the requester cannot approve a restore),
scope (a person of another site sees neither plans nor restores there), the time left's arithmetic, an
account's timeline. The walk over a real sshd is tests/connectors/test_rotation_pages.py."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone, translation
from django.utils.translation import gettext

from handover.audit.models import Event
from handover.audit.services import event_record
from handover.core.actors import system
from handover.discovery.models import GatherRun, Snapshot
from handover.org.models import Role
from handover.rotation import events, selectors
from handover.rotation.models import Restore, RotationItem, RotationPlan
from tests.factories import World
from tests.rotation.conftest import plan_with, target_at


def _zh(msgid: str) -> str:
    """What the page says for ``msgid`` (pages speak Chinese by default)."""
    with translation.override("zh-hans"):
        return gettext(msgid)


def _said(response) -> list[str]:
    """The messages shown on a page reached with ``follow=True``."""
    return [str(m) for m in response.context["messages"]]


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_the_list_shows_each_plan_with_its_counts_and_the_plan_page_each_account(
    world: World, client, unsealed
) -> None:
    tech = world.login_with(Role.TECH_GROUP)
    plan = plan_with(
        world,
        tech,
        [
            (world.branch_a, "h1", "root", "成功"),
            (world.branch_a, "h1", "ops", "未验证"),
            (world.branch_a, "h2", "root", "失败"),
            (world.branch_a, "h2", "dba", ""),
        ],
        site=world.branch_a,
    )
    client.force_login(tech)
    listing = _page(client, f"/e/{world.engagement.code}/rotation/")
    row = listing.split(f'data-testid="plan-{plan.pk}"')[1].split("</tr>")[0]
    assert "BA" in row and tech.username in row
    for outcome, label in (("成功", "Succeeded"), ("未验证", "Not verified"), ("失败", "Failed")):
        assert f'data-testid="count-{outcome}">{_zh(label)} 1<' in row, row
    assert f'data-testid="count-open">{_zh("Not finished")} 1<' in row, row
    page = _page(client, f"/e/{world.engagement.code}/rotation/plans/{plan.pk}/")
    items = page.split('data-testid="items"')[1]
    done = RotationItem.objects.get(plan=plan, login_name="root", target__asset__hostname="h1")
    assert f"/register-rows/{done.row_id}/" in items and "h2" in items and "<code>dba</code>" in items
    undone = RotationItem.objects.get(login_name="dba")
    assert f'data-testid="row-{undone.pk}"' not in items  # no 表10 row drafted yet
    assert "Vq7#kRt2!mWz9@Lp" not in page + listing


def test_the_draw_up_form_shows_the_services_refusal_on_its_field_and_writes_nothing(
    world: World, client
) -> None:
    client.force_login(world.login_with(Role.TECH_GROUP))
    url = f"/e/{world.engagement.code}/rotation/"
    form = {"site": "", "reason": "定期更换", "concurrency": "0", "per_site": "1"}
    response = client.post(url, form)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert (
        list(errors) == ["concurrency"]
        and "1" in errors["concurrency"][0]
        and "256" in errors["concurrency"][0]
    )
    response = client.post(url, {**form, "concurrency": "16", "per_site": "4"})  # nothing to rotate here
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assert not RotationPlan.objects.exists()
    assert not Event.objects.filter(action=events.PLAN_CREATE).exists()


def test_a_person_of_one_site_cannot_draw_up_a_plan_over_the_whole_engagement(world: World, client) -> None:
    client.force_login(world.login_with(Role.ONSITE_POST, world.branch_a))
    response = client.post(
        f"/e/{world.engagement.code}/rotation/",
        {"site": "", "reason": "定期更换", "concurrency": 16, "per_site": 4},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        _zh("Only a role held across the whole engagement may do this.")
    ]
    assert not RotationPlan.objects.exists()


def test_the_author_cannot_approve_on_the_run_page_another_person_can(world: World, client, unsealed) -> None:
    author, other = world.login_with(Role.TECH_GROUP), world.login_with(Role.TECH_GROUP)
    plan = plan_with(world, author, [(world.branch_a, "h1", "root", "")], site=world.branch_a)
    url = f"/e/{world.engagement.code}/rotation/plans/{plan.pk}/"
    client.force_login(author)
    assert 'data-testid="run"' not in _page(client, url)  # a draft does not run
    refused = client.post(url, {"act": "approve"}, follow=True)
    assert _said(refused) == [_zh("You drew up this plan: another person must approve it (第八条).")]
    ran = client.post(url, {"act": "run"}, follow=True)
    assert _said(ran) == [_zh("Only an approved plan runs.")]
    plan.refresh_from_db()
    assert plan.state == "draft" and not plan.approved_by_name
    assert not Event.objects.filter(action__in=[events.PLAN_APPROVE, events.PLAN_START]).exists()
    client.force_login(other)
    client.post(url, {"act": "approve"})
    plan.refresh_from_db()
    assert plan.state == "approved" and plan.approved_by == other


def test_a_person_of_another_site_sees_neither_plans_nor_restores_there(
    world: World, client, unsealed
) -> None:
    tech = world.login_with(Role.TECH_GROUP)
    plan_b = plan_with(world, tech, [(world.branch_b, "hb", "root", "成功")], site=world.branch_b)
    plan_a = plan_with(world, tech, [(world.branch_a, "ha", "root", "")], site=world.branch_a)
    whole = plan_with(world, tech, [(world.branch_a, "ha", "ops", ""), (world.branch_b, "hb", "ops", "")])
    item_b = RotationItem.objects.get(plan=plan_b)
    target_b = item_b.target
    run = GatherRun.objects.create(engagement=world.engagement, site=world.branch_b, started_by_name="t")
    snapshot = Snapshot.objects.create(target=target_b, run=run, sha256="0" * 64, size=0, platform="linux",
                                       gathered_at=timezone.now())  # fmt: skip
    restore_b = Restore.objects.create(engagement=world.engagement, target=target_b, backup=snapshot,
                                       current=snapshot, reason="恢复乙", requested_by_name="t")  # fmt: skip
    client.force_login(world.login_with(Role.ONSITE_POST, world.branch_a))
    base = f"/e/{world.engagement.code}/rotation"
    listing = _page(client, f"{base}/")
    assert f'data-testid="plan-{plan_a.pk}"' in listing and f'data-testid="plan-{plan_b.pk}"' not in listing
    assert client.get(f"{base}/plans/{plan_b.pk}/").status_code == 404
    assert client.get(f"{base}/plans/{plan_b.pk}/accounts/{item_b.pk}/").status_code == 404
    # A plan over the whole engagement shows only the accounts of the reader's sites.
    page = _page(client, f"{base}/plans/{whole.pk}/")
    assert "<td>ha</td>" in page and "<td>hb</td>" not in page
    other_item = RotationItem.objects.get(plan=whole, target__site=world.branch_b)
    assert client.get(f"{base}/plans/{whole.pk}/accounts/{other_item.pk}/").status_code == 404
    restores_page = _page(client, f"{base}/restores/")
    assert "恢复乙" not in restores_page and f'data-testid="restore-{restore_b.pk}"' not in restores_page
    assert client.get(f"{base}/restores/{restore_b.pk}/").status_code == 404
    assert client.post(f"{base}/restores/{restore_b.pk}/", {"act": "approve"}).status_code == 404


def test_the_requester_cannot_approve_a_restore_on_its_page(world: World, client, unsealed) -> None:
    tech, other = world.login_with(Role.TECH_GROUP), world.login_with(Role.TECH_GROUP)
    target = target_at(world, world.branch_a, "h1")
    run = GatherRun.objects.create(engagement=world.engagement, site=world.branch_a, started_by_name="t")
    snapshot = Snapshot.objects.create(target=target, run=run, sha256="0" * 64, size=0, platform="linux",
                                       gathered_at=timezone.now())  # fmt: skip
    restore = Restore.objects.create(engagement=world.engagement, target=target, backup=snapshot, current=snapshot,
                                     reason="恢复", requested_by=tech, requested_by_name=tech.username)  # fmt: skip
    url = f"/e/{world.engagement.code}/rotation/restores/{restore.pk}/"
    client.force_login(tech)
    refused = client.post(url, {"act": "approve"}, follow=True)
    assert _said(refused) == [_zh("You requested this restore: another person must approve it (第八条).")]
    early = client.post(url, {"act": "apply"}, follow=True)
    assert _said(early) == [_zh("Only an approved restore is applied, once.")]
    restore.refresh_from_db()
    assert restore.state == "requested" and not restore.approved_by_name
    client.force_login(other)
    client.post(url, {"act": "approve"})
    restore.refresh_from_db()
    assert restore.state == "approved" and restore.approved_by == other


def test_the_time_left_is_the_rate_since_the_run_started_times_the_accounts_left() -> None:
    start = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)
    ten = start + dt.timedelta(minutes=10)
    assert selectors.eta(started=start, now=ten, done=4, left=6) == dt.timedelta(minutes=15)
    assert selectors.eta(started=start, now=ten, done=1, left=1) == dt.timedelta(minutes=10)
    assert selectors.eta(started=start, now=ten, done=0, left=6) is None  # no rate yet
    assert selectors.eta(started=start, now=ten, done=3, left=0) is None  # nothing left
    assert selectors.eta(started=start, now=start, done=3, left=2) is None


def _step(plan: RotationPlan, item: RotationItem, state: str, **after: object) -> Event:
    return event_record(
        actor=system("rotation(t)"),
        action=events.ITEM_STEP,
        engagement_id=plan.engagement_id,
        obj=plan,
        after={
            "item": item.pk,
            "account": item.login_name,
            "host": item.target.asset.hostname,
            "state": state,
            **after,
        },
    )


def test_a_running_plans_estimate_counts_only_this_runs_accounts(world: World, client, unsealed) -> None:
    tech = world.login_with(Role.TECH_GROUP)
    accounts = [(world.branch_a, "h1", f"u{n}", "") for n in range(5)]
    plan = plan_with(world, tech, accounts, site=world.branch_a, state="running")
    items = list(plan.items.order_by("pk"))
    _step(plan, items[0], "done")  # an earlier run, stopped
    event_record(actor=system("t"), action=events.PLAN_FINISH, engagement_id=world.engagement.pk, obj=plan)
    first = _step(plan, items[1], "staged")
    before, since = first.occurred_at - dt.timedelta(minutes=1), first.occurred_at + dt.timedelta(minutes=1)
    RotationItem.objects.filter(pk=items[0].pk).update(state="done", outcome="成功", updated_at=before)
    RotationItem.objects.filter(pk__in=[items[1].pk, items[2].pk]).update(
        state="done", outcome="成功", updated_at=since
    )
    progress = selectors.plan_progress(user=tech, plan=plan, now=first.occurred_at + dt.timedelta(minutes=8))
    assert progress.started == first.occurred_at
    assert (progress.total, progress.done_since, progress.left) == (
        5,
        2,
        2,
    )  # the earlier run's is not a rate
    assert progress.eta == dt.timedelta(minutes=8)  # 4 minutes an account, 2 left
    client.force_login(tech)
    page = _page(client, f"/e/{world.engagement.code}/rotation/plans/{plan.pk}/")
    assert 'data-testid="eta"' in page and 'http-equiv="refresh"' in page


def test_an_accounts_timeline_is_its_own_events_in_order_with_who(world: World, client, unsealed) -> None:
    tech = world.login_with(Role.TECH_GROUP)
    plan = plan_with(world, tech, [(world.branch_a, "h1", "root", ""), (world.branch_a, "h1", "ops", "")],
                     site=world.branch_a)  # fmt: skip
    root, ops = plan.items.order_by("pk")
    _step(plan, root, "staged", version=2)
    _step(plan, ops, "staged", reason="ops-only")
    _step(plan, root, "changed", version=2)
    # An event recorded before steps named their item: known by its account and host.
    event_record(actor=system("rotation(t)"), action=events.ITEM_STEP, engagement_id=world.engagement.pk,
                 obj=plan, after={"account": "root", "host": "h1", "state": "done", "outcome": "成功"})  # fmt: skip
    client.force_login(tech)
    page = _page(client, f"/e/{world.engagement.code}/rotation/plans/{plan.pk}/accounts/{root.pk}/")
    timeline = page.split('data-testid="timeline"')[1]
    assert "ops-only" not in timeline and "rotation(t)" in timeline
    steps = [line.state for line in selectors.item_timeline(item=root)]
    assert steps == ["staged", "changed", "done"]


def test_the_lists_queries_do_not_grow_with_their_plans_and_restores(world: World, client, unsealed) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    tech = world.login_with(Role.TECH_GROUP)
    client.force_login(tech)
    base = f"/e/{world.engagement.code}/rotation"

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as seen:
            _page(client, url)
        # the session's own save (its expiry refreshed now and then) is not the page's reading
        return len(
            [
                q
                for q in seen.captured_queries
                if "SAVEPOINT" not in q["sql"] and "django_session" not in q["sql"]
            ]
        )

    def more(n: int) -> None:
        for _ in range(n):
            plan = plan_with(world, tech, [(world.branch_a, f"h{RotationPlan.objects.count()}", "root", "成功")],
                             site=world.branch_a)  # fmt: skip
            item = plan.items.get()
            run = GatherRun.objects.create(
                engagement=world.engagement, site=world.branch_a, started_by_name="t"
            )
            snap = Snapshot.objects.create(target=item.target, run=run, sha256="0" * 64, size=0, platform="linux",
                                           gathered_at=timezone.now())  # fmt: skip
            Restore.objects.create(engagement=world.engagement, target=item.target, backup=snap, current=snap,
                                   reason="恢复", requested_by_name="t")  # fmt: skip

    more(1)
    few = queries(f"{base}/"), queries(f"{base}/restores/")
    more(4)
    assert (queries(f"{base}/"), queries(f"{base}/restores/")) == few
    assert RotationPlan.objects.count() == 5
