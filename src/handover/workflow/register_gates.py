"""The registers' cross-register rules as workflow gates (registers.md §4; workflow/gates.py).

A rule here says, for every (site, step) of an engagement at once, why the step cannot be done yet, naming
the register, the system or machine, and the site where a person has to act. The rules are the registers'
own: the coverage rules of completeness.py, the backup predicates and the exception closure of rules.py;
nothing is computed twice. ``gates.RULES`` lists them (a static tuple, in this order, before the workflow's
own ``open_cases``); the registers app does not know the workflow exists.

- Coverage (第二十五条第3、5项, 第二十六条第1–5、8、10项): a step stays blocked while its register misses a row
  the inventory calls for (M-05 a system of the inventory, T-01 a system of 表7 without its backup …).
- Backup first (第二十六条第2、3项, 第二十七条第5项): T-02 while a system of the site's 表10 has no signed
  改密前备份 (or 交接全备份 of both files) in the site's 表8; T-03 likewise for 表11/表13 and 权限核查前备份.
- Exception closure (第二十八条): a step while one of its output registers has a failed or rolled-back row
  that links no 表39 entry reported to 技术组.

Each rule reads the whole engagement in a fixed number of queries (coverage six plus the sites, the
others two), never one per site or step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q
from django.db.models.fields.json import KT
from django.utils.translation import gettext as _

from handover.org.models import Engagement, Phase, Site, SiteLevel
from handover.registers import catalogue, completeness, computed, rules
from handover.registers.models import FROZEN_STATES, InformationSystem, Row, SignatureKind
from handover.workflow import steps
from handover.workflow.models import PhaseTransition, StepInstance

if TYPE_CHECKING:  # gates.py imports this module for its RULES
    from handover.workflow.gates import Blocks

Pair = tuple[int | None, str]

# Coverage: the register, the step whose output it is, and the article that asks for the row.
COVERAGE: dict[int, tuple[str, str]] = {
    5: ("M-03", "第二十五条第3项"),
    7: ("M-05", "第二十五条第5项"),
    8: ("T-01", "第二十六条第1项"),
    9: ("T-02", "第二十六条第2项"),
    10: ("T-02", "第二十六条第2项"),
    11: ("T-03", "第二十六条第3项"),
    14: ("T-04", "第二十六条第4项"),
    15: ("T-05", "第二十六条第5项"),
    22: ("T-08", "第二十六条第8项"),
    23: ("T-10", "第二十六条第10项"),
}


def _coverage_reason(item: completeness.Item, article: str) -> str:
    values: dict[str, object] = {"subject": item.subject, "site": item.site.name, "article": article}
    if item.kind == "account":
        return _account_reason(item, values)
    if item.register_no == 5:
        text = _(
            "表5 at %(site)s has no row for %(subject)s, who left within the half year before the disposal "
            "date (%(article)s): add one."
        )
    elif item.register_no == 7:
        text = _(
            "%(subject)s is in the system inventory of %(site)s but not in 表7 (%(article)s, 逐一核对): check "
            "it with the firm and add its row."
        )
    elif item.register_no == 15 and item.kind == "site":
        text = _(
            "表15 has no row for %(site)s itself (%(article)s: 总部 and each 区域中心 check their historical "
            "data): check it and add the row."
        )
    elif item.register_no == 8 and item.detail:
        text = _(
            "The 交接全备份 of %(subject)s at %(site)s in 表8 lacks %(missing)s (%(article)s: the full backup of an "
            "application covers its software, database, parameter files and run logs; a network or security "
            "device, its configuration): back them up and record each in 表8."
        )
        values |= {"missing": item.detail}
    elif item.register_no == 14 and item.detail:
        text = _(
            "表14 at %(site)s has no backup as of the disposal date of %(files)s for %(subject)s (%(article)s: the "
            "exchanges' clearing and securities reconciliation files of D): back them up and record each."
        )
        values |= {"files": item.detail}
    elif item.register_no == 23 and item.detail:
        text = _(
            "The joint test of %(subject)s at %(site)s failed in 表23 (%(tests)s) and is not fixed yet "
            "(%(article)s: 发现问题及时解决): fix it and record 解决时间, or test again and record the pass."
        )
        values |= {"tests": item.detail}
    elif item.register_no == 22:
        text = _(
            "The machine %(subject)s at %(site)s is not in 表22 (%(article)s: every machine is scanned "
            "offline): scan it and record it."
        )
    else:
        text = _("%(subject)s at %(site)s has no row in 表%(n)d (%(article)s): %(todo)s")
        values |= {"n": item.register_no, "todo": _coverage_todo(item.register_no)}
    return text % values


def _account_reason(item: completeness.Item, values: dict[str, object]) -> str:
    """第二十二条, 第二十六条第2、3项: what one super-user or back-end account still lacks, by name."""
    if item.register_no == 10 and item.detail:
        text = _(
            "The password of %(subject)s at %(site)s was changed, but its 表10 登录验证 is %(detail)s, not 成功 "
            "(%(article)s: test after changing). Verify the login and record 成功, or record the failure and "
            "its 表39 entry."
        )
        return text % (values | {"detail": item.detail})
    if item.register_no == 9:  # only the text needed is translated: thousands of accounts at 300 sites
        text = _(
            "The account %(subject)s at %(site)s has no 表9 receipt (%(article)s, 第二十二条: every super-user "
            "and back-end password is received): record in 表9 how its original was received."
        )
    elif item.register_no == 10:
        text = _(
            "The password of %(subject)s at %(site)s has not been changed in 表10 (%(article)s: every "
            "super-user and back-end password): change it, verify the login and record it in 表10."
        )
    elif item.register_no == 11:
        text = _(
            "The account %(subject)s at %(site)s has no 表11 review (%(article)s): review its user and "
            "rights and record them in 表11."
        )
    else:
        raise KeyError(item.register_no)
    return text % values


def _coverage_todo(register_no: int) -> str:
    todo = {
        8: _("back it up and record the backup in 表8."),
        10: _("it has accounts; change its super-user and back-end passwords and record them in 表10."),
        11: _("it has accounts; review its users and rights and record them in 表11."),
        14: _("back up its current data and record it in 表14."),
        15: _("check its historical backups (营业部柜台系统) and record them in 表15."),
        23: _("test it jointly and record the result in 表23."),
    }
    return todo[register_no]


# Past this many sites asked about, a rule reads the whole engagement (no long list of ids in a query).
FEW_SITES = 64


def _few(wanted: set[Pair]) -> list[int] | None:
    """The sites ``wanted`` asks about when they are few (the state kept between writes asks about the sites
    written at: state.py), else None: read every site. For the rules whose reasons are on per-site steps
    only: an engagement-level step asked about reads nothing."""
    ids = {site_id for site_id, _step in wanted if site_id is not None}
    return sorted(ids) if len(ids) <= FEW_SITES else None


def coverage_gaps(
    engagement: Engagement, pairs: Iterable[Pair], facts: completeness.Facts | None = None
) -> Blocks:
    """What the coverage rules still miss, on the step whose register should hold the row. ``facts``: the
    covered registers' facts of every site, as the workflow's kept state holds them (state.py), else read."""
    wanted = set(pairs)
    few = _few(wanted)
    if few == []:  # only engagement-level steps asked about: no coverage reason is theirs
        return {}
    sites = Site.objects.filter(engagement=engagement, is_active=True).order_by("path")
    if few is not None:
        sites = sites.filter(pk__in=few)
    found: Blocks = {}
    for entry in completeness.coverage(engagement=engagement, sites=sites, facts=facts):
        for item in entry.missing:
            step_id, article = COVERAGE[item.register_no]
            key = (item.site.pk, step_id)
            if key in wanted:
                found.setdefault(key, []).append(_coverage_reason(item, article))
    return found


# Backup first --------------------------------------------------------------------------------------------

# The register changed, the step it belongs to, the backup it needs, the predicate and the article.
BACKUP_FIRST: dict[int, tuple[str, str, Callable[[Iterable[dict[str, Any]], int | None], bool], str]] = {
    10: ("T-02", rules.CHANGE_BACKUP, rules.covers_password_change, "第二十六条第2项"),
    11: ("T-03", rules.PERMISSION_BACKUP, rules.covers_permission_review, "第二十六条第3项"),
    13: ("T-03", rules.PERMISSION_BACKUP, rules.covers_permission_review, "第二十六条第3项"),
}
ROW_PAIR = (SignatureKind.EXECUTOR, SignatureKind.SUPERVISOR)


def backups_first(engagement: Engagement, pairs: Iterable[Pair]) -> Blocks:
    """T-02 and T-03 at a site while a system they change has no signed backup in the site's 表8."""
    wanted = set(pairs)
    current = computed.current_rows(engagement, [8, *BACKUP_FIRST])
    few = _few(wanted)
    if few is not None:
        current = current.filter(form__site_id__in=few)
    rows = (
        current.annotate(
            pair=Count("signatures__kind", filter=Q(signatures__kind__in=ROW_PAIR), distinct=True)
        )
        .values_list(
            "pk", "form__register_no", "form__site_id", "form__site__name", "form__state", "data", "pair"
        )
        .order_by()
    )
    signed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    changes: dict[tuple[int, str, int | None], tuple[str, set[int]]] = {}
    for _pk, number, site_id, site_name, form_state, data, pair in rows:
        if number == 8:
            # 第八条: a backup counts once its row carries both signatures, or its form is signed.
            if pair == len(ROW_PAIR) or form_state in FROZEN_STATES:
                signed[site_id].append(data)
        elif (site_id, BACKUP_FIRST[number][0]) in wanted:
            key = (site_id, BACKUP_FIRST[number][0], _as_int(data.get("system_id")))
            changes.setdefault(key, (site_name, set()))[1].add(number)
    names = _system_names(engagement, {system_id for _site, _step, system_id in changes})
    found: Blocks = {}
    for (site_id, step_id, system_id), (site_name, numbers) in sorted(
        changes.items(), key=lambda item: (item[0][0], item[0][1], item[0][2] or 0)
    ):
        _step, purpose, covers, article = BACKUP_FIRST[min(numbers)]
        if covers(signed[site_id], system_id):
            continue
        found.setdefault((site_id, step_id), []).append(
            _backup_reason(names, system_id, site_name, numbers, purpose, article)
        )
    return found


