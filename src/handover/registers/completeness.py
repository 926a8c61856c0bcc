"""The coverage rules of registers.md §4 as a per-site completeness view.

- 第二十五条第5项 (逐一核对, 毫无遗漏): every system of the inventory has its 表7 row, and every system in 表7
  has rows in 表8 (第二十六条第1项), 表14 (第4项) and 表23 (第10项).
- 第二十二条, 第二十六条第2、3项 per account, not per system: every super-user, equivalent super-user and
  back-end account known for a system in 表7 (the account entity, filled by hand, by an import or by the
  discovery app; or named in a 表9 or 表11 row) has its 表9 receipt, its 表10 change whose 登录验证 is 成功
  (未验证 or 失败 is an open item, never done) and its 表11 review. A system whose accounts are all of other
  classes still needs one 表10 and one 表11 row.
- 第二十六条第5项: 表15 checks 总部, each 区域中心 and every 营业部柜台系统.
- 第二十六条第8项 (对每台机器进行断网病毒查杀): every machine is in 表22.
- 第二十五条第3项: the IT staff who left in the half year before 处置日 are in their site's 表5.

A missing item names the register, the site at which to create the row, and the system or machine. The
selector reads the whole engagement in seven queries whatever the number of sites, and returns only the
sites the user may see registers of. ``coverage`` is the computation itself, shared with the workflow's
gates (workflow/register_gates.py), which block a step while its register does not cover what it should.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.db.models.fields.json import KT
from django.utils.translation import gettext as _

from handover.core.actors import Actor
from handover.core.errors import PermissionDenied
from handover.org import permissions as perms
from handover.org.models import Employment, Engagement, Party, Person, Site, SiteLevel
from handover.org.selectors import site_scope
from handover.registers import catalogue
from handover.registers.computed import KEY_ACCOUNT_CLASSES, current_rows, half_year_window
from handover.registers.models import Account, Asset, InformationSystem
from handover.registers.models.entities import AccountStatus

PER_SYSTEM = (8, 14, 23)  # every system in 表7
PER_SYSTEM_WITH_ACCOUNTS = (10, 11)
PER_ACCOUNT = (9, 10, 11)  # 第二十二条, 第二十六条第2、3项: each key account
COUNTER_CATEGORY = "营业部柜台"
COVERED = (5, 7, 8, 9, 10, 11, 14, 15, 22, 23)
FEW_IDS = 500  # coverage reads the entities of at most this many sites and systems by id, else all
LOGIN_OK = "成功"  # 第二十六条第2项 「及时作好相应测试」: a change is done once a fresh login succeeded
# 第二十六条第1项 per data class (trace C7): 「应用系统的全备份包括应用软件、数据库、参数配置文件、运行日志」, and
# 「对网络、安全设备的配置文件进行备份」. A system's 表8 counts once its 交接全备份 rows cover every class its
# category asks for.
FULL_BACKUP_PURPOSE = "交接全备份"
APPLICATION_FULL_BACKUP = ("应用软件", "数据库", "参数配置文件", "运行日志")
DEVICE_BACKUP = {"网络": ("网络设备配置文件",), "安全": ("安全设备配置文件",)}


# 第二十六条第4项 (trace C8): 「交接日当日…交易所清算文件、证券余额对账文件」 for the systems that receive them.
EXCHANGE_FILE_SYSTEMS = ("集中交易", "营业部柜台", "清算")
EXCHANGE_FILES = ("交易所清算文件-沪", "交易所清算文件-深", "证券余额对账文件")


def backup_classes(category: str) -> tuple[str, ...]:
    """The 表8 备份对象类别 a system of ``category`` must have in its 交接全备份 (第二十六条第1项)."""
    return DEVICE_BACKUP.get(category, APPLICATION_FULL_BACKUP)


@dataclass(frozen=True)
class Item:
    """One row the registers should have: in 表``register_no``, created at ``site``, about ``subject``, which
    is a system, a machine, a person or the site itself (``kind``)."""

    register_no: int
    site: Site
    subject: str
    present: bool
    kind: str = "system"
    detail: str = (
        ""  # why a row that exists does not count yet (表10: 登录验证 未验证; 表8: the classes missing)
    )

    @property
    def register_title(self) -> str:
        return catalogue.get(self.register_no).title


@dataclass
class SiteCompleteness:
    """What one site's registers should hold, and what is still missing."""

    site: Site
    items: list[Item] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return len(self.items)

    @property
    def present(self) -> int:
        return sum(item.present for item in self.items)

    @property
    def missing(self) -> list[Item]:
        return [item for item in self.items if not item.present]

    @property
    def complete(self) -> bool:
        return self.present == self.expected


