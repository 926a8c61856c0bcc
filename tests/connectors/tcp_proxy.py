"""A TCP proxy on loopback that a test switches between forwarding, dropping and delaying, to put network faults
between Handover and a real server (issue 15). This kernel has no ``sch_netem`` (``tc qdisc … netem`` says
"Specified qdisc kind is unknown") and the machine no iptables or nft, so packets are not dropped in the kernel:
the proxy stops forwarding instead, which the client sees the same way — a connection that stays open and never
answers (``drop``), or answers late (``delay``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass
class Proxy:
    """``mode``: ``forward``, ``drop`` (bytes read and discarded both ways, the connection left open) or
    ``delay`` (each chunk forwarded ``delay`` seconds late). Switched by the test at any moment; it applies to
    the chunks read from then on, on every connection."""

    upstream: int
    port: int = 0
    mode: str = "forward"
    delay: float = 0.0
    dropped: int = 0  # bytes discarded, to show the fault did happen
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                if self.mode == "drop":
                    self.dropped += len(chunk)
                    continue
                if self.mode == "delay":
                    await asyncio.sleep(self.delay)
                writer.write(chunk)
                await writer.drain()
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))


@contextlib.contextmanager
def tcp_proxy(upstream: int) -> Iterator[Proxy]:
    """A proxy to ``127.0.0.1:upstream`` on a free loopback port, served by a thread of its own."""
    proxy = Proxy(upstream)
    server: list[asyncio.Server] = []

    async def start() -> None:
        server.append(await asyncio.start_server(proxy._client, "127.0.0.1", 0))
        proxy.port = server[0].sockets[0].getsockname()[1]

    async def stop() -> None:
        server[0].close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=proxy.loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), proxy.loop).result()
    try:
        yield proxy
    finally:
        asyncio.run_coroutine_threadsafe(stop(), proxy.loop).result()
        proxy.loop.call_soon_threadsafe(proxy.loop.stop)
        thread.join()
        proxy.loop.close()