def _backup_reason(
    names: dict[int, str], system_id: int | None, site: str, numbers: set[int], purpose: str, article: str
) -> str:
    extra = f" {rules.full_backup_hint()}" if purpose == rules.CHANGE_BACKUP else ""
    return _(
        "%(registers)s at %(site)s record work on %(system)s, but the site's 表8 has no signed, readable %(purpose)s "
        "of it%(extra)s (%(article)s; 第二十七条第5项: back up first). Record it in 表8 at %(site)s and have "
        "its row signed by 执行人 and 监督人."
    ) % {
        "registers": "、".join(f"表{n}" for n in sorted(numbers)),
        "site": site,
        "system": names.get(system_id or 0, _("(system %(id)s)") % {"id": system_id}),
        "purpose": purpose,
        "extra": extra,
        "article": article,
    }


def _system_names(engagement: Engagement, pks: set[int | None]) -> dict[int, str]:
    wanted = [pk for pk in pks if pk is not None]
    if not wanted:
        return {}
    return dict(
        InformationSystem.objects.filter(engagement=engagement, pk__in=wanted).values_list("pk", "name")
    )


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# Exception closure (第二十八条) ------------------------------------------------------------------------------


def _steps_of(register_no: int) -> list[steps.Step]:
    return [step for step in steps.STEPS if register_no in step.outputs]


