"""Review L1: Schemathesis generates requests from the OpenAPI schema and sends them to the WSGI app in this
process, as each demo role with its API token; no answer may be a 5xx, and no answer may be a success (2xx) on an
operation whose capability none of the role's grants holds (org.permissions, the access policy, as the oracle).

Valid (positive) and invalid (negative) requests, a few per operation, derandomised so a failure replays.
Left out are the operations that would make the run depend on its order: the phase change, the token endpoint,
linking and unlinking logins (the caller can lose their own roles), revoking roles, and the final archiving of a
form. Each role's run is one test, in the test's transaction over the module's demo (tests/api/conftest.py)."""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.urls import resolve
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from handover.org import permissions as perms
from handover.org.models import Engagement
from handover.org.selectors import roles_in
from handover.web.access import AUTHENTICATED, PUBLIC
from tests.demo_db import DEMO_USERS
from tests.test_access_policy import _capability

EXAMPLES = 2
_RAW_SCHEMA: dict[str, Any] = {}
SKIP = re.compile(r"/workflow/phase/|/auth/token/|/login/|/archive/")
SKIP_METHODS = {"DELETE"}


@contextlib.contextmanager
def _wsgi() -> Iterator[WSGIHandler]:
    """The app as gunicorn runs it, minus closing the database connection at each request's start and end:
    the requests run inside the test's transaction, as Django's test client arranges for its own (which
    connects the handler again after each of its requests, so no test client is used inside this block)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _token(username: str, password: str) -> str:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def _held(username: str) -> frozenset[str]:
    """Every capability the user's roles give anywhere in the demo engagement (org.permissions, the policy)."""
    user = get_user_model().objects.get(username=username)
    roles = roles_in(user=user, engagement=Engagement.objects.get(code="demo"))
    return frozenset().union(*(perms.capabilities_of(role) for role in roles)) | {PUBLIC, AUTHENTICATED}


def _denied_success(case: Any, response: Any, held: frozenset[str], checked: list[str] | None = None) -> None:
    """The access policy as the oracle: a success (2xx) on a view whose capability none of the user's roles
    holds is a leak. Only the engagement-wide question; a site role's subtree is test_access_policy.py's."""
    if not 200 <= response.status_code < 300:
        return
    capability = _capability(resolve(urlsplit(case.formatted_path).path).func)
    if checked is not None:
        checked.append(capability)
    assert capability in held, (
        f"{case.method} {case.formatted_path} answered {response.status_code}, but the policy gives no role of"
        f" this user {capability!r}"
    )


def _server_errors(app: WSGIHandler, token: str, held: frozenset[str], checked: list[str]) -> list[str]:
    auth = {"Authorization": f"Token {token}"}
    if not _RAW_SCHEMA:  # the schema is the same for every role; drf-spectacular takes seconds to build it
        loaded = schemathesis.openapi.from_wsgi(
            "/api/schema/", app, headers={**auth, "Accept": "application/vnd.oai.openapi+json"}
        )
        _RAW_SCHEMA.update(loaded.raw_schema)
    schema = schemathesis.openapi.from_dict(copy.deepcopy(_RAW_SCHEMA))
    schema.app = app
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() in SKIP_METHODS or SKIP.search(operation.path):
            continue
        pinned = {"code": "demo"} if "{code}" in operation.path else None
        strategy = st.one_of(
            *(
                operation.as_strategy(mode, path_parameters=pinned, headers=auth)
                for mode in schemathesis.GenerationMode
            )
        )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call()
            case.validate_response(response, checks=[not_a_server_error])
            _denied_success(case, response, held, checked)

        try:
            run()
        except Exception as exc:  # every operation's failure is reported, not only the first
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    return failures


@pytest.mark.parametrize("username", DEMO_USERS)
def test_no_request_from_the_schema_gets_a_server_error_or_a_success_the_policy_denies(demo, username):
    token = _token(username, demo[username])
    held, checked = _held(username), []
    with _wsgi() as app:
        failures = _server_errors(app, token, held, checked)
    assert failures == [], "\n\n".join(failures)
    assert checked  # the oracle judged successes (the sysadmin's are only the login-wide ones: separation)


def test_the_oracle_refuses_a_success_the_policy_denies_and_passes_what_it_allows() -> None:
    """The oracle can fail: a 2xx on the people list for a user whose roles hold view_engagement only."""
    case = SimpleNamespace(method="GET", formatted_path="/api/engagements/demo/people/?page=1")
    held = frozenset({PUBLIC, AUTHENTICATED, perms.VIEW_ENGAGEMENT})
    with pytest.raises(AssertionError, match="view_people"):
        _denied_success(case, SimpleNamespace(status_code=200), held)
    _denied_success(case, SimpleNamespace(status_code=403), held)
    _denied_success(case, SimpleNamespace(status_code=200), held | {perms.VIEW_PEOPLE})
