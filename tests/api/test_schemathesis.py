"""Review L1: Schemathesis generates requests from the OpenAPI schema and sends them to the WSGI app in this
process, as each demo role with its API token; no answer may be a 5xx, an undocumented status code or content
type, or a body that violates the operation's response schema; no answer may be a success (2xx) on an operation
whose capability none of the role's grants holds (org.permissions, the access policy, as the oracle), and a
site-scoped role's success may name no site outside its subtrees (the policy's site half).

Valid (positive) and invalid (negative) requests, a few per operation, derandomised so a failure replays.
Left out are the operations that would make the run depend on its order: the phase change, the token endpoint,
linking and unlinking logins (the caller can lose their own roles), revoking roles, and the final archiving of a
form. Each role's run is one test, in the test's transaction over the module's demo (tests/api/conftest.py)."""

from __future__ import annotations

import contextlib
import copy
import os
import re
from collections.abc import Callable, Iterator
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
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from handover.org import permissions as perms
from handover.org.access import site_scope
from handover.org.models import Engagement, Site
from handover.org.selectors import roles_in
from handover.web.access import AUTHENTICATED, PUBLIC
from tests.demo_db import DEMO_USERS
from tests.test_access_policy import _capability

# Two derandomised examples per operation in `make test`; `make fuzz` (part of `make bench`) sends 50 random ones.
LONG = os.environ.get("HANDOVER_FUZZ") == "long"
EXAMPLES = 50 if LONG else 2
SITE_SCOPED = "demo-onsite-hz"  # 现场技术岗位 at one branch
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
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


def _sites_of(username: str) -> Callable[[str], frozenset[int | str] | None]:
    """The sites (ids and codes: the API names a site by either) where the user holds a capability, or None
    where it holds it engagement-wide or nowhere (the capability half judges those)."""
    user = get_user_model().objects.get(username=username)
    engagement = Engagement.objects.get(code="demo")
    found: dict[str, frozenset[int | str] | None] = {}

    def sites(capability: str) -> frozenset[int | str] | None:
        if capability not in found:
            scope = site_scope(user=user, engagement=engagement, capability=capability)
            whole = scope is None or not scope  # None: held nowhere (the capability check judges); Q(): all
            pairs = [] if whole else Site.objects.filter(scope).values_list("pk", "code")
            found[capability] = None if whole else frozenset(x for pair in pairs for x in pair)
        return found[capability]

    return sites


def _site_ids(body: Any) -> Iterator[int | str]:
    """Every ``site`` (id or code) in a JSON answer, at any depth."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "site" and isinstance(value, (int, str)):
                yield value
            else:
                yield from _site_ids(value)
    elif isinstance(body, list):
        for item in body:
            yield from _site_ids(item)


def _out_of_scope(
    case: Any,
    response: Any,
    sites: Callable[[str], frozenset[int | str] | None],
    judged: list[int | str] | None = None,
) -> None:
    """The policy's site half: a site-scoped user's success names only sites of its subtrees."""
    headers = {key.lower(): value for key, value in response.headers.items()}
    if not 200 <= response.status_code < 300 or "json" not in headers.get("content-type", [""])[0]:
        return
    allowed = sites(_capability(resolve(urlsplit(case.formatted_path).path).func))
    if allowed is None:
        return
    named = set(_site_ids(response.json()))
    if judged is not None:
        judged.extend(named)
    outside = sorted(map(str, named - allowed))
    assert not outside, (
        f"{case.method} {case.formatted_path} answered sites {outside}, outside the user's subtrees"
    )


def _server_errors(
    app: WSGIHandler,
    token: str,
    held: frozenset[str],
    checked: list[str],
    sites: Callable[[str], frozenset[int | str] | None],
    judged: list[int | str],
) -> list[str]:
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
            derandomize=not LONG,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def run(case: Any) -> None:
            response = case.call()
            case.validate_response(response, checks=CHECKS)
            _denied_success(case, response, held, checked)
            _out_of_scope(case, response, sites, judged)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup is a BaseExceptionGroup
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    return failures


@pytest.mark.parametrize("username", DEMO_USERS)
def test_no_request_from_the_schema_gets_a_server_error_or_a_success_the_policy_denies(demo, username):
    token = _token(username, demo[username])
    held, checked, judged = _held(username), [], []
    with _wsgi() as app:
        failures = _server_errors(app, token, held, checked, _sites_of(username), judged)
    assert failures == [], "\n\n".join(failures)
    assert checked  # the oracle judged successes (the sysadmin's are only the login-wide ones: separation)
    if username == SITE_SCOPED:
        assert judged  # the site half judged answers naming sites


def test_the_site_oracle_refuses_a_site_outside_the_subtree_at_any_depth() -> None:
    """The site half can fail: a site-scoped success naming another site, nested in a page of results."""
    case = SimpleNamespace(method="GET", formatted_path="/api/engagements/demo/register-forms/")
    response = SimpleNamespace(
        status_code=200,
        headers={"content-type": ["application/json"]},
        json=lambda: {"results": [{"site": 5}, {"rows": [{"site": 9}]}]},
    )
    with pytest.raises(AssertionError, match=r"sites \['9'\]"):
        _out_of_scope(case, response, lambda capability: frozenset({5}))
    _out_of_scope(case, response, lambda capability: frozenset({5, 9}))
    _out_of_scope(case, response, lambda capability: None)  # engagement-wide: the capability half judges


def test_the_oracle_refuses_a_success_the_policy_denies_and_passes_what_it_allows() -> None:
    """The oracle can fail: a 2xx on the people list for a user whose roles hold view_engagement only."""
    case = SimpleNamespace(method="GET", formatted_path="/api/engagements/demo/people/?page=1")
    held = frozenset({PUBLIC, AUTHENTICATED, perms.VIEW_ENGAGEMENT})
    with pytest.raises(AssertionError, match="view_people"):
        _denied_success(case, SimpleNamespace(status_code=200), held)
    _denied_success(case, SimpleNamespace(status_code=403), held)
    _denied_success(case, SimpleNamespace(status_code=200), held | {perms.VIEW_PEOPLE})