def exceptions_closed(engagement: Engagement, pairs: Iterable[Pair]) -> Blocks:
    """A step while one of its output registers has a failed or rolled-back row that is not closed: it links
    no 表39 entry, or one not reported to 技术组. An engagement-level step reads head office's forms."""
    wanted = set(pairs)
    numbers = [n for n in computed.FAILED_WHEN if _steps_of(n)]
    current = computed.current_rows(engagement, numbers)
    sites = {site_id for site_id, _step in wanted}
    if len(sites) <= FEW_SITES:  # a few sites, or only the engagement-level steps (head office's forms)
        at = Q(form__site_id__in=[site_id for site_id in sites if site_id is not None])
        current = current.filter(at | Q(form__site__level=SiteLevel.HQ) if None in sites else at)
    rows = current.values_list(
        "form__register_no",
        "form__site_id",
        "form__site__name",
        "form__site__level",
        "form__form_no",
        "seq",
        "data",
    )
    reported = {
        pk
        for pk, at in Row.objects.filter(
            form__engagement=engagement, form__register_no=catalogue.FAULT_RISK_LOG
        ).values_list("pk", KT("data__reported_tg_at"))
        if rules.reported_to_tech_group({"reported_tg_at": at})
    }
    unclosed: dict[tuple[Pair, int, str], list[str]] = defaultdict(list)
    for number, site_id, site_name, level, form_no, seq, data in rows.order_by("form__form_no", "seq"):
        column = rules.exception_unclosed(number, data, reported)
        if not column:
            continue
        for step in _steps_of(number):
            key: Pair = (site_id, step.id) if step.per_site else (None, step.id)
            if key in wanted and (step.per_site or level == SiteLevel.HQ):
                unclosed[(key, number, site_name)].append(
                    _("row %(seq)d of %(form)s (%(column)s)")
                    % {"seq": seq, "form": form_no, "column": column}
                )
    found: Blocks = {}
    for (key, number, site_name), listed in unclosed.items():
        found.setdefault(key, []).append(
            _(
                "表%(n)d at %(site)s: %(rows)s failed or was rolled back and is not closed (第二十八条). Register "
                "it in 表39, report it to 技术组, and choose the entry in 异常."
            )
            % {"n": number, "site": site_name, "rows": "; ".join(listed)}
        )
    return found


