"""The review rules: one fixture that fires and one that does not per rule, a clean host gives nothing, the
order of the input never changes the findings, the pinyin variants, and docs/discovery.md lists every code."""

# The fixtures are a table, one rule per line: long lines read better than wrapped ones here.
# ruff: noqa: E501, S604

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handover.connectors import review
from handover.connectors.findings import Person, ReviewContext, SystemRef
from handover.connectors.model import (
    Account,
    AccountKind,
    Evidence,
    Group,
    Inventory,
    Job,
    Key,
    PasswordState,
    Privilege,
)

TODAY = date(2026, 12, 5)
D = date(2026, 12, 1)
REF = SystemRef(system="集中交易", host="trade01", site="HQ", trading=True)
EV = Evidence(source="/etc/passwd", raw="line", digest="sha256:00", line=1)


def ev(raw: str, line: int = 1, source: str = "/etc/passwd") -> Evidence:
    return Evidence(source=source, raw=raw, digest="sha256:00", line=line)


def acct(name: str, **kw) -> Account:  # type: ignore[no-untyped-def]
    """A usable, well-kept Linux account unless told otherwise (a clean one triggers no rule)."""
    base = dict(
        kind=AccountKind.OS, uid="1001", display_name="", shell="/bin/bash", login_allowed=True,
        password_state=PasswordState.SET, password_changed=date(2026, 11, 20), password_max_days=90,
        password_policy_known=True, last_login=datetime(2026, 12, 1, tzinfo=UTC), last_login_known=True,
        evidence=(ev(f"{name}:x"),),
    )  # fmt: skip
    base.update(kw)
    return Account(name=name, **base)  # type: ignore[arg-type]


ROOT = acct(
    "root", uid="0", privileges=(Privilege("uid 0", "ALL", "user", superuser=True, evidence=ev("root")),)
)
SUDO_ALL = Privilege(
    "ALL", "host=ALL runas=ALL", "user", superuser=True, evidence=ev("u ALL=(ALL) ALL", 3, "/etc/sudoers")
)


def inv(
    *accounts: Account, groups: tuple[Group, ...] = (), jobs: tuple[Job, ...] = (), platform: str = "linux"
):  # type: ignore[no-untyped-def]
    return Inventory(
        platform=platform, target="trade01", gathered_at=datetime(2026, 12, 5, tzinfo=UTC),
        accounts=(ROOT, *accounts) if platform == "linux" else accounts, groups=groups, jobs=jobs,
    )  # fmt: skip


PEOPLE = (
    Person(name="张三", left_on=date(2026, 9, 1)),  # left in the half year before D
    Person(name="李四", left_on=date(2024, 1, 1)),  # left long ago
    Person(name="王五", usernames=("wangwu",)),  # still employed
)


def ctx(**kw) -> ReviewContext:  # type: ignore[no-untyped-def]
    return ReviewContext(**{"today": TODAY, "disposal_day": D, "people": PEOPLE, **kw})


def codes(
    inventory: Inventory, context: ReviewContext | None = None, ref: SystemRef = REF
) -> set[tuple[str, str]]:
    return {(f.rule, f.account) for f in review.review([(ref, inventory)], context or ctx())}


def key(fp: str, comment: str = "", options: tuple[str, ...] = ()) -> Key:
    return Key(
        "ssh-ed25519",
        fp,
        comment,
        options,
        "~/.ssh/authorized_keys",
        ev(f"ssh-ed25519 AAAA {comment}", 1, "k"),
    )


DB = dict(kind=AccountKind.DATABASE, uid="", shell="", last_login=None, last_login_known=False)
DIR = dict(kind=AccountKind.DIRECTORY, uid="", shell="", last_login=None, last_login_known=False)

