"""Change and verify a directory account's password (第二十六条第2项; issue 15's LDAP and AD platforms).

The same four calls as ``change.linux``. The account is the inventory's name (uid, else cn; sAMAccountName for
AD); its DN is looked up under the target's base.

* **OpenLDAP**: ``change`` writes ``userPassword: {CRYPT}$6$…`` computed here (SHA-512 crypt, which slapd checks
  with the system's crypt()), as the target's credential (the rootDN or an administrator with write access to
  userPassword): the password itself never crosses the wire, and slapd's stats log shows an attribute name
  only. ``stored_matches`` reads userPassword and checks ``{CRYPT}$6$``, ``{SSHA}`` and ``{SHA}`` here.
* **Active Directory** (``ad=True``): ``change`` replaces ``unicodePwd`` (the quoted password in UTF-16-LE, as
  MS-ADTS 3.1.1.3.1.5 requires) over LDAPS — a DC never takes a hash; the stored verifier cannot be read, so
  ``stored_matches`` is a bind as the account.

``login_works`` is a fresh simple bind as the account's DN. ``snapshot`` is everything about the entry the
gathering reads but the password (its attributes, the groups naming it, ppolicy's pwdReset and lock; AD's
userAccountControl, accountExpires and memberOf), which the change must leave as it was.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from handover.connectors import ldap
from handover.connectors import run as connectors_run
from handover.connectors.change.sha512crypt import sha512_crypt, verify
from handover.connectors.errors import GatherError, Status
from handover.connectors.manifest import Credential, Target

SKIP = frozenset({"userpassword", "unicodepwd", "pwdchangedtime", "pwdlastsuccess", "authtimestamp",
                  "pwdfailuretime", "pwdlastset", "lastlogon", "lastlogontimestamp", "badpwdcount",
                  "badpasswordtime", "whenchanged", "usnchanged", "modifytimestamp", "entrycsn", "modifiersname",
                  "logoncount", "dscorepropagationdata", "pwdhistory"})  # fmt: skip


@dataclass(frozen=True)
class Snapshot:
    """What a password change must not touch."""

    attributes: str  # the entry's attributes but the password and its bookkeeping, sorted
    groups: str  # the groups naming the entry


def _where(target: Target) -> str:
    return f"{target.host}:{target.port}"


def _ssl(ad: bool) -> str:
    return "ldaps" if ad else ""


def _dn(conn: Any, target: Target, account: str, ad: bool) -> str:
    import ldap3
    from ldap3.utils.conv import escape_filter_chars

    info = conn.server.info
    default = (info.other.get("defaultNamingContext") or [""])[0] if info and info.other else ""
    base = target.option("base") or default or next(iter((info.naming_contexts if info else None) or []), "")
    name = escape_filter_chars(account)
    query = f"(sAMAccountName={name})" if ad else f"(|(uid={name})(&(!(uid=*))(cn={name})))"
    conn.search(base, query, ldap3.SUBTREE, attributes=["1.1"])
    found = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    if len(found) != 1:
        raise GatherError(
            Status.REFUSED,
            f"{_where(target)}: {len(found)} entries named {account!r} under {base}",
            f"{_where(target)}：{base} 下名为 {account} 的条目有 {len(found)} 个",
        )
    return str(found[0]["dn"])


def _with(target: Target, admin: Credential, ad: bool, work: Any) -> Any:
    _server, conn, _warnings = ldap.open_connection(target, admin, ssl_default=_ssl(ad), read_only=False)
    try:
        return work(conn)
    finally:
        conn.unbind()


def _refused(target: Target, conn: Any, what: str) -> GatherError:
    code = (conn.result or {}).get("result")
    return GatherError(
        Status.REFUSED,
        f"{_where(target)}: {what} was refused (LDAP result {code})",
        f"{_where(target)}：{what}被拒绝（LDAP 结果码 {code}）",
    )


def _change(target: Target, admin: Credential, account: str, new_secret: str, ad: bool) -> None:
    import ldap3

    def work(conn: Any) -> None:
        dn = _dn(conn, target, account, ad)
        if ad:
            value: Any = f'"{new_secret}"'.encode("utf-16-le")
            changes = {"unicodePwd": [(ldap3.MODIFY_REPLACE, [value])]}
        else:
            changes = {"userPassword": [(ldap3.MODIFY_REPLACE, ["{CRYPT}" + sha512_crypt(new_secret)])]}
        if not conn.modify(dn, changes):
            raise _refused(target, conn, "the password change")

    _with(target, admin, ad, work)


async def change(
    target: Target, admin: Credential, account: str, new_secret: str, *, ad: bool = False
) -> None:
    """Set ``account``'s password to ``new_secret`` (OpenLDAP: its hash only; AD: over LDAPS)."""
    await connectors_run.in_thread(lambda t, c: _change(t, c, account, new_secret, ad), target, admin)