def new_systems_approved(engagement: Engagement, pairs: Iterable[Pair]) -> Blocks:
    """第三十八条 「托管期间…原则上不进行新的系统建设」 (trace C31): a system that first appears once 稳定期 has begun
    blocks S-13 at head office until a signed 表36 row with 新系统建设 是 names it (its 名称 contains the system's
    name), the approval the article and 附件一 ask for. Three queries."""
    wanted = set(pairs)
    hq = Site.objects.filter(engagement=engagement, level=SiteLevel.HQ, is_active=True).values_list(
        "pk", flat=True
    )
    keys = [(pk, "S-13") for pk in hq if (pk, "S-13") in wanted]
    if not keys:
        return {}
    began = (
        PhaseTransition.objects.filter(engagement=engagement, to_phase=Phase.STABILISATION)
        .order_by("signed_at")
        .values_list("signed_at", flat=True)
        .first()
    )
    if began is None:
        return {}
    new = list(
        InformationSystem.objects.filter(engagement=engagement, created_at__gte=began)
        .order_by("name")
        .values_list("name", "site__name")
    )
    if not new:
        return {}
    approved = [
        str(data.get("item") or "")
        for data in computed.current_rows(engagement, [36])
        .filter(form__state__in=FROZEN_STATES)
        .values_list("data", flat=True)
        if data.get("is_new_system") is True
    ]
    missing = [(name, site) for name, site in new if not any(name in item for item in approved)]
    if not missing:
        return {}
    reason = _(
        "Systems that appeared in 稳定期 without an approved 表36 new-system request naming them (第三十八条: "
        "原则上不进行新的系统建设): %(systems)s. Record the request in 表36 with 新系统建设 是 and its approval, or "
        "correct the system entry."
    ) % {"systems": "、".join(f"{name}（{site}）" for name, site in missing)}
    return {key: [reason] for key in keys}


