"""The demo engagement, composing the apps in order: ``handover demo`` (make demo) and the tests' demo.

Each module builds one app's part through that app's services, as any user would: ``org`` (the firm, its
sites, people and one login per role), ``vault`` (set up 3 of 5 with a few demo secrets), ``registers`` (the
forms and rows of every site), ``workflow`` (mid-handover: late sites, feedback, E01 and E05) and ``risk``
(a risk register, a graded incident with its clocks running, a plan with one drill done and one overdue). The order
is the apps' order, except that the vault comes before the registers: 表10 rows that keep a secret in the
vault name its entries (vault/references.py). Loading twice changes nothing but the logins' passwords.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.db import transaction

from handover.demo import org, registers, risk, vault, workflow
from handover.org.models import Engagement


@dataclass(frozen=True)
class Demo:
    """What ``load`` made: the engagement, the logins with their fresh passwords, and the vault's shares
    (empty when the vault was set up already: the shares are printed once and stored nowhere)."""

    engagement: Engagement
    logins: list[org.DemoLogin]
    shares: list[str] = field(default_factory=list)


def load(today: date | None = None, *, with_vault: bool = True) -> Demo:
    """Create the demo engagement if missing, in one transaction, and (re)issue the demo logins' passwords."""
    with transaction.atomic():
        engagement, fresh, logins = org.load(today)
        shares = vault.load(engagement) if with_vault else []
        registers.load(engagement=engagement)
        if fresh:  # the workflow's story, on top of the registers' rows
            workflow.build(engagement)
        risk.load(engagement)  # risks, a graded incident with its clocks running, plans and drills
    return Demo(engagement=engagement, logins=logins, shares=shares)
