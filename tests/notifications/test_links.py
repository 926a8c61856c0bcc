"""A notification's link names a page by its route (issue 17, "services know no face"): the notifications app
resolves it, so the services that notify spell no web path, and a message points at the page the route
serves today."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import NoReverseMatch

from handover.notifications.links import Link, link_path
from handover.notifications.models import Notification
from handover.workflow import services as workflow
from handover.workflow import topics
from handover.workflow.models import StepInstance
from tests.workflow.conftest import at, start_handover

SRC = Path(__file__).resolve().parents[2] / "src" / "handover"
NOT_YET: set[str] = set()


def test_a_link_resolves_to_the_page_its_route_serves():
    assert Link("workflow:case", code="ABC", case_id=7).path() == "/w/ABC/exceptions/7/"
    assert link_path(Link("vault:request_list", code="ABC")) == "/e/ABC/vault/requests/"
    assert link_path("/n/") == "/n/"
    with pytest.raises(NoReverseMatch):
        Link("workflow:case", code="ABC").path()  # a route's argument missing is an error, not a bad link


def test_a_step_told_of_links_to_its_page(world, people):
    start_handover(world, people)
    t01 = StepInstance.objects.get(site=world.branch_a, step_id="T-01")
    workflow.feedback_record(
        actor=people["onsite"], step=t01, reason="介质不足", expected_at=at(2, 2), now=at(1, 21)
    )
    note = Notification.objects.get(topic=topics.FEEDBACK)
    assert note.link == f"/w/{world.engagement.code}/steps/{t01.pk}/"


def _paths_spelled(path: Path) -> list[int]:
    """Lines of string literals (f-strings too) that start like a page's path."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        parts = node.values if isinstance(node, ast.JoinedStr) else [node]
        first = parts[0] if parts else None
        spelled = isinstance(first, ast.Constant) and isinstance(first.value, str)
        if spelled and first.value.startswith(("/e/", "/w/", "/n/", "/audit/")):
            lines.append(node.lineno)
    return lines


def test_no_service_spells_a_web_path():
    services = [*SRC.glob("*/services.py"), *SRC.glob("*/services/*.py")]
    assert len(services) > 10
    spelled = {
        str(p.relative_to(SRC)): lines
        for p in services
        if (lines := _paths_spelled(p)) and str(p.relative_to(SRC)) not in NOT_YET
    }
    assert spelled == {}
