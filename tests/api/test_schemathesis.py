"""Review L1: Schemathesis generates requests from the OpenAPI schema and sends them to the WSGI app in this
process, as each demo role with its API token; no answer may be a 5xx.

Valid (positive) and invalid (negative) requests, a few per operation, derandomised so a failure replays.
Left out are the operations that would make the run depend on its order: the phase change, the token endpoint,
linking and unlinking logins (the caller can lose their own roles), revoking roles, and the final archiving of a
form. Each role's run is one test, in the test's transaction over the module's demo (tests/api/conftest.py)."""

from __future__ import annotations

import contextlib
import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from tests.demo_db import DEMO_USERS

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


def _server_errors(app: WSGIHandler, token: str) -> list[str]:
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

        try:
            run()
        except Exception as exc:  # every operation's failure is reported, not only the first
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    return failures


@pytest.mark.parametrize("username", DEMO_USERS)
def test_no_request_from_the_schema_gets_a_server_error(demo, username):
    token = _token(username, demo[username])
    with _wsgi() as app:
        failures = _server_errors(app, token)
    assert failures == [], "\n\n".join(failures)
