"""A loopback port that refuses connections for as long as the block lasts: bound, never listening, so no
server started beside the test (the parallel PostgreSQL pass, another fixture) can take it meanwhile."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def refused_port() -> Iterator[int]:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])