def verifier_matches(secret: str, stored: str) -> bool:
    """Whether a userPassword value is ``secret``'s: {CRYPT}$6$, {SSHA}, {SHA}; a clear value compared as is."""
    if stored.upper().startswith("{CRYPT}"):
        return verify(secret, stored[len("{CRYPT}") :])
    if stored.upper().startswith("{SSHA}"):
        raw = base64.b64decode(stored[6:])
        digest, salt = raw[:20], raw[20:]
        mine = hashlib.sha1(secret.encode() + salt, usedforsecurity=False).digest()
        return hmac.compare_digest(mine, digest)
    if stored.upper().startswith("{SHA}"):
        plain = base64.b64encode(hashlib.sha1(secret.encode(), usedforsecurity=False).digest()).decode()
        return hmac.compare_digest(plain, stored[5:])
    if stored.startswith("{"):
        return False
    return hmac.compare_digest(secret, stored)


def _stored(target: Target, admin: Credential, account: str) -> list[str]:
    import ldap3

    def work(conn: Any) -> list[str]:
        dn = _dn(conn, target, account, False)
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["userPassword"])
        entry = next((e for e in conn.response or [] if e.get("type") == "searchResEntry"), None)
        values = (entry or {}).get("raw_attributes", {}).get("userPassword", [])
        return [v.decode("utf-8", "replace") for v in values]

    result: list[str] = _with(target, admin, False, work)
    return result


# --- the exact previous verifier (E01's revert, 第二十八条第1项; OpenLDAP only: AD keeps it unreadable) ----------


async def stored_verifier(target: Target, admin: Credential, account: str) -> str | None:
    """The entry's userPassword values, sorted, one a line (secret material: the caller seals or drops it)."""
    values = await connectors_run.in_thread(lambda t, c: _stored(t, c, account), target, admin)
    return "\n".join(sorted(values)) or None


def verifier_holds_all(verifier: str, secret: str) -> bool:
    """Whether one of the userPassword values (one a line) is ``secret``'s."""
    return any(verifier_matches(secret, value) for value in verifier.split("\n"))


def _set_verifier(target: Target, admin: Credential, account: str, verifier: str) -> None:
    import ldap3

    def work(conn: Any) -> None:
        dn = _dn(conn, target, account, False)
        values = [v.encode("utf-8") for v in verifier.split("\n")]
        if not conn.modify(dn, {"userPassword": [(ldap3.MODIFY_REPLACE, values)]}):
            raise _refused(target, conn, "the password restore")

    _with(target, admin, False, work)


async def stored_matches(
    target: Target, admin: Credential, account: str, secret: str, *, ad: bool = False
) -> bool:
    """Rung 1: the stored verifier is ``secret``'s (OpenLDAP); AD keeps it unreadable: a bind as the account."""
    if ad:
        return await login_works(target, account, secret, ad=True, admin=admin)
    values = await connectors_run.in_thread(lambda t, c: _stored(t, c, account), target, admin)
    return any(verifier_matches(secret, v) for v in values)


def _login(target: Target, admin: Credential, account: str, secret: str, ad: bool) -> bool:
    dn = _with(target, admin, ad, lambda conn: _dn(conn, target, account, ad))
    try:
        _server, conn, _warnings = ldap.open_connection(target, Credential(dn, secret), ssl_default=_ssl(ad))
    except GatherError as exc:
        if exc.status in (Status.AUTH_FAILED, Status.LOCKED):
            return False
        raise
    conn.unbind()
    return True


async def login_works(
    target: Target, account: str, secret: str, *, ad: bool = False, admin: Credential | None = None
) -> bool:
    """Rung 2: a fresh simple bind as the account's DN (found with ``admin``) succeeds."""
    if admin is None:
        raise ValueError("the DN is found with the target's credential")
    return bool(await connectors_run.in_thread(lambda t, c: _login(t, c, account, secret, ad), target, admin))


def _snapshot(target: Target, admin: Credential, account: str, ad: bool) -> Snapshot:
    import ldap3
    from ldap3.utils.conv import escape_filter_chars

    def work(conn: Any) -> Snapshot:
        dn = _dn(conn, target, account, ad)
        conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["*", "pwdReset", "pwdAccountLockedTime"])
        entry = next((e for e in conn.response or [] if e.get("type") == "searchResEntry"), None) or {}
        pairs = sorted(
            f"{name.lower()}={value.hex() if isinstance(value, bytes) else value}"
            for name, values in entry.get("raw_attributes", {}).items()
            if name.lower() not in SKIP
            for value in values
        )
        base = dn.split(",", 1)[1] if "," in dn else dn
        while base and not base.lower().startswith("dc="):
            base = base.split(",", 1)[1] if "," in base else ""
        member, uid = escape_filter_chars(dn), escape_filter_chars(account)
        query = f"(|(member={member})(uniqueMember={member})(memberUid={uid}))"
        conn.search(base or dn, query, ldap3.SUBTREE, attributes=["1.1"])
        groups = sorted(str(e["dn"]) for e in conn.response or [] if e.get("type") == "searchResEntry")
        return Snapshot("\n".join(pairs), "\n".join(groups))

    result: Snapshot = _with(target, admin, ad, work)
    return result


