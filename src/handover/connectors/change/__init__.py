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
    """The verification ladder's login rung: a fresh network login as the account, or where the platform says a
    direct login is forbidden (``direct_login_forbidden``), its local login (``local_login_works``: Linux's su).
    Returns whether it succeeded and which rung ran (NETWORK or LOCAL), so that each is recorded as such."""
    forbidden = getattr(changer, "direct_login_forbidden", None)
    if admin is not None and forbidden is not None and await forbidden(target, admin, account):
        return bool(await changer.local_login_works(target, admin, account, secret)), LOCAL
    return bool(await changer.login_works(target, account, secret, admin=admin)), NETWORK
