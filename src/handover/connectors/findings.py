"""What the review rules say about an account: ``Finding``, and what they need to know: ``ReviewContext``.

The rules themselves are in ``review`` (Django-free). A finding's ``rule`` code is stable (docs/discovery.md
lists them); its evidence lines are the facts' own ``Evidence``; ``score`` is the fuzzy-match score (0–100)
where a rule matches names (departed staff), else None.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from handover.connectors.model import Evidence


@dataclass(frozen=True)
class SystemRef:
    """Which system and host an inventory belongs to, as the registers name them."""

    system: str
    host: str = ""
    site: str = ""
    trading: bool = False  # a trading system (交易系统): batch super-users and changes matter more


@dataclass(frozen=True)
class Person:
    """A person the review can link accounts to: staff (表5) with their leave date when they left."""

    name: str  # as written, usually Chinese (张三)
    left_on: date | None = None  # None: still employed
    usernames: tuple[str, ...] = ()  # known logins
    emails: tuple[str, ...] = ()
    key_fingerprints: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewContext:
    """Everything a rule may use besides the inventory; the defaults are the guideline's or a stated policy."""

    today: date
    disposal_day: date | None = None  # D
    people: tuple[Person, ...] = ()
    password_max_age_days: int = 90
    dormant_days: int = 90
    departed_window_days: int = 183  # 第二十五条第3项: staff who left in the half year before D
    match_threshold: int = 85  # fuzzy score (0–100) from which a name match is reported
    generic_names: tuple[str, ...] = ()  # extra shared/generic account names of this firm
    changed_on_form10: tuple[tuple[str, str, str], ...] = ()  # (system, host, account) that 表10 says changed


@dataclass(frozen=True)
class Finding:
    """One rule's verdict on one account (or group, key, job) of one system."""

    rule: str
    system: str
    host: str
    account: str
    detail_en: str
    detail_zh: str
    severity: str = "medium"  # high | medium | low
    score: int | None = None
    evidence: tuple[Evidence, ...] = field(default=())

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Stable identity across runs: the same rule on the same account is the same finding."""
        return (self.rule, self.system, self.host, self.account)