# (rule, inventory that fires on account X, inventory that does not, the account, the context if not default)
CASES = [
    ("superuser_equivalent", inv(acct("wangwu", privileges=(SUDO_ALL,))), inv(acct("wangwu")), "wangwu"),
    ("second_uid0", inv(acct("toor", uid="0", shell="/usr/sbin/nologin")), inv(acct("toor", uid="1002")), "toor"),
    ("duplicate_uid", inv(acct("wangwu", uid="1001"), acct("x", uid="1001")), inv(acct("wangwu"), acct("x", uid="1009")), "wangwu"),
    ("empty_password", inv(acct("wangwu", password_state=PasswordState.EMPTY)),
     inv(acct("wangwu", password_state=PasswordState.EMPTY, login_allowed=False)), "wangwu"),
    ("password_never_expires", inv(acct("wangwu", password_max_days=None)),
     inv(acct("wangwu", password_max_days=None, password_policy_known=False)), "wangwu"),
    ("password_old", inv(acct("wangwu", password_changed=date(2026, 1, 1))), inv(acct("wangwu", password_changed=date(2026, 10, 1))), "wangwu"),
    ("dormant", inv(acct("wangwu", last_login=datetime(2026, 1, 1, tzinfo=UTC))),
     inv(acct("wangwu", last_login=datetime(2026, 1, 1, tzinfo=UTC), locked=True)), "wangwu"),
    ("never_logged_in_superuser", inv(acct("wangwu", privileges=(SUDO_ALL,), last_login=None)),
     inv(acct("wangwu", privileges=(SUDO_ALL,), last_login=None, last_login_known=False)), "wangwu"),
    ("departed_staff", inv(acct("zhang.san")), inv(acct("zhangwei")), "zhang.san"),
    ("key_of_departed", inv(acct("wangwu", keys=(key("SHA256:a", "zhangsan@laptop"),))),
     inv(acct("wangwu", keys=(key("SHA256:a", "wangwu@laptop"),))), "wangwu"),
    ("operator_of_departed", inv(acct("1001", kind=AccountKind.APPLICATION, display_name="张三")),
     inv(acct("1001", kind=AccountKind.APPLICATION, display_name="王五")), "1001"),
    ("shared_account", inv(acct("test01")), inv(acct("test01", locked=True)), "test01"),
    ("batch_superuser", inv(acct("batch", privileges=(SUDO_ALL,)), jobs=(Job("batch", "/opt/eod.sh", "0 17 * * *", "cron", ev("cron")),)),
     inv(acct("batch"), jobs=(Job("batch", "/opt/eod.sh", "0 17 * * *", "cron", ev("cron")),)), "batch"),
    ("unlinked_account", inv(acct("qianliu")), inv(acct("wangwu")), "qianliu"),
    ("nopasswd_all", inv(acct("wangwu", privileges=(dataclasses.replace(SUDO_ALL, nopasswd=True),))), inv(acct("wangwu", privileges=(SUDO_ALL,))), "wangwu"),
    ("sudo_all_via_group", inv(acct("wangwu", privileges=(dataclasses.replace(SUDO_ALL, via="group:wheel"),))),
     inv(acct("wangwu", privileges=(SUDO_ALL,))), "wangwu"),
    ("negation_bypass", inv(acct("wangwu", privileges=(SUDO_ALL, Privilege("/bin/su", "x", "user", negated=True, evidence=ev("!su", 4, "/etc/sudoers"))))),
     inv(acct("wangwu", privileges=(Privilege("/bin/su", "x", "user", negated=True),))), "wangwu"),
    ("db_superuser", inv(acct("app", **DB, privileges=(Privilege("SUPERUSER", "cluster", "user", superuser=True),)), platform="postgresql"),
     inv(acct("postgres", **DB, privileges=(Privilege("SUPERUSER", "cluster", "user", superuser=True),)), platform="postgresql"), "app"),
    ("grant_option", inv(acct("app@%", **DB, privileges=(Privilege("GRANT OPTION", "*.*", "user", superuser=True),)), platform="mariadb"),
     inv(acct("app@%", **DB, privileges=(Privilege("SELECT", "*.*", "user"),)), platform="mariadb"), "app@%"),
    ("createrole", inv(acct("maker", **DB, privileges=(Privilege("CREATEROLE", "user", "user", superuser=True),)), platform="postgresql"),
     inv(acct("maker", **DB, privileges=(Privilege("CREATEDB", "user", "user"),)), platform="postgresql"), "maker"),
    ("pg_server_files_role", inv(acct("filer", **DB, privileges=(Privilege("pg_read_server_files", "membership", "role:pg_read_server_files", superuser=True),)), platform="postgresql"),
     inv(acct("filer", **DB, privileges=(Privilege("pg_monitor", "membership", "role:pg_monitor"),)), platform="postgresql"), "filer"),
    ("mysql_anonymous_user", inv(acct("@localhost", **DB, attributes=(("anonymous", "yes"),)), platform="mariadb"),
     inv(acct("@localhost", **DB, attributes=(("anonymous", "yes"),), locked=True), platform="mariadb"), "@localhost"),
    ("mysql_wildcard_host_admin", inv(acct("dba@%", **DB, attributes=(("host_wildcard", "yes"),), privileges=(Privilege("ALL PRIVILEGES", "*.*", "user", superuser=True),)), platform="mariadb"),
     inv(acct("dba@localhost", **DB, privileges=(Privilege("ALL PRIVILEGES", "*.*", "user", superuser=True),)), platform="mariadb"), "dba@%"),
    ("ldap_cleartext_password", inv(acct("uid=a", **DIR, attributes=(("password_scheme", "cleartext"),)), platform="ldap"),
     inv(acct("uid=a", **DIR, attributes=(("password_scheme", "SSHA"),)), platform="ldap"), "uid=a"),
    ("ad_privileged_group", inv(acct("wangwu", **DIR, groups=("Domain Admins",)), platform="ad"),
     inv(acct("wangwu", **DIR, groups=("Domain Users",)), platform="ad"), "wangwu"),
    ("ad_password_not_required", inv(acct("wangwu", **DIR, attributes=(("password_not_required", "yes"),)), platform="ad"),
     inv(acct("wangwu", **DIR, attributes=(("password_not_required", "yes"),), locked=True), platform="ad"), "wangwu"),
    ("key_reuse", inv(acct("wangwu", keys=(key("SHA256:k", "wangwu@pc"),)), acct("x", uid="1009", keys=(key("SHA256:k", "wangwu@pc"),))),
     inv(acct("wangwu", keys=(key("SHA256:k", "wangwu@pc"),)), acct("x", uid="1009", keys=(key("SHA256:j", "wangwu@pc"),))), "wangwu"),
    ("key_with_no_restrictions_for_root", inv(acct("toor", uid="0", keys=(key("SHA256:r", "ops"),))),
     inv(acct("toor", uid="0", keys=(key("SHA256:r", "ops", ('from="10.0.0.1"',)),))), "toor"),
    ("login_shell_for_system_account", inv(acct("daemon", uid="2")), inv(acct("daemon", uid="2", shell="/usr/sbin/nologin")), "daemon"),
    ("expired_but_enabled", inv(acct("wangwu", account_expires=date(2026, 1, 1), keys=(key("SHA256:e", "wangwu@pc"),))),
     inv(acct("wangwu", account_expires=date(2027, 1, 1), keys=(key("SHA256:e", "wangwu@pc"),))), "wangwu"),
    ("unchanged_since_before_D", inv(acct("wangwu", password_changed=date(2026, 11, 20))),
     inv(acct("wangwu", password_changed=date(2026, 12, 2))), "wangwu",
     ctx(changed_on_form10=(("集中交易", "trade01", "wangwu"),))),
    ("privileged_group_admin", inv(acct("wangwu"), groups=(Group("wheel", "10", ("root",), ("wangwu",), privileged=True, evidence=(ev("wheel:!::", 1, "/etc/gshadow"),)),)),
     inv(acct("wangwu"), groups=(Group("users", "100", (), ("wangwu",)),)), "wangwu"),
]  # fmt: skip