@dataclass
class Facts:
    """Which systems, machines, accounts and sites the covered registers' rows mention, and what they say of
    each: of one site's rows (``facts``) or of every site's, merged (``merged``). The workflow keeps them per
    site and merges them (workflow/state.py): a union of sets, the same whatever the order."""

    systems: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    assets: set[int] = field(default_factory=set)
    sites_in_15: set[int] = field(default_factory=set)
    t7: set[tuple[int, int]] = field(default_factory=set)  # (form site, system) of each 表7 row
    t5: set[tuple[int, int]] = field(default_factory=set)  # (form site, person) of each 表5 row
    # Per account: the registers among 9, 10, 11 that name it, and the 登录验证 values of its 表10 rows.
    accounts: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    logins: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Accounts a 表9 or 表11 row names as a key account, by system (besides the account entity's).
    named: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    # Per system: the 备份对象类别 its 表8 交接全备份 rows cover (第二十六条第1项).
    backed_up: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    # Per system: the 表14 数据类别 backed up as of the disposal date (第二十六条第4项).
    day_files: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    disposal_date: str = ""
    # Per system: its 表23 tests as (检测项目, 检测时间, 结果, 解决时间) (第二十六条第10项: 发现问题及时解决).
    tests: dict[int, set[tuple[str, str, str, str]]] = field(default_factory=lambda: defaultdict(set))

    def unresolved_tests(self, system_id: int) -> list[str]:
        """The 表23 test items of the system whose latest result is 不通过 with no 解决时间 (trace C12); of two
        tests of an item at the same time, the greater (so that the answer does not depend on row order)."""
        latest: dict[str, tuple[str, str, str]] = {}
        for item, at, result, fixed in sorted(self.tests.get(system_id, ()), key=lambda t: (t[1], t)):
            latest[item] = (at, result, fixed)
        return sorted(
            item for item, (_at, result, fixed) in latest.items() if result == "不通过" and not fixed
        )

    def add(self, register_no: int, form_site: int, values: dict[str, Any]) -> None:
        system_id, asset_id, site_id, person_id, account_id = (
            _as_int(values[k]) for k in ("system", "asset", "site", "person", "account")
        )
        if register_no == 5 and person_id is not None:
            self.t5.add((form_site, person_id))
            return
        if register_no in PER_ACCOUNT and account_id is not None:
            self.accounts[account_id].add(register_no)
            if register_no == 10:
                self.logins[account_id].add(values["login"] or "")
            elif values["account_class"] in KEY_ACCOUNT_CLASSES and system_id is not None:
                self.named[system_id].add(account_id)
        if system_id is not None:
            self.systems[register_no].add(system_id)
            if register_no == 8 and values.get("purpose") == FULL_BACKUP_PURPOSE:
                self.backed_up[system_id].add(values.get("object_type") or "")
            if register_no == 14 and (values.get("as_of") or "") == self.disposal_date:
                self.day_files[system_id].add(values.get("data_class") or "")
            if register_no == 23:
                self.tests[system_id].add(
                    tuple(str(values.get(k) or "") for k in ("test_item", "tested_at", "result", "fixed_at"))  # type: ignore[arg-type]
                )
            if register_no == 7:
                self.t7.add((form_site, system_id))
        if register_no == 22 and asset_id is not None:
            self.assets.add(asset_id)
        if register_no == 15:
            self.sites_in_15.add(site_id or form_site)

    def update(self, other: Facts) -> None:
        """Add what ``other`` says (another site's facts)."""
        for number, ids in other.systems.items():
            self.systems[number] |= ids
        self.assets |= other.assets
        self.sites_in_15 |= other.sites_in_15
        self.t7 |= other.t7
        self.t5 |= other.t5
        for name in ("accounts", "logins", "named", "backed_up", "day_files", "tests"):
            mine: dict[int, set[Any]] = getattr(self, name)
            for key, values in getattr(other, name).items():
                mine[key] |= values

    # What the coverage rules read of one entity (a change to it changes the coverage of the sites that
    # expect a row about it: ``concerned``).

    def of_system(self, system_id: int) -> tuple[frozenset[object], ...]:
        return (
            frozenset(n for n, ids in self.systems.items() if system_id in ids),
            frozenset(self.backed_up.get(system_id, ())),
            frozenset(self.day_files.get(system_id, ())),
            frozenset(self.tests.get(system_id, ())),
        )

    def of_account(self, account_id: int, named: set[int]) -> tuple[object, ...]:
        return (
            frozenset(self.accounts.get(account_id, ())),
            frozenset(self.logins.get(account_id, ())),
            account_id in named,
        )

    def mentioned(self) -> tuple[set[int], set[int]]:
        """The systems and accounts these facts say something of."""
        systems = set().union(*self.systems.values(), self.backed_up, self.day_files, self.tests, self.named)
        accounts = set().union(self.accounts, self.logins, *self.named.values())
        return systems, accounts


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def site_completeness(*, user: Actor, engagement: Engagement) -> list[SiteCompleteness]:
    """Per site in the user's scope: the rows expected by the coverage rules, present and missing."""
    scope = site_scope(user=user, engagement=engagement, capability=perms.VIEW_REGISTERS)
    if scope is None:
        raise PermissionDenied(_("You do not have the role needed for this here."))
    sites = Site.objects.filter(scope, engagement=engagement, is_active=True).order_by("path")
    return coverage(engagement=engagement, sites=sites)


def coverage(
    *, engagement: Engagement, sites: Iterable[Site], facts: Facts | None = None
) -> list[SiteCompleteness]:
    """The coverage rules for ``sites`` (not filtered by any user: the caller decides who sees what), in six
    queries besides ``sites``: the rows of the covered registers, the systems, the systems with accounts, the
    key accounts, the machines and the recent leavers. The workflow's gates (workflow/register_gates.py) read the
    same answer, from the facts of every site's rows that the workflow keeps (``facts``: then five queries).
    A site's coverage reads the facts about its own systems, machines and people and about the systems its
    表7 lists, wherever the rows that say them are (a 营业部's 表8 row backing up head office's system)."""
    by_pk = {s.pk: s for s in sites}
    report = {pk: SiteCompleteness(site) for pk, site in by_pk.items()}
    found = facts if facts is not None else _all_facts(engagement)
    listed = {system_id for site_id, system_id in found.t7 if site_id in by_pk}
    # Only the entities of ``sites`` and the systems they list are looked at: read those when they are few
    # (a write at some sites), else all (the same answer: ``expect`` keeps the items of ``sites`` only).
    few = len(by_pk) + len(listed) <= FEW_IDS
    own = Q(site_id__in=list(by_pk)) if few else Q()
    of_listed = Q(system_id__in=list(listed)) if few else Q()
    systems = list(
        InformationSystem.objects.filter(
            own | Q(pk__in=list(listed)) if few else own, engagement=engagement, is_active=True
        ).values_list("pk", "name", "site_id", "category")
    )
    names = {pk: name for pk, name, _site, _category in systems}
    categories = {pk: category for pk, _name, _site, category in systems}
    with_accounts = set(
        Account.objects.filter(of_listed, engagement=engagement, is_active=True).values_list(
            "system_id", flat=True
        )
    )
    key_accounts = _key_accounts(engagement, found, of_listed)

    def expect(register_no: int, site_id: int, subject: str, present: bool, kind: str = "system") -> None:
        if site_id in report:
            report[site_id].items.append(Item(register_no, by_pk[site_id], subject, present, kind))

    for pk, name, site_id, category in systems:
        expect(7, site_id, name, pk in found.systems[7])
        if category == COUNTER_CATEGORY:
            expect(15, site_id, name, pk in found.systems[15])
    for site_id, system_id in sorted(set(found.t7)):
        name = names.get(system_id, _("(system %(id)s)") % {"id": system_id})
        accounts = key_accounts.get(system_id, [])
        per_system = system_id in with_accounts and not accounts
        numbers = PER_SYSTEM + (PER_SYSTEM_WITH_ACCOUNTS if per_system else ())
        for number in numbers:
            if number == 8 and system_id in found.systems[8]:
                needed = backup_classes(categories.get(system_id, ""))
                missing = [c for c in needed if c not in found.backed_up[system_id]]
                if missing and site_id in report:  # rows exist, but not of every class the article names
                    report[site_id].items.append(
                        Item(8, by_pk[site_id], name, False, "system", "、".join(missing))
                    )
                    continue
            if (
                number == 14
                and system_id in found.systems[14]
                and categories.get(system_id) in EXCHANGE_FILE_SYSTEMS
            ):
                lacking = [c for c in EXCHANGE_FILES if c not in found.day_files[system_id]]
                if lacking and site_id in report:  # the exchanges' files of D (第二十六条第4项)
                    report[site_id].items.append(
                        Item(14, by_pk[site_id], name, False, "system", "、".join(lacking))
                    )
                    continue
            if number == 23 and system_id in found.systems[23]:
                open_tests = found.unresolved_tests(system_id)
                if open_tests and site_id in report:  # a failed joint test not yet fixed (第二十六条第10项)
                    report[site_id].items.append(
                        Item(23, by_pk[site_id], name, False, "system", "、".join(open_tests))
                    )
                    continue
            expect(number, site_id, name, system_id in found.systems[number])
        for account_id, label in accounts:
            subject = f"{name}：{label}"
            for number in PER_ACCOUNT:
                present, detail = _account_present(found, account_id, number)
                if site_id in report:
                    item = Item(number, by_pk[site_id], subject, present, "account", detail)
                    report[site_id].items.append(item)
    for site in by_pk.values():
        if site.level in (SiteLevel.HQ, SiteLevel.REGION):
            expect(15, site.pk, site.name, site.pk in found.sites_in_15, "site")
    for pk, name, hostname, site_id in Asset.objects.filter(
        own, engagement=engagement, is_active=True
    ).values_list("pk", "name", "hostname", "site_id"):
        # The host name tells two machines of the same name apart, where the person has to go and scan.
        expect(22, site_id, f"{name}（{hostname}）" if hostname else name, pk in found.assets, "machine")
    start, end = half_year_window(engagement)
    leavers = Person.objects.filter(
        own,
        engagement=engagement,
        party=Party.FIRM_IT,
        employment=Employment.LEFT,
        leave_date__gte=start,
        leave_date__lte=end,
        site__isnull=False,
    )
    for pk, name, site_id in leavers.values_list("pk", "name", "site_id"):
        expect(5, site_id, name, (site_id, pk) in found.t5, "person")
    for entry in report.values():
        entry.items.sort(key=lambda item: (item.register_no, item.subject))
    return list(report.values())


def _key_accounts(engagement: Engagement, found: Facts, own: Q) -> dict[int, list[tuple[int, str]]]:
    """Per system, its super-user, equivalent super-user and back-end accounts (第二十六条第2项) as (id,
    login@host): those of the account entity that are not deleted, and those a 表9 or 表11 row names as one."""
    named = {pk for pks in found.named.values() for pk in pks}
    accounts = (
        Account.objects.filter(own, engagement=engagement, is_active=True)
        .filter(Q(account_class__in=KEY_ACCOUNT_CLASSES) & ~Q(status=AccountStatus.DELETED) | Q(pk__in=named))
        .values_list("pk", "system_id", "login_name", "asset__hostname")
        .order_by("system_id", "login_name", "pk")
    )
    by_system: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for pk, system_id, login, hostname in accounts:
        by_system[system_id].append((pk, f"{login}@{hostname}" if hostname else login))
    return by_system


def _account_present(found: Facts, account_id: int, register_no: int) -> tuple[bool, str]:
    """Whether the account's row of 表``register_no`` counts, and if a 表10 row exists but does not, why."""
    if register_no not in found.accounts.get(account_id, ()):
        return False, ""
    if register_no != 10 or LOGIN_OK in found.logins[account_id]:
        return True, ""
    return False, "、".join(sorted(found.logins[account_id] - {LOGIN_OK})) or "—"


def concerned(*, engagement: Engagement, before: Facts, after: Facts, among: Iterable[Facts]) -> set[int]:
    """The sites whose coverage reads a fact that differs between ``before`` and ``after`` (the merged facts
    before and after a write), looking only at what the parts ``among`` mention (the written sites' facts,
    before and after: nothing else changed): the owner of a system, machine or site whose facts changed, and
    the sites whose 表7 lists such a system (or the system of such an account). At most three queries, none
    when no fact changed."""
    systems: set[int] = set()
    accounts: set[int] = set()
    assets: set[int] = set()
    sites: set[int] = set()
    for part in among:
        mentioned = part.mentioned()
        systems |= mentioned[0]
        accounts |= mentioned[1]
        assets |= part.assets
        sites |= part.sites_in_15
    named_before = set().union(*before.named.values())
    named_after = set().union(*after.named.values())
    systems = {pk for pk in systems if before.of_system(pk) != after.of_system(pk)}
    accounts = {
        pk for pk in accounts if before.of_account(pk, named_before) != after.of_account(pk, named_after)
    }
    found = {pk for pk in sites if (pk in before.sites_in_15) != (pk in after.sites_in_15)}
    assets = {pk for pk in assets if (pk in before.assets) != (pk in after.assets)}
    if accounts:
        of_accounts = Account.objects.filter(engagement=engagement, pk__in=accounts, system__isnull=False)
        systems |= set(of_accounts.values_list("system_id", flat=True))
    if systems:
        owners = InformationSystem.objects.filter(engagement=engagement, pk__in=systems)
        found |= set(owners.values_list("site_id", flat=True))
        found |= {site_id for site_id, system_id in before.t7 | after.t7 if system_id in systems}
    if assets:
        found |= set(
            Asset.objects.filter(engagement=engagement, pk__in=assets).values_list("site_id", flat=True)
        )
    return found


def _all_facts(engagement: Engagement) -> Facts:
    return merged(engagement=engagement, parts=site_facts(engagement=engagement).values())


def merged(*, engagement: Engagement, parts: Iterable[Facts]) -> Facts:
    """The facts of every site, from each site's (``site_facts``)."""
    found = Facts(disposal_date=engagement.disposal_date.isoformat())
    for part in parts:
        found.update(part)
    return found


def site_facts(*, engagement: Engagement, site_ids: Iterable[int] | None = None) -> dict[int, Facts]:
    """The facts of the current rows of the covered registers at each site among ``site_ids`` (None: every
    site), by the site of their form, in one query. A site without such rows has none."""
    disposal_date = engagement.disposal_date.isoformat()
    by_site: dict[int, Facts] = {}
    current = current_rows(engagement, COVERED)
    if site_ids is not None:
        current = current.filter(form__site_id__in=list(site_ids))
    rows = (
        current.annotate(
            system=KT("data__system_id"),
            asset=KT("data__asset_id"),
            site=KT("data__site_id"),
            person=KT("data__person_id"),
            account=KT("data__account_id"),
            account_class=KT("data__account_class"),
            login=KT("data__login_verified"),
            purpose=KT("data__purpose"),
            object_type=KT("data__object_type"),
            test_item=KT("data__test_item"),
            data_class=KT("data__data_class"),
            as_of=KT("data__as_of"),
            tested_at=KT("data__tested_at"),
            result=KT("data__result"),
            fixed_at=KT("data__fixed_at"),
        )
        .values(
            "form__register_no",
            "form__site_id",
            "system",
            "asset",
            "site",
            "person",
            "account",
            "account_class",
            "login",
            "purpose",
            "object_type",
            "test_item",
            "data_class",
            "as_of",
            "tested_at",
            "result",
            "fixed_at",
        )
        .order_by()
        .distinct()
    )
    for values in rows:
        site_id = values["form__site_id"]
        if site_id not in by_site:
            by_site[site_id] = Facts(disposal_date=disposal_date)
        by_site[site_id].add(values["form__register_no"], site_id, values)
    return by_site
