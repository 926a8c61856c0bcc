"""Notifications by default (issue 17; UX review M3): each topic's audience hears of it in the app without
subscribing, only within the sites it may see; a person turns a topic off and on; the requester of a reveal
is never the one asked to approve it (第八条, 第二十二条); the header counts the unread ones."""

from __future__ import annotations

import pytest
from django.test import Client

from handover.audit.models import Event
from handover.core.errors import DomainError
from handover.notifications import events, services
from handover.notifications.context_processors import Badge
from handover.notifications.models import Notification
from handover.vault import topics as vault_topics
from handover.workflow import services as workflow
from handover.workflow import topics
from handover.workflow.models import StepInstance
from tests.vault.helpers import put
from tests.workflow.conftest import at, start_handover


def told(topic: str) -> set[str]:
    return set(Notification.objects.filter(topic=topic).values_list("person__user__username", flat=True))


def _feedback(world, people) -> None:
    t01 = StepInstance.objects.get(site=world.branch_a, step_id="T-01")
    workflow.feedback_record(
        actor=people["onsite"], step=t01, reason="介质不足", expected_at=at(2, 2), now=at(1, 21)
    )


def test_feedback_and_escalations_reach_the_technical_group_without_subscribing(world, people, cli):
    start_handover(world, people)
    _feedback(world, people)
    assert told(topics.FEEDBACK) == {"tech"}  # not the site that reported it, nor another site, nor observers
    workflow.escalations_raise(actor=cli, engagement=world.engagement, now=at(2, 0, 5))
    assert told(topics.ESCALATION) == {"tech"}


def test_feedback_due_tells_only_the_sites_own_post_and_only_once(world, people):
    start_handover(world, people)
    # T-01 falls due at 20:00 on D at every branch; branch A reports it the same day, branch B does not.
    workflow.feedback_due_notify(engagement=world.engagement, now=at(1, 19))
    due = Notification.objects.filter(topic=topics.FEEDBACK_DUE)
    assert not due.filter(title__contains="T-01").exists()
    _feedback(world, people)
    assert workflow.feedback_due_notify(engagement=world.engagement, now=at(1, 21)) > 0
    assert due.filter(person__user=people["onsite_b"], title__contains="T-01").exists()
    # Branch A's post reported T-01: it is not asked to; nobody hears of another site's steps; 技术组, the
    # firm's IT and the observers are not the ones who report.
    assert not due.filter(
        person__user=people["onsite"], title__startswith=f"{world.branch_a.name}: T-01"
    ).exists()
    assert not due.filter(person__user=people["onsite"], title__contains=world.branch_b.name).exists()
    assert not due.filter(person__user=people["onsite_b"], title__contains=world.branch_a.name).exists()
    assert not {"tech", "observer", "firm_it_a", "firm_it_b"} & told(topics.FEEDBACK_DUE)
    before = due.count()
    assert workflow.feedback_due_notify(engagement=world.engagement, now=at(1, 21, 15)) == 0
    assert due.count() == before


@pytest.fixture
def reveal_scene(vault, world, people):
    firm = people["firm_it"]
    return {"entry": put(firm, world, world.branch_a), **people}


def test_a_reveal_request_goes_to_its_approvers_not_to_the_requester(reveal_scene, world):
    from handover.vault import services as vault

    onsite = reveal_scene["onsite"]
    vault.reveal_request_create(actor=onsite, entry=reveal_scene["entry"], reason="核对口令", purpose="view")
    # 技术组 and the HQ post (whose site holds branch A) may approve; branch A's post asked, so it is not asked
    # to approve its own request; branch B's post may approve only at branch B; the firm's IT not at all.
    assert told(vault_topics.REVEAL_REQUEST) == {"tech", "onsite_hq"}
    note = Notification.objects.get(topic=vault_topics.REVEAL_REQUEST, person__user=reveal_scene["tech"])
    assert "核对口令" in note.body and note.link.endswith("/vault/requests/")


def test_a_reveal_request_of_the_firm_reaches_the_sites_post_and_the_technical_group(reveal_scene):
    from handover.vault import services as vault

    vault.reveal_request_create(
        actor=reveal_scene["firm_it"], entry=reveal_scene["entry"], reason="交接日核对", purpose="view"
    )
    assert told(vault_topics.REVEAL_REQUEST) == {"tech", "onsite_a", "onsite_hq"}


def test_a_topic_turned_off_is_not_told_and_turned_on_again_is(world, people):
    e = world.engagement
    assert services.topic_turn(actor=people["tech"], engagement=e, topic=topics.FEEDBACK, on=False)
    assert not services.topic_turn(actor=people["tech"], engagement=e, topic=topics.FEEDBACK, on=False)
    start_handover(world, people)
    _feedback(world, people)
    assert told(topics.FEEDBACK) == set()
    assert services.topic_turn(actor=people["tech"], engagement=e, topic=topics.FEEDBACK, on=True)
    t02 = StepInstance.objects.get(site=world.branch_a, step_id="T-02")
    workflow.feedback_record(
        actor=people["onsite"], step=t02, reason="等待厂商", expected_at=at(2, 3), now=at(1, 23, 45)
    )
    assert told(topics.FEEDBACK) == {"tech"}
    trail = list(
        Event.objects.filter(action__in=[events.TOPIC_OFF, events.TOPIC_ON])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert trail == [events.TOPIC_OFF, events.TOPIC_ON]
    with pytest.raises(DomainError) as refused:
        services.topic_turn(actor=people["tech"], engagement=e, topic="no-such-topic", on=False)
    assert refused.value.field == "topic"


def test_the_subscription_page_turns_a_topic_off(world, people, client: Client):
    client.force_login(people["tech"])
    url = f"/n/{world.engagement.code}/subscriptions/"
    page = client.get(url).content.decode()
    assert f'data-testid="off-{topics.ESCALATION}"' in page
    assert client.post(url, {"off": topics.ESCALATION}).status_code == 302
    assert f'data-testid="on-{topics.ESCALATION}"' in client.get(url).content.decode()


def test_the_header_counts_the_unread_in_one_query_and_reading_clears_it(
    world, people, client: Client, django_assert_num_queries, rf
):
    start_handover(world, people)
    _feedback(world, people)
    client.force_login(people["tech"])
    code = world.engagement.code
    page = client.get(f"/e/{code}/").content.decode()
    assert 'data-testid="unread-count">1<' in page and f'href="/n/{code}/"' in page
    request = rf.get("/")
    request.user = people["tech"]
    with django_assert_num_queries(1):
        assert Badge(request).count == 1
    client.post(f"/n/{code}/")
    assert 'data-testid="unread-count"' not in client.get(f"/e/{code}/").content.decode()


def test_the_badge_reads_a_bounded_range_and_shows_99_plus(world, people, client: Client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    person = people["tech"].persons.get()
    Notification.objects.bulk_create(
        Notification(person=person, topic=topics.ESCALATION, title=f"#{n}", created_at=timezone.now())
        for n in range(150)
    )
    client.force_login(people["tech"])
    with CaptureQueriesContext(connection) as captured:
        page = client.get(f"/e/{world.engagement.code}/").content.decode()
    assert 'data-testid="unread-count">99+<' in page
    (badge,) = [
        q["sql"].upper() for q in captured.captured_queries if "WORKFLOW_NOTIFICATION" in q["sql"].upper()
    ]
    assert "COUNT(" not in badge and "LIMIT 100" in badge


def test_no_badge_outside_an_engagement_when_nothing_is_unread(world, people, client: Client):
    client.force_login(people["tech"])
    assert 'data-testid="unread-badge"' not in client.get("/e/").content.decode()