def test_at_least_25_rules_each_with_article_and_both_languages() -> None:
    assert len(review.RULES) >= 25 and len(review.BY_CODE) == len(review.RULES)
    for rule in review.RULES:
        assert re.match(r"^[a-z][a-z0-9_]*[a-zA-Z0-9]$", rule.code) and rule.severity in (
            "high",
            "medium",
            "low",
        )
        assert rule.article.startswith("第") and rule.en and re.search(r"[\u4e00-\u9fff]", rule.zh)
        assert (rule.check is None) != (rule.across is None)
    named = {"superuser_equivalent", "duplicate_uid", "empty_password", "password_never_expires", "password_old",
             "dormant", "departed_staff", "key_of_departed", "shared_account", "batch_superuser", "unlinked_account"}  # fmt: skip
    assert named <= set(review.BY_CODE)


def test_every_rule_has_a_positive_and_a_negative_case() -> None:
    assert {c[0] for c in CASES} == set(review.BY_CODE)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_rule_fires_on_its_positive_and_not_on_its_negative(case) -> None:  # type: ignore[no-untyped-def]
    code, positive, negative, account = case[:4]
    context = case[4] if len(case) > 4 else ctx()
    assert (code, account) in codes(positive, context)
    assert code not in {c for c, _a in codes(negative, context)}
    finding = next(
        f for f in review.review([(REF, positive)], context) if f.rule == code and f.account == account
    )
    assert finding.evidence, code  # every finding rests on evidence
    assert finding.detail_en and re.search(r"[\u4e00-\u9fff]", finding.detail_zh)
    assert account in finding.detail_en or code in ("key_reuse",)


def test_a_clean_host_gives_nothing() -> None:
    clean = inv(
        acct("wangwu"),
        acct("daemon", uid="1", shell="/usr/sbin/nologin", password_state=PasswordState.DISABLED),
    )
    assert review.review([(REF, clean)], ctx()) == []


