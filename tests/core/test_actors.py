"""core/actors.py: one way to ask who acted — the login behind an actor, and the name the trail gives it."""

from __future__ import annotations

from handover.core.actors import actor_name, actor_user, system
from tests.factories import UserFactory


def test_a_login_is_its_own_user_and_named_by_its_login_name(db):
    user = UserFactory(username="li_lei")
    assert actor_user(user) is user and actor_name(user) == "li_lei"


def test_the_system_actor_has_no_login_and_is_named_as_the_system():
    actor = system("demo")
    assert actor_user(actor) is None and actor_name(actor) == "system:demo"
    assert actor_user(None) is None