async def snapshot(target: Target, admin: Credential, account: str, *, ad: bool = False) -> Snapshot:
    """Everything about the entry the change must not touch."""
    result: Snapshot = await connectors_run.in_thread(
        lambda t, c: _snapshot(t, c, account, ad), target, admin
    )
    return result


# --- 停用 (第二十六条第3项 A) and its exact restore (第二十八条第3项) ---------------------------------------------
# OpenLDAP: ppolicy's pwdAccountLockedTime 000001010000Z (locked until an administrator unlocks; the overlay
# must be loaded); Active Directory: userAccountControl's ACCOUNTDISABLE bit (2).
LOCKED_FOREVER = "000001010000Z"
ACCOUNTDISABLE = 2


def _lock_state(target: Target, admin: Credential, account: str, ad: bool) -> dict[str, str]:
    attribute = "userAccountControl" if ad else "pwdAccountLockedTime"

    def work(conn: Any) -> dict[str, str]:
        dn = _dn(conn, target, account, ad)
        conn.search(dn, "(objectClass=*)", search_scope="BASE", attributes=[attribute])
        values = conn.entries[0].entry_attributes_as_dict.get(attribute, []) if conn.entries else []
        value = str(values[0]) if values else ""
        return {"uac": value} if ad else {"locked_time": value}

    result: dict[str, str] = _with(target, admin, ad, work)
    return result


def _set_lock(
    target: Target, admin: Credential, account: str, ad: bool, state: dict[str, str] | None
) -> None:
    """``state`` None: disable; else bring ``state`` back."""
    import ldap3

    def work(conn: Any) -> None:
        dn = _dn(conn, target, account, ad)
        if ad:
            now = _lock_state(target, admin, account, ad)["uac"] if state is None else ""
            value = str(int(now or "512") | ACCOUNTDISABLE) if state is None else state["uac"]
            if not value.isdigit():
                raise ValueError("not a lock state read by lock_state")
            changes = {"userAccountControl": [(ldap3.MODIFY_REPLACE, [value])]}
        elif state is None:
            changes = {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [LOCKED_FOREVER])]}
        elif state.get("locked_time"):
            changes = {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, [state["locked_time"]])]}
        else:
            changes = {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]}
        if not conn.modify(dn, changes):
            raise _refused(target, conn, "the account lock" if state is None else "the unlock")

    _with(target, admin, ad, work)


class _Platform:
    """The four calls bound to one flavour (rotation picks a changer module-like object by connector)."""

    def __init__(self, ad: bool) -> None:
        self.ad = ad

    async def change(self, target: Target, admin: Credential, account: str, new_secret: str) -> None:
        await change(target, admin, account, new_secret, ad=self.ad)

    async def stored_matches(self, target: Target, admin: Credential, account: str, secret: str) -> bool:
        return await stored_matches(target, admin, account, secret, ad=self.ad)

    async def snapshot(self, target: Target, admin: Credential, account: str) -> Snapshot:
        return await snapshot(target, admin, account, ad=self.ad)

    async def stored_verifier(self, target: Target, admin: Credential, account: str) -> str | None:
        """OpenLDAP: the userPassword values; AD: None (unreadable)."""
        return None if self.ad else await stored_verifier(target, admin, account)

    def verifier_holds(self, verifier: str, secret: str) -> bool:
        return not self.ad and verifier_holds_all(verifier, secret)

    async def set_verifier(self, target: Target, admin: Credential, account: str, verifier: str) -> None:
        """OpenLDAP: userPassword replaced with the values as they were."""
        if self.ad:
            raise ValueError("Active Directory takes no verifier")
        await connectors_run.in_thread(lambda t, c: _set_verifier(t, c, account, verifier), target, admin)

    async def login_works(
        self, target: Target, account: str, secret: str, *, admin: Credential | None = None
    ) -> bool:
        return await login_works(target, account, secret, ad=self.ad, admin=admin)

    async def lock_state(self, target: Target, admin: Credential, account: str) -> dict[str, str]:
        """OpenLDAP: ppolicy's lock time ("" none); AD: userAccountControl."""
        result: dict[str, str] = await connectors_run.in_thread(
            lambda t, c: _lock_state(t, c, account, self.ad), target, admin
        )
        return result

    def disabled(self, state: dict[str, str]) -> bool:
        if self.ad:
            return int(state.get("uac") or "0") & ACCOUNTDISABLE != 0
        return state.get("locked_time") == LOCKED_FOREVER

    async def disable(self, target: Target, admin: Credential, account: str) -> None:
        await connectors_run.in_thread(lambda t, c: _set_lock(t, c, account, self.ad, None), target, admin)

    async def enable(self, target: Target, admin: Credential, account: str, before: dict[str, str]) -> None:
        await connectors_run.in_thread(lambda t, c: _set_lock(t, c, account, self.ad, before), target, admin)


OPENLDAP, ACTIVE_DIRECTORY = _Platform(ad=False), _Platform(ad=True)