def test_departed_staff_severity_follows_the_half_year_rule_and_the_accounts_state() -> None:
    found = {f.account: f for f in review.review([(REF, inv(acct("zhangsan"), acct("lisi", uid="1003"), acct("zhangsan2", uid="1004", locked=True)))], ctx()) if f.rule == "departed_staff"}  # fmt: skip
    assert found["zhangsan"].severity == "high" and found["zhangsan"].score == 100
    assert found["lisi"].severity == "medium"  # left long before the half year
    assert found["zhangsan2"].severity == "low"  # locked: nothing to fear today, still to remove
    assert "2026-09-01" in found["zhangsan"].detail_zh and "张三" in found["zhangsan"].detail_zh


def test_a_fuzzy_match_shows_its_score_and_short_tokens_never_match() -> None:
    fuzzy = [f for f in review.review([(REF, inv(acct("zhangsann")))], ctx()) if f.rule == "departed_staff"]
    assert fuzzy and 85 <= fuzzy[0].score < 100
    short = review.review(
        [(REF, inv(acct("zs")))], ctx(people=(Person("张三", left_on=date(2026, 9, 1), usernames=("zs",)),))
    )
    assert not [f for f in short if f.rule == "departed_staff"]


@pytest.mark.parametrize(
    ("name", "variants"),
    [
        ("张三", {"zhangsan", "sanzhang", "zsan", "zhangs", "张三"}),
        ("张三丰", {"zhangsanfeng", "sanfengzhang", "zsanfeng", "zhangsf", "zsf"}),
        ("单雄信", {"shanxiongxin", "danxiongxin"}),  # a surname read two ways: both
        ("Li Ming", {"liming", "mingli", "lming"}),
    ],
)
def test_name_variants(name: str, variants: set[str]) -> None:
    assert variants <= review.name_variants(name)


def test_separators_in_a_login_do_not_hide_a_name() -> None:
    for login in ("zhang.san", "zhang_san", "san.zhang", "zsan", "ZhangSan01"):
        assert ("departed_staff", login) in codes(inv(acct(login)))


def test_the_docs_list_every_rule_code() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "discovery.md").read_text()
    section = docs[docs.index("## Review rules") :]
    listed = set(re.findall(r"^\| `([a-zA-Z0-9_]+)` \|", section, flags=re.M))
    assert listed == set(review.BY_CODE)


BUSY = inv(
    acct(
        "ops",
        uid="0",
        privileges=(
            SUDO_ALL,
            dataclasses.replace(SUDO_ALL, via="group:wheel", evidence=ev("%wheel ALL", 5, "/etc/sudoers")),
            Privilege("/bin/su", "x", "user", negated=True, evidence=ev("!su", 4, "/etc/sudoers")),
        ),
        keys=(key("SHA256:b1", "zhangsan@pc"), key("SHA256:b2", "lisi@pc"), key("SHA256:k", "wangwu@pc")),
    ),
    acct("zhangsan", uid="0"),
    jobs=(
        Job("ops", "/a", "0 1 * * *", "cron", ev("a", 2, "/etc/crontab")),
        Job("ops", "/b", "0 2 * * *", "cron", ev("b", 3, "/etc/crontab")),
    ),
)
_POOL = [c[1] for c in CASES] + [BUSY]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, len(_POOL) - 2), min_size=0, max_size=6, unique=True), st.randoms())
def test_reordering_the_input_never_changes_the_findings(picked: list[int], rnd) -> None:  # type: ignore[no-untyped-def]
    items = [(dataclasses.replace(REF, host=f"h{i}"), _POOL[i]) for i in [*picked, len(_POOL) - 1]]
    before = review.review(items, ctx())
    shuffled = []
    for ref, inventory in items:
        accounts = [
            dataclasses.replace(
                a,
                privileges=tuple(rnd.sample(a.privileges, len(a.privileges))),
                keys=tuple(rnd.sample(a.keys, len(a.keys))),
            )
            for a in rnd.sample(inventory.accounts, len(inventory.accounts))
        ]
        groups = rnd.sample(inventory.groups, len(inventory.groups))
        jobs = rnd.sample(inventory.jobs, len(inventory.jobs))
        changed = dataclasses.replace(
            inventory, accounts=tuple(accounts), groups=tuple(groups), jobs=tuple(jobs)
        )
        shuffled.append((ref, changed))
    rnd.shuffle(shuffled)
    assert review.review(shuffled, ctx()) == before
