"""The review rules: what the gathered accounts say against least privilege and the departed-staff list.

第二十二条 (super-users and their equivalents are the custodian's first concern), 第二十五条第3项 (staff who
left in the half year before D), 第二十六条第2、3项 (every super-user's password changed, permissions checked
and reduced: A 删除/停用, B 降权, C 专人专户, D 替代用户), 第二十八条第3、4项 (the stabilisation's checks).

``RULES`` is the catalogue, as data: a stable code, a severity, the article it serves, what it means in
English and Chinese, and its check. ``review(items, context)`` runs them all on (system, inventory) pairs and
returns the findings sorted, at most one per (rule, system, host, account), each with the evidence of the
facts it rests on. Django-free, like the connectors (the field agent may run it).

Departed staff are matched by user name, display name (GECOS, cn), e-mail and key comment against each
person's name in pinyin variants (张三: zhangsan, zhang.san, zhang_san, sanzhang, san.zhang, zsan, zhangs)
and the logins the registers know for them; an exact variant scores 100, otherwise rapidfuzz's ratio above
the context's threshold (85) is reported with its score. A token of fewer than three letters never matches.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from handover.connectors.findings import Finding, Person, ReviewContext, SystemRef
from handover.connectors.model import Account, AccountKind, Evidence, Inventory, PasswordState, Privilege

HIGH, MEDIUM, LOW = "high", "medium", "low"

# The administrators a platform is expected to have: their super-user rights are not a finding by themselves
# (their password change is 表10's business), everything else holding such rights is.
EXPECTED_ADMINS = frozenset(
    {"root", "postgres", "root@localhost", "root@127.0.0.1", "root@::1", "mariadb.sys@localhost", "sys",
     "system", "administrator", "admin@local", "cn=admin", "krbtgt"}
)  # fmt: skip
GENERIC_NAMES = frozenset(
    {"admin", "administrator", "test", "test1", "test01", "guest", "user", "user1", "oper", "operator", "backup",
     "share", "shared", "public", "temp", "tmp", "demo", "support", "service", "monitor", "dba", "app", "web",
     "ftp", "ops", "sysadmin", "manager", "yunwei", "guanli", "ceshi", "运维", "管理员", "测试", "公用", "临时"}
)  # fmt: skip
AD_ADMIN_GROUPS = frozenset(
    {"domain admins", "enterprise admins", "schema admins", "administrators", "account operators",
     "server operators", "backup operators", "print operators", "dnsadmins", "group policy creator owners"}
)  # fmt: skip
DB_SUPER = frozenset({"SUPERUSER", "SUPER", "ALL", "ALL PRIVILEGES", "DBA", "SYSDBA", "SYSOPER", "SYSBACKUP"})
PG_SERVER_FILES = frozenset({"pg_read_server_files", "pg_write_server_files", "pg_execute_server_program"})
NOLOGIN = ("nologin", "false", "halt", "shutdown", "sync")


@dataclass(frozen=True)
class Rule:
    """One review rule: ``check`` yields its findings on one inventory (or, ``across``, on all of them)."""

    code: str
    severity: str
    article: str
    en: str
    zh: str
    check: Callable[[_Context, SystemRef, Inventory], Iterable[Finding]] | None = None
    across: Callable[[_Context, list[tuple[SystemRef, Inventory]]], Iterable[Finding]] | None = None


# --- the context, prepared once per review -----------------------------------------------------------------


@dataclass
class _Match:
    person: Person
    score: int
    token: str


@dataclass
class _Context:
    given: ReviewContext
    variants: dict[str, list[int]] = field(default_factory=dict)  # variant → people indices
    choices: list[str] = field(default_factory=list)  # the variants, for fuzzy matching
    changed_on_form10: frozenset[tuple[str, str, str]] = frozenset()
    generic: frozenset[str] = GENERIC_NAMES
    matched: dict[tuple[str, ...], _Match | None] = field(default_factory=dict)  # several rules ask the same

    @classmethod
    def of(cls, given: ReviewContext) -> _Context:
        ctx = cls(given=given, changed_on_form10=frozenset(given.changed_on_form10))
        ctx.generic = GENERIC_NAMES | {n.lower() for n in given.generic_names}
        for index, person in enumerate(given.people):
            for variant in name_variants(person.name) | {_norm(u) for u in person.usernames}:
                if _long_enough(variant):
                    ctx.variants.setdefault(variant, []).append(index)
            for email in person.emails:
                local = _norm(email.partition("@")[0])
                if len(local) >= 3:
                    ctx.variants.setdefault(local, []).append(index)
        ctx.choices = sorted(ctx.variants)
        return ctx

    def departed(self, person: Person) -> bool:
        return person.left_on is not None

    def recent(self, person: Person) -> bool:
        """第二十五条第3项: left within the half year before D (or after D)."""
        if person.left_on is None:
            return False
        d = self.given.disposal_day or self.given.today
        return person.left_on >= d - timedelta(days=self.given.departed_window_days)

    def match(self, tokens: Iterable[str]) -> _Match | None:
        """The best person for any of ``tokens``: an exact variant first, then the fuzzy score."""
        wanted = tuple(tokens)
        if wanted not in self.matched:
            self.matched[wanted] = self._match(wanted)
        return self.matched[wanted]

    def _match(self, tokens: tuple[str, ...]) -> _Match | None:
        best: _Match | None = None
        for raw in tokens:
            token = _norm(raw)
            if not _long_enough(token):
                continue
            exact = self.variants.get(token) or self.variants.get(_strip_digits(token))
            if exact:
                return _Match(self.given.people[exact[0]], 100, raw)
            if len(token) < 5 or not self.choices:
                continue
            found = _fuzzy(token, tuple(self.choices), self.given.match_threshold)
            if found is not None and (best is None or found[1] > best.score):
                best = _Match(self.given.people[self.variants[found[0]][0]], found[1], raw)
        return best


def _fuzzy(token: str, choices: tuple[str, ...], threshold: int) -> tuple[str, int] | None:
    from rapidfuzz import fuzz, process

    found = process.extractOne(token, choices, scorer=fuzz.ratio, score_cutoff=threshold)
    return None if found is None else (found[0], int(found[1]))


_NON_WORD = re.compile(r"[^0-9a-z\u4e00-\u9fff]+")


def _norm(text: str) -> str:
    """Lower case, separators and spaces dropped: ``Zhang.San`` and ``zhang_san`` compare as ``zhangsan``."""
    return _NON_WORD.sub("", text.lower())


def _long_enough(token: str) -> bool:
    """Three letters at least, or two Chinese characters (a name): shorter tokens match too much."""
    return len(token) >= (2 if _CJK.search(token) else 3)


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _strip_digits(token: str) -> str:
    return token.rstrip("0123456789")


@functools.lru_cache(maxsize=8192)
def name_variants(name: str) -> frozenset[str]:
    """The logins a Chinese name is usually written as, normalised (no separators): 张三 → zhangsan, sanzhang,
    zsan, zhangs; the name itself; a latin name as written. Surnames read several ways (单, 曾) give each."""
    name = name.strip()
    out = {_norm(name)} if name else set()
    if not re.search(r"[\u4e00-\u9fff]", name):
        parts = [p for p in re.split(r"[\s._-]+", name.lower()) if p]
        if len(parts) >= 2:
            out |= {"".join(parts), "".join(reversed(parts)), parts[0][0] + "".join(parts[1:])}
        return frozenset(v for v in out if v)
    from pypinyin import Style, lazy_pinyin, pinyin

    syllables = lazy_pinyin(name, errors="ignore")
    if len(syllables) < 2:
        return frozenset(v for v in out | set(syllables) if v)
    surname_options = pinyin(name[0], heteronym=True, style=Style.NORMAL)[0][:3] or [syllables[0]]
    given = syllables[1:]
    for surname in dict.fromkeys([syllables[0], *surname_options]):
        full = [surname, *given]
        out |= {
            "".join(full),  # zhangsan (zhang.san, zhang_san normalise to it)
            "".join(given) + surname,  # sanzhang
            surname[0] + "".join(given),  # zsan
            surname + "".join(g[0] for g in given),  # zhangs
            "".join(s[0] for s in full) if len(full) >= 3 else "",  # zsf for 张三丰 (three letters at least)
        }
    return frozenset(v for v in out if v)


# --- helpers --------------------------------------------------------------------------------------------


def _finding(
    rule: Rule, ref: SystemRef, account: str, en: str, zh: str, evidence: Iterable[Evidence | None] = (),
    *, severity: str | None = None, score: int | None = None,
) -> Finding:  # fmt: skip
    return Finding(
        rule=rule.code, system=ref.system, host=ref.host, account=account, detail_en=en, detail_zh=zh,
        severity=severity or rule.severity, score=score,
        evidence=tuple(sorted(set(e for e in evidence if e is not None), key=_evidence_order)),
    )  # fmt: skip


def _evidence_order(e: Evidence) -> tuple[str, int, str]:
    return (e.source, e.line or 0, e.raw)


def _usable(account: Account) -> bool:
    """Whether someone could log in with it now: not locked or disabled, login not forbidden."""
    if account.locked or account.login_allowed is False:
        return False
    return account.password_state not in (PasswordState.LOCKED, PasswordState.DISABLED) or bool(account.keys)


def _expected_admin(account: Account) -> bool:
    return account.name.lower() in EXPECTED_ADMINS or (
        account.kind == AccountKind.OS and account.name == "root"
    )


def _attr(account: Account, name: str) -> str:
    return next((v for k, v in account.attributes if k == name), "")


def _system_account(account: Account) -> bool:
    return account.kind == AccountKind.OS and account.uid.isdigit() and 0 < int(account.uid) < 1000


def _tokens(account: Account) -> list[str]:
    tokens = [account.name.partition("@")[0], account.display_name, account.email.partition("@")[0]]
    tokens += sorted(
        k.comment.partition("@")[0] for k in account.keys if k.comment
    )  # the same whatever the order
    return [t for t in tokens if t]


def _super_evidence(account: Account) -> list[Evidence | None]:
    return _why([p for p in account.privileges if p.superuser and not p.negated], account)


def _why(privileges: list[Privilege], account: Account) -> list[Evidence | None]:
    """The privileges' own evidence, or the account's where a source gave none per privilege."""
    return [p.evidence for p in privileges if p.evidence is not None] or list(account.evidence)


def _rights(account: Account) -> str:
    names = sorted({f"{p.name}" + ("" if p.via == "user" else f" ({p.via})") for p in account.privileges
                    if p.superuser and not p.negated})  # fmt: skip
    return "; ".join(names[:5]) + (" …" if len(names) > 5 else "")


# --- the rules ------------------------------------------------------------------------------------------


def _superuser_equivalent(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["superuser_equivalent"]
    for a in inv.accounts:
        if a.superuser and not _expected_admin(a):
            yield _finding(
                rule, ref, a.name, f"{a.name} holds super-user rights: {_rights(a)}",
                f"{a.name} 拥有超级用户或同等权限：{_rights(a)}", _super_evidence(a),
            )  # fmt: skip


def _second_uid0(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["second_uid0"]
    for a in inv.accounts:
        if a.kind == AccountKind.OS and a.uid == "0" and a.name != "root":
            yield _finding(
                rule, ref, a.name, f"{a.name} has uid 0: it is root under another name (shell {a.shell or '-'})",
                f"{a.name} 的 uid 为 0，即另一个名字的 root（shell {a.shell or '-'}）", a.evidence,
            )  # fmt: skip


def _duplicate_uid(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["duplicate_uid"]
    by_uid: dict[str, list[Account]] = defaultdict(list)
    for a in inv.accounts:
        if a.kind == AccountKind.OS and a.uid:
            by_uid[a.uid].append(a)
    for uid, accounts in by_uid.items():
        if len(accounts) < 2:
            continue
        names = ", ".join(sorted(a.name for a in accounts))
        for a in accounts:
            yield _finding(
                rule, ref, a.name, f"uid {uid} is shared by {names}: one account's files and rights are the others'",
                f"uid {uid} 被 {names} 共用：一个账户的文件与权限即是其他账户的", a.evidence,
            )  # fmt: skip


def _empty_password(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["empty_password"]
    for a in inv.accounts:
        if a.password_state == PasswordState.EMPTY and a.login_allowed is not False and not a.locked:
            yield _finding(
                rule, ref, a.name, f"{a.name} has an empty password: anyone may log in as it",
                f"{a.name} 口令为空：任何人都可以其身份登录", a.evidence,
            )  # fmt: skip


def _password_never_expires(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["password_never_expires"]
    for a in inv.accounts:
        if (
            a.password_state == PasswordState.SET and a.password_policy_known and a.password_max_days is None
            and a.kind != AccountKind.APPLICATION and _usable(a)
        ):  # fmt: skip
            yield _finding(
                rule,
                ref,
                a.name,
                f"{a.name}'s password never expires",
                f"{a.name} 的口令永不过期",
                a.evidence,
            )


def _password_old(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["password_old"]
    limit = ctx.given.password_max_age_days
    for a in inv.accounts:
        if a.password_changed is None or a.password_state != PasswordState.SET or not _usable(a):
            continue
        age = (ctx.given.today - a.password_changed).days
        if age > limit:
            yield _finding(
                rule, ref, a.name,
                f"{a.name}'s password was last changed {a.password_changed} ({age} days ago; policy {limit})",
                f"{a.name} 的口令最后修改于 {a.password_changed}（{age} 天前；策略为 {limit} 天）", a.evidence,
            )  # fmt: skip


def _dormant(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["dormant"]
    limit = ctx.given.dormant_days
    for a in inv.accounts:
        if not a.last_login_known or a.last_login is None or not _usable(a):
            continue
        idle = (ctx.given.today - a.last_login.date()).days
        if idle > limit:
            yield _finding(
                rule, ref, a.name, f"{a.name} last logged in {a.last_login.date()} ({idle} days ago; limit {limit})",
                f"{a.name} 最后登录于 {a.last_login.date()}（{idle} 天前；限值 {limit} 天）", a.evidence,
            )  # fmt: skip


def _never_logged_in_superuser(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["never_logged_in_superuser"]
    for a in inv.accounts:
        if (
            a.superuser
            and a.last_login_known
            and a.last_login is None
            and _usable(a)
            and not _expected_admin(a)
        ):
            yield _finding(
                rule, ref, a.name, f"{a.name} holds super-user rights and never logged in: is it needed?",
                f"{a.name} 拥有超级用户权限但从未登录：是否仍需要？", _super_evidence(a),
            )  # fmt: skip


def _departed(ctx: _Context, ref: SystemRef, inv: Inventory, *, operators: bool) -> Iterator[Finding]:
    rule = BY_CODE["operator_of_departed" if operators else "departed_staff"]
    for a in inv.accounts:
        if (a.kind == AccountKind.APPLICATION) != operators:
            continue
        found = ctx.match(_tokens(a))
        if found is None or not ctx.departed(found.person):
            continue
        person = found.person
        usable = _usable(a)
        severity = HIGH if usable and ctx.recent(person) else (MEDIUM if usable else LOW)
        state = "usable" if usable else "locked or disabled"
        state_zh = "仍可使用" if usable else "已锁定或停用"
        yield _finding(
            rule, ref, a.name,
            f"{a.name} ({found.token}) matches {person.name}, who left on {person.left_on} "
            f"(score {found.score}); the account is {state}",
            f"{a.name}（{found.token}）与已于 {person.left_on} 离职的 {person.name} 相符（匹配度 {found.score}）；"
            f"该账户{state_zh}",
            a.evidence, severity=severity, score=found.score,
        )  # fmt: skip


def _departed_staff(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    return _departed(ctx, ref, inv, operators=False)


def _operator_of_departed(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    return _departed(ctx, ref, inv, operators=True)


def _key_of_departed(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["key_of_departed"]
    prints = {fp: p for p in ctx.given.people if p.left_on for fp in p.key_fingerprints}
    for a in inv.accounts:
        for key in sorted(a.keys, key=lambda k: (k.fingerprint, k.comment)):
            person = prints.get(key.fingerprint)
            score = 100
            if person is None and key.comment:
                found = ctx.match([key.comment.partition("@")[0]])
                if found is not None and ctx.departed(found.person):
                    person, score = found.person, found.score
            if person is None:
                continue
            yield _finding(
                rule, ref, a.name,
                f"a key of {person.name} (left {person.left_on}) opens {a.name}: {key.fingerprint} {key.comment}",
                f"已于 {person.left_on} 离职的 {person.name} 的密钥可登录 {a.name}：{key.fingerprint} {key.comment}",
                [key.evidence], severity=HIGH, score=score,
            )  # fmt: skip
            break


def _shared_account(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["shared_account"]
    for a in inv.accounts:
        base = _strip_digits(_norm(a.name.partition("@")[0]))
        matches = [ctx.match([k.comment.partition("@")[0]]) for k in a.keys if k.comment]
        owners = {m.person.name for m in matches if m is not None}
        if base in ctx.generic and _usable(a) and not _expected_admin(a):
            yield _finding(
                rule, ref, a.name, f"{a.name} is a generic name: who uses it cannot be told apart",
                f"{a.name} 为通用名称账户：无法区分使用人", a.evidence,
            )  # fmt: skip
        elif len(owners) >= 2:
            names = "、".join(sorted(owners))
            yield _finding(
                rule, ref, a.name, f"{a.name} is opened by the keys of several people: {names}",
                f"{a.name} 可由多人的密钥登录：{names}", [k.evidence for k in a.keys],
            )  # fmt: skip


def _batch_superuser(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["batch_superuser"]
    jobs: dict[str, list[str]] = defaultdict(list)
    evidence: dict[str, list[Evidence | None]] = defaultdict(list)
    for job in inv.jobs:
        jobs[job.runs_as].append(job.source or job.command[:40])
        evidence[job.runs_as].append(job.evidence)
    for a in inv.accounts:
        if a.superuser and a.name in jobs:
            what = ", ".join(sorted(set(jobs[a.name]))[:5])
            yield _finding(
                rule, ref, a.name,
                f"{a.name} holds super-user rights and runs {len(jobs[a.name])} batch jobs ({what}): "
                "changing its password may stop them",
                f"{a.name} 拥有超级用户权限且运行 {len(jobs[a.name])} 个批处理任务（{what}）：修改其口令可能使任务中断",
                evidence[a.name], severity=MEDIUM if _expected_admin(a) else HIGH,
            )  # fmt: skip


def _unlinked_account(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["unlinked_account"]
    if not ctx.given.people:
        return  # no staff list yet: everything would be unlinked
    for a in inv.accounts:
        if (
            not _usable(a)
            or _expected_admin(a)
            or _system_account(a)
            or a.password_state == PasswordState.NONE
        ):
            continue
        if ctx.match(_tokens(a)) is None:
            yield _finding(
                rule, ref, a.name, f"{a.name} is usable and no person of the staff list is linked to it",
                f"{a.name} 可登录，但人员名单中无人与之对应", a.evidence,
            )  # fmt: skip


def _nopasswd_all(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["nopasswd_all"]
    for a in inv.accounts:
        found = [p for p in a.privileges if p.nopasswd and p.superuser and not p.negated]
        if found:
            yield _finding(
                rule, ref, a.name, f"{a.name} becomes root without a password (NOPASSWD: {found[0].name})",
                f"{a.name} 无需口令即可成为 root（NOPASSWD: {found[0].name}）", _why(found, a),
            )  # fmt: skip


def _sudo_all_via_group(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["sudo_all_via_group"]
    for a in inv.accounts:
        found = [
            p
            for p in a.privileges
            if p.superuser and not p.negated and p.via.startswith(("group:", "alias:"))
        ]
        if found and a.kind == AccountKind.OS and not _expected_admin(a):
            via = ", ".join(sorted({p.via for p in found}))
            yield _finding(
                rule, ref, a.name, f"{a.name} is a super-user through {via}: removing the person from the group "
                "is the change", f"{a.name} 经由 {via} 成为超级用户：需将其移出该组", _why(found, a),
            )  # fmt: skip


def _negation_bypass(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["negation_bypass"]
    for a in inv.accounts:
        negated = [p for p in a.privileges if p.negated]
        everything = [p for p in a.privileges if p.name == "ALL" and p.superuser and not p.negated]
        if negated and everything:
            names = ", ".join(sorted({"!" + p.name for p in negated})[:3])
            yield _finding(
                rule, ref, a.name, f"{a.name} has ALL with exceptions ({names}): with ALL, an exception restricts "
                "nothing (a copied shell runs anyway)", f"{a.name} 拥有 ALL 并带有排除项（{names}）：有 ALL 时排除项"
                "不构成限制（复制的 shell 照样可运行）", _why(negated + everything, a),
            )  # fmt: skip


def _db_superuser(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["db_superuser"]
    for a in inv.accounts:
        found = [p for p in a.privileges if p.superuser and not p.negated and p.name.upper() in DB_SUPER]
        if a.kind == AccountKind.DATABASE and found and not _expected_admin(a):
            yield _finding(
                rule, ref, a.name, f"{a.name} is a database super-user ({found[0].name} via {found[0].via})",
                f"{a.name} 为数据库超级用户（{found[0].name}，经由 {found[0].via}）", _why(found, a),
            )  # fmt: skip


def _privilege_rule(code: str, names: frozenset[str], en: str, zh: str) -> Callable[..., Iterator[Finding]]:
    def check(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
        rule = BY_CODE[code]
        for a in inv.accounts:
            found = [p for p in a.privileges if not p.negated and p.name in names]
            if found and a.kind == AccountKind.DATABASE and not _expected_admin(a):
                yield _finding(
                    rule, ref, a.name, en % {"account": a.name, "right": found[0].name, "via": found[0].via},
                    zh % {"account": a.name, "right": found[0].name, "via": found[0].via}, _why(found, a),
                )  # fmt: skip

    return check


def _mysql_anonymous_user(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["mysql_anonymous_user"]
    for a in inv.accounts:
        if _attr(a, "anonymous") == "yes" and not a.locked:
            yield _finding(
                rule, ref, a.name, f"{a.name}: an anonymous user (any name logs in as it)",
                f"{a.name}：匿名用户（任何用户名均可以其身份登录）", a.evidence,
            )  # fmt: skip


def _mysql_wildcard_host_admin(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["mysql_wildcard_host_admin"]
    for a in inv.accounts:
        if _attr(a, "host_wildcard") == "yes" and a.superuser and not a.locked:
            yield _finding(
                rule, ref, a.name, f"{a.name} is a super-user who may log in from any host ({_attr(a, 'host')})",
                f"{a.name} 为超级用户，且可从任意主机登录（{_attr(a, 'host')}）", _super_evidence(a),
            )  # fmt: skip


def _ldap_cleartext_password(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["ldap_cleartext_password"]
    for a in inv.accounts:
        scheme = (_attr(a, "password_scheme") or _attr(a, "userpassword_scheme")).lower()
        if a.kind == AccountKind.DIRECTORY and scheme in ("cleartext", "plain", "none-cleartext"):
            yield _finding(
                rule, ref, a.name, f"{a.name}'s password is stored in the clear (no hash scheme)",
                f"{a.name} 的口令以明文存储（无散列方案）", a.evidence,
            )  # fmt: skip


def _ad_privileged_group(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["ad_privileged_group"]
    for a in inv.accounts:
        groups = sorted(g for g in a.groups if g.lower() in AD_ADMIN_GROUPS)
        if a.kind == AccountKind.DIRECTORY and groups and not _expected_admin(a):
            yield _finding(
                rule, ref, a.name, f"{a.name} is a member of {', '.join(groups)}",
                f"{a.name} 是 {'、'.join(groups)} 的成员", _super_evidence(a),
            )  # fmt: skip


def _ad_password_not_required(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["ad_password_not_required"]
    for a in inv.accounts:
        flags = _attr(a, "useraccountcontrol_flags").upper()
        if (_attr(a, "password_not_required") == "yes" or "PASSWD_NOTREQD" in flags) and _usable(a):
            yield _finding(
                rule, ref, a.name, f"{a.name} may have an empty password (PASSWD_NOTREQD)",
                f"{a.name} 允许空口令（PASSWD_NOTREQD）", a.evidence,
            )  # fmt: skip


def _key_reuse(ctx: _Context, items: list[tuple[SystemRef, Inventory]]) -> Iterator[Finding]:
    rule = BY_CODE["key_reuse"]
    holders: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for ref, inv in items:
        for a in inv.accounts:
            for key in a.keys:
                holders[key.fingerprint].add((ref.system, ref.host, a.name))
    for ref, inv in items:
        for a in inv.accounts:
            shared = sorted(k.fingerprint for k in a.keys if len(holders[k.fingerprint]) >= 2)
            if not shared:
                continue
            places = sorted(set().union(*(holders[f] for f in shared)) - {(ref.system, ref.host, a.name)})
            listed = ", ".join(f"{n}@{h or s}" for s, h, n in places[:6]) + (" …" if len(places) > 6 else "")
            yield _finding(
                rule, ref, a.name, f"{len(shared)} keys of {a.name} also open: {listed}",
                f"{a.name} 的 {len(shared)} 把密钥还可登录：{listed}",
                [k.evidence for k in a.keys if k.fingerprint in shared],
            )  # fmt: skip


def _key_for_root_unrestricted(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["key_with_no_restrictions_for_root"]
    for a in inv.accounts:
        if a.kind != AccountKind.OS or a.uid != "0":
            continue
        loose = sorted(
            (k for k in a.keys if not any(o.startswith(("from=", "command=")) for o in k.options)),
            key=lambda k: (k.fingerprint, k.comment),
        )
        if loose:
            yield _finding(
                rule, ref, a.name, f"{len(loose)} keys log in as {a.name} from anywhere, any command "
                f"({loose[0].comment or loose[0].fingerprint})", f"{len(loose)} 把密钥可从任意地址以 {a.name} 身份"
                f"登录并执行任意命令（{loose[0].comment or loose[0].fingerprint}）", [k.evidence for k in loose],
            )  # fmt: skip


def _login_shell_for_system_account(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["login_shell_for_system_account"]
    for a in inv.accounts:
        if not _system_account(a) or not a.shell or a.shell.rsplit("/", 1)[-1] in NOLOGIN:
            continue
        if a.password_state == PasswordState.SET or a.keys:
            yield _finding(
                rule, ref, a.name, f"{a.name} is a system account (uid {a.uid}) with a login shell {a.shell} "
                "and a password or key", f"{a.name} 为系统账户（uid {a.uid}），却有登录 shell {a.shell} 和口令或密钥",
                a.evidence,
            )  # fmt: skip


def _expired_but_enabled(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["expired_but_enabled"]
    today = ctx.given.today
    for a in inv.accounts:
        ended = [d for d in (a.account_expires, a.password_expires) if d is not None and d < today]
        if ended and a.login_allowed is not False and not a.locked and bool(a.keys):
            yield _finding(
                rule, ref, a.name, f"{a.name} expired on {min(ended)} but its keys still log in",
                f"{a.name} 已于 {min(ended)} 过期，但其密钥仍可登录", a.evidence,
            )  # fmt: skip
        elif ended and a.kind == AccountKind.DATABASE and a.login_allowed and not a.locked:
            yield _finding(
                rule, ref, a.name, f"{a.name}'s password expired on {min(ended)} and the login is still enabled: "
                "disable it or renew it on purpose", f"{a.name} 的口令已于 {min(ended)} 过期而登录仍启用：应停用或"
                "有意续期", a.evidence,
            )  # fmt: skip


def _unchanged_since_before_d(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["unchanged_since_before_D"]
    d = ctx.given.disposal_day
    if d is None or not ctx.changed_on_form10:
        return
    for a in inv.accounts:
        said = (ref.system, ref.host, a.name) in ctx.changed_on_form10 or (ref.system, "", a.name) in (
            ctx.changed_on_form10
        )
        if said and a.password_changed is not None and a.password_changed < d:
            yield _finding(
                rule, ref, a.name, f"表10 says {a.name}'s password was changed, but the host shows its last change on "
                f"{a.password_changed}, before D ({d})", f"表10 记载 {a.name} 已改密，但主机显示其最后修改日期为 "
                f"{a.password_changed}，早于处置日 {d}", a.evidence,
            )  # fmt: skip


def _privileged_group_admin(ctx: _Context, ref: SystemRef, inv: Inventory) -> Iterator[Finding]:
    rule = BY_CODE["privileged_group_admin"]
    for g in inv.groups:
        if not g.privileged:
            continue
        for name in g.admins:
            account = inv.account(name)
            if account is not None and not _expected_admin(account):
                yield _finding(
                    rule, ref, name, f"{name} administers the privileged group {g.name}: it may add anyone to it",
                    f"{name} 是特权组 {g.name} 的管理者：可将任何人加入该组", g.evidence,
                )  # fmt: skip


R = Rule
RULES: tuple[Rule, ...] = (
    R("superuser_equivalent", HIGH, "第二十二条、第二十六条第2项", "An account other than the platform's "
      "administrator holds super-user or equivalent rights.", "平台管理员以外的账户拥有超级用户或同等权限。",
      _superuser_equivalent),
    R("second_uid0", HIGH, "第二十二条", "A Linux account other than root has uid 0.",
      "root 以外的 Linux 账户 uid 为 0。", _second_uid0),
    R("duplicate_uid", HIGH, "第二十六条第3项", "Several accounts share one uid.", "多个账户共用同一 uid。",
      _duplicate_uid),
    R("empty_password", HIGH, "第二十六条第2项", "A usable account has an empty password.",
      "可登录账户的口令为空。", _empty_password),
    R("password_never_expires", MEDIUM, "第二十六条第2项", "A password never expires.", "口令永不过期。",
      _password_never_expires),
    R("password_old", MEDIUM, "第二十六条第2项", "A password is older than the policy's maximum age.",
      "口令超过策略规定的最长使用期限。", _password_old),
    R("dormant", MEDIUM, "第二十六条第3项", "A usable account has not logged in for longer than the limit.",
      "可登录账户超过限期未登录。", _dormant),
    R("never_logged_in_superuser", MEDIUM, "第二十六条第3项", "A super-user has never logged in.",
      "超级用户从未登录。", _never_logged_in_superuser),
    R("departed_staff", HIGH, "第二十五条第3项、第二十六条第3项", "An account matches a person who left (表5); "
      "high when they left in the half year before D and the account is usable.",
      "账户与已离职人员（表5）相符；离职在处置日前半年内且账户仍可用时为高风险。", _departed_staff),
    R("key_of_departed", HIGH, "第二十五条第3项、第二十六条第3项", "An SSH key of a person who left opens an account.",
      "已离职人员的 SSH 密钥可登录账户。", _key_of_departed),
    R("operator_of_departed", HIGH, "第二十五条第3项、第二十六条第3项", "A counter system's operator account "
      "(表12) belongs to a person who left.", "柜台系统操作员账户（表12）属于已离职人员。", _operator_of_departed),
    R("shared_account", MEDIUM, "第二十六条第3项C", "A generic or shared account: its users cannot be told apart "
      "(C 专人专户).", "通用或共用账户：无法区分使用人（C 专人专户）。", _shared_account),
    R("batch_superuser", HIGH, "第二十六条第2项", "A super-user runs batch jobs (cron, systemd): its password "
      "change must be planned with them (表11 批处理).", "超级用户运行批处理任务（cron、systemd）：改密须与任务一并安排"
      "（表11 批处理）。", _batch_superuser),
    R("unlinked_account", LOW, "第二十六条第3项", "A usable account no person of the staff list is linked to.",
      "可登录账户与人员名单中任何人均无对应。", _unlinked_account),
    R("nopasswd_all", HIGH, "第二十二条", "sudo gives root without a password (NOPASSWD).",
      "sudo 无需口令即可成为 root（NOPASSWD）。", _nopasswd_all),
    R("sudo_all_via_group", HIGH, "第二十二条、第二十六条第3项B", "Super-user rights come through a group or an alias "
      "(%wheel, User_Alias): the change is the membership.", "超级用户权限经由组或别名获得（%wheel、User_Alias）："
      "应调整其成员关系。", _sudo_all_via_group),
    R("negation_bypass", HIGH, "第二十二条", "ALL with exceptions (ALL, !/bin/su) restricts nothing.",
      "带排除项的 ALL（ALL, !/bin/su）不构成限制。", _negation_bypass),
    R("db_superuser", HIGH, "第二十二条", "A database account other than the administrator is a super-user "
      "(SUPERUSER, SUPER, ALL PRIVILEGES, DBA, SYSDBA).", "管理员以外的数据库账户为超级用户（SUPERUSER、SUPER、ALL "
      "PRIVILEGES、DBA、SYSDBA）。", _db_superuser),
    R("grant_option", MEDIUM, "第二十二条", "A database account may grant its rights on (GRANT OPTION).",
      "数据库账户可将其权限转授他人（GRANT OPTION）。",
      _privilege_rule("grant_option", frozenset({"GRANT OPTION"}), "%(account)s may grant its rights on "
                      "(%(right)s, %(via)s)", "%(account)s 可转授其权限（%(right)s，经由 %(via)s）")),
    R("createrole", HIGH, "第二十二条", "A PostgreSQL role may create and alter roles (CREATEROLE): a super-user "
      "equivalent.", "PostgreSQL 角色可创建和修改角色（CREATEROLE）：等同超级用户。",
      _privilege_rule("createrole", frozenset({"CREATEROLE"}), "%(account)s may create and alter roles "
                      "(%(right)s, %(via)s)", "%(account)s 可创建和修改角色（%(right)s，经由 %(via)s）")),
    R("pg_server_files_role", HIGH, "第二十二条", "A PostgreSQL role reads or writes the server's files or runs "
      "programs there (pg_read_server_files, pg_write_server_files, pg_execute_server_program).",
      "PostgreSQL 角色可读写服务器文件或在服务器上执行程序。",
      _privilege_rule("pg_server_files_role", PG_SERVER_FILES, "%(account)s reaches the server's files or programs "
                      "(%(right)s, %(via)s)", "%(account)s 可访问服务器文件或程序（%(right)s，经由 %(via)s）")),
    R("mysql_anonymous_user", HIGH, "第二十六条第3项", "A MySQL/MariaDB anonymous user exists.",
      "存在 MySQL/MariaDB 匿名用户。", _mysql_anonymous_user),
    R("mysql_wildcard_host_admin", HIGH, "第二十二条", "A MySQL/MariaDB super-user may log in from any host (%).",
      "MySQL/MariaDB 超级用户可从任意主机（%）登录。", _mysql_wildcard_host_admin),
    R("ldap_cleartext_password", HIGH, "第二十六条第2项", "An LDAP password is stored in the clear.",
      "LDAP 口令以明文存储。", _ldap_cleartext_password),
    R("ad_privileged_group", HIGH, "第二十二条", "An AD account is in Domain/Enterprise/Schema Admins, "
      "Administrators or an Operators group.", "AD 账户属于域管理员、企业管理员、架构管理员、Administrators 或 "
      "Operators 组。", _ad_privileged_group),
    R("ad_password_not_required", HIGH, "第二十六条第2项", "An AD account may have an empty password "
      "(PASSWD_NOTREQD).", "AD 账户允许空口令（PASSWD_NOTREQD）。", _ad_password_not_required),
    R("key_reuse", MEDIUM, "第二十六条第3项C", "One SSH key opens several accounts or hosts.",
      "同一 SSH 密钥可登录多个账户或主机。", across=_key_reuse),
    R("key_with_no_restrictions_for_root", MEDIUM, "第二十二条", "A key logs in as root from anywhere with any "
      "command (no from= or command=).", "密钥可从任意地址以 root 身份执行任意命令（无 from= 或 command=）。",
      _key_for_root_unrestricted),
    R("login_shell_for_system_account", LOW, "第二十六条第3项", "A system account (uid 1–999) has a login shell "
      "and a password or key.", "系统账户（uid 1–999）有登录 shell 及口令或密钥。", _login_shell_for_system_account),
    R("expired_but_enabled", MEDIUM, "第二十六条第3项", "An account or password has expired but the account still "
      "logs in (keys, an enabled database login).", "账户或口令已过期，但仍可登录（密钥、仍启用的数据库登录）。",
      _expired_but_enabled),
    R("unchanged_since_before_D", HIGH, "第二十六条第2项", "表10 says the password was changed, but the system shows "
      "its last change before D.", "表10 记载已改密，但系统显示最后修改早于处置日。", _unchanged_since_before_d),
    R("privileged_group_admin", MEDIUM, "第二十二条", "An account administers a privileged group (gshadow "
      "administrators): it may add anyone to it.", "账户是特权组的管理者（gshadow）：可将任何人加入该组。",
      _privileged_group_admin),
)  # fmt: skip
BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


def review(items: Iterable[tuple[SystemRef, Inventory]], context: ReviewContext) -> list[Finding]:
    """Every rule on every inventory; the findings sorted, one per (rule, system, host, account)."""
    ctx = _Context.of(context)
    pairs = list(items)
    found: dict[tuple[str, str, str, str], Finding] = {}
    for rule in RULES:
        produced: list[Iterable[Finding]] = []
        if rule.check is not None:
            produced += [rule.check(ctx, ref, inventory) for ref, inventory in pairs]
        if rule.across is not None:
            produced.append(rule.across(ctx, pairs))
        for findings in produced:
            for finding in findings:
                found.setdefault(finding.key, finding)
    return sorted(found.values(), key=lambda f: (f.system, f.host, f.account, f.rule))
