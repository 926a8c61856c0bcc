"""Scenery of the risk tests: logins of the roles that act here, and a time in Beijing (``at``)."""

from __future__ import annotations

import datetime as dt

import pytest

from handover.org.models import Role
from handover.workflow.deadlines import BEIJING


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BEIJING)


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in English whatever an earlier test (``handover demo``) left active."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def people(world):
    return {
        "tech": world.login_with(Role.TECH_GROUP, username="tech"),
        "tech2": world.login_with(Role.TECH_GROUP, username="tech2"),
        "onsite": world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite_a"),
        "firm_it": world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm_it_a"),
        "observer": world.login_with(Role.OBSERVER, username="observer"),
    }
