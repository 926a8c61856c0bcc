"""The changers: what sets a new password on a target and proves it, one module per platform (Django-free,
like the connectors). The rotation app (issue 15) drives them; a changer never logs, returns or raises a
secret, and never puts one on a command line (第二十二条): a Linux changer sends a client-side SHA-512 crypt
hash on standard input to ``chpasswd -e``.
"""

from typing import Any

from handover.connectors.manifest import Credential, Target

NETWORK, LOCAL = "network", "local"


async def fresh_login(
    changer: Any, target: Target, account: str, secret: str, *, admin: Credential | None
) -> tuple[bool, str]:
    """The verification ladder's login rung: a fresh network login as the account; when it is refused and the
    platform says a direct login is forbidden there (``direct_login_forbidden``), the local login instead
    (``local_login_works``: Linux's su). At most one refused authentication per account (the network one, which
    the host refuses by configuration, not by the password). Returns whether it succeeded and which rung decided
    (NETWORK or LOCAL), so that each is recorded as such."""
    if await changer.login_works(target, account, secret, admin=admin):
        return True, NETWORK
    forbidden = getattr(changer, "direct_login_forbidden", None)
    if admin is not None and forbidden is not None and await forbidden(target, admin, account):
        return bool(await changer.local_login_works(target, admin, account, secret)), LOCAL
    return False, NETWORK
