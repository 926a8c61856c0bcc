"""The laptop settings with a cheap password hash first, for bench/handover_day.py ``--cheap-hash`` only.

**The bench's choice, not production's.** Production (and the laptop settings) hash passwords with Argon2
(settings/base.py ``PASSWORD_HASHERS``); a login's Argon2 check costs tens of milliseconds of CPU on purpose,
and two dozen of them took 16 s of a 20-s run on the shared 2-core machine. With ``--cheap-hash`` the generated
logins are stored as MD5 and checked with it (the test settings put a cheap hasher first for the same reason),
so the day's figures are of its pages, not of its morning's logins; the Argon2 login is a cost of its own,
measured without ``--cheap-hash``.

``HANDOVER_BENCH_CPU_LOG`` (a folder; bench/handover_day.py ``--cpu-log``) puts bench/handover_day_cpu.py's
middleware first: each request's CPU in the worker, by URL pattern.
"""

import os

from handover.settings.local import *  # noqa: F403
from handover.settings.local import MIDDLEWARE, PASSWORD_HASHERS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
if os.environ.get("HANDOVER_BENCH_CPU_LOG"):
    MIDDLEWARE = ["handover_day_cpu.CpuPerRequest", *MIDDLEWARE]