def rules_handed_over(engagement: Engagement, pairs: Iterable[Pair]) -> Blocks:
    """第二十五条第4项 「向被托管技术方公布托管工作管理制度，同时收集被托管机构原有的信息技术管理制度」
    (trace C27): M-04 at head office waits for a 表18 row of 原信息技术管理制度 there and for the announcement
    attached to the step as evidence. Three queries."""
    wanted = {key for key in pairs if key[1] == "M-04" and key[0] is not None}
    if not wanted:
        return {}
    site_ids = [site_id for site_id, _step in wanted]
    collected = set(
        computed.current_rows(engagement, [18])
        .filter(form__site_id__in=site_ids, data__category="原信息技术管理制度")
        .values_list("form__site_id", flat=True)
    )
    announced = set(
        StepInstance.objects.filter(
            engagement=engagement, site_id__in=site_ids, step_id="M-04", evidence__isnull=False
        ).values_list("site_id", flat=True)
    )
    found: Blocks = {}
    for site_id, step_id in sorted(wanted, key=lambda key: key[0] or 0):
        reasons = []
        if site_id not in collected:
            reasons.append(
                _(
                    "表18 has no row of 原信息技术管理制度 (第二十五条第4项: collect the firm's original IT rules): "
                    "record each rule document handed over."
                )
            )
        if site_id not in announced:
            reasons.append(
                _(
                    "Attach the announcement of the custody rules to this step (第二十五条第4项: 向被托管技术方公布"
                    "托管工作管理制度)."
                )
            )
        if reasons:
            found[(site_id, step_id)] = reasons
    return found


def stabilisation_content(engagement: Engagement, pairs: Iterable[Pair]) -> Blocks:
    """第三十条 (trace C29, C30), by what the records say rather than that a form exists:
    - S-01 「对系统进行风险检查，消除系统隐患」: the site's risk check is on record — a 表39 entry of E12 (a hazard
      found) or a 表40 action at the site, or, when nothing was found, the check's report attached to S-01;
    - S-12 「做好客户保证金第三方存管的系统准备和上线组织」 at head office: a signed 表36 row of 第三方存管准备 and a
      signed 表30 go-live (升级/上线) of a 第三方存管/银证转账 system. Four queries."""
    wanted = {key for key in pairs if key[0] is not None and key[1] in ("S-01", "S-12")}
    if not wanted:
        return {}
    found: Blocks = {}
    s01 = [site_id for site_id, step_id in wanted if step_id == "S-01"]
    if s01:
        recorded = set(
            computed.current_rows(engagement, [39, 40])
            .filter(form__site_id__in=s01)
            .filter(Q(form__register_no=40) | Q(data__exc_type__startswith="E12"))
            .values_list("form__site_id", flat=True)
        ) | set(
            StepInstance.objects.filter(
                engagement=engagement, site_id__in=s01, step_id="S-01", evidence__isnull=False
            ).values_list("site_id", flat=True)
        )
        for site_id in s01:
            if site_id not in recorded:
                found[(site_id, "S-01")] = [
                    _(
                        "No risk check on record (第三十条: 对系统进行风险检查，消除系统隐患): register what it found "
                        "in 表39 (E12) and 表40, or attach the check's report to this step if it found nothing."
                    )
                ]
    s12 = [site_id for site_id, step_id in wanted if step_id == "S-12"]
    if s12:
        signed = computed.current_rows(engagement, [30, 36]).filter(
            form__site_id__in=s12, form__state__in=FROZEN_STATES
        )
        custody = set(
            InformationSystem.objects.filter(
                engagement=engagement, category="第三方存管/银证转账"
            ).values_list("pk", flat=True)
        )
        prepared, launched = set(), set()
        for site_id, number, data in signed.values_list("form__site_id", "form__register_no", "data"):
            if number == 36 and data.get("purpose") == "第三方存管准备":
                prepared.add(site_id)
            if number == 30 and data.get("kind") == "升级/上线" and _as_int(data.get("system_id")) in custody:
                launched.add(site_id)
        for site_id in s12:
            reasons = []
            if site_id not in prepared:
                reasons.append(_("No signed 表36 row of 第三方存管准备 (第三十条: 第三方存管的系统准备)."))
            if site_id not in launched:
                reasons.append(
                    _(
                        "No signed 表30 go-live of a 第三方存管/银证转账 system (第三十条: 第三方存管的上线组织)."
                    )
                )
            if reasons:
                found[(site_id, "S-12")] = reasons
    return found


RULES = (  # gates.RULES, in this order
    coverage_gaps,
    backups_first,
    exceptions_closed,
    new_systems_approved,
    rules_handed_over,
    stabilisation_content,
)
