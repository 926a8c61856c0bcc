"""The request in progress, for the audit trail: request id, client address and actor.

Set by ``RequestContextMiddleware`` for web and API requests and by ``command_context`` for the CLI,
so services record where a change came from without every caller passing it along.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """Where the current action comes from."""

    request_id: str
    client_addr: str
    channel: str  # web, api, cli, task


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "handover_request", default=None
)


def current() -> RequestContext:
    """The current context; a fresh one for code running outside any request (e.g. a shell)."""
    ctx = _current.get()
    if ctx is None:
        return RequestContext(request_id=uuid.uuid4().hex, client_addr="", channel="internal")
    return ctx


@contextlib.contextmanager
def bind(ctx: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def command_context(channel: str = "cli") -> contextlib.AbstractContextManager[RequestContext]:
    """Context for a command-line run or a task: one id for everything it does."""
    return bind(RequestContext(request_id=uuid.uuid4().hex, client_addr="", channel=channel))
