"""The laptop settings with a cheap password hash first, for the smoke run of bench/handover_day.py only.

Two dozen Argon2 logins took 16 s of a 20-s run on the shared 2-core machine (the test settings put a cheap
hasher first for the same reason); the full benchmark keeps Argon2 and reports the logins on their own lines.
"""

from handover.settings.local import *  # noqa: F403
from handover.settings.local import PASSWORD_HASHERS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
