"""The CPU each request costs the gunicorn worker that served it, for bench/handover_day.py (``--cpu-log``).

Put first in the bench's middleware (bench/handover_day_settings.py, when ``HANDOVER_BENCH_CPU_LOG`` names a
folder): it reads the worker's CPU time (``time.process_time``: a sync worker serves one request at a time and
runs no other thread) before and after the whole stack, and appends "METHOD route status ms" to a file of the
worker's own in that folder. The route is the URL pattern (``/e/<str:code>/registers/<int:number>/``), never the
path, so no code, id or query string is written. bench/handover_day.py sums the files per route.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from django.http import HttpRequest, HttpResponse

_files: dict[int, IO[str]] = {}


class CpuPerRequest:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.folder = Path(os.environ["HANDOVER_BENCH_CPU_LOG"])

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.process_time()
        response = self.get_response(request)
        spent = (time.process_time() - began) * 1000
        match = getattr(request, "resolver_match", None)
        route = f"/{match.route}" if match is not None else "(no route)"  # "/" for the home page
        pid = os.getpid()
        if pid not in _files:  # one file per worker: no two processes append to one file
            _files[pid] = (self.folder / f"cpu-{pid}.log").open("a", buffering=1)
        _files[pid].write(f"{request.method} {route} {response.status_code} {spent:.3f}\n")
        return response
