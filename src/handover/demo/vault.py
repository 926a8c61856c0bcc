"""The demo's vault: set up 3-of-5 on the first ``handover demo``, with a few secrets at the demo sites so a
new user can try unseal, capture and reveal. An initialised vault is left alone (its shares were printed
when it was set up, and are stored nowhere)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from handover.core.actors import system
from handover.demo import registers as registers_demo
from handover.org.models import Engagement, Site
from handover.vault import lifecycle, passwords, services
from handover.vault.models import CustodyMode, SecretEntry, SecretKind, VaultConfig

# site code, system, host, account, layer, class, kind
# The registers demo's accounts (demo/registers.py SYSTEMS, HOSTS): its 表10 rows name these entries.
SECRETS = [
    ("BR-HZ", "营业部柜台系统", "hz-gt01", "root", "操作系统", "超级用户", SecretKind.ORIGINAL),
    # 表10 names this entry as changed: the change is a version captured after the original (C4).
    ("BR-HZ", "营业部柜台系统", "hz-gt01", "root", "操作系统", "超级用户", SecretKind.CHANGED),
    ("BR-HZ", "营业部柜台系统", "hz-gt01", "dbadmin", "数据库", "超级用户", SecretKind.CHANGED),
    ("BR-HZ", "营业部柜台系统", "hz-rt01", "admin", "网络设备", "超级用户", SecretKind.CHANGED),
    ("HQ", "集中交易系统", "jy-db01", "root", "操作系统", "超级用户", SecretKind.CHANGED),
    ("BR-SZ", "营业部柜台系统", "sz-counter01", "root", "操作系统", "超级用户", SecretKind.ORIGINAL),
]


def load(engagement: Engagement) -> list[str]:
    """Set up the vault and store the demo secrets; returns the shares, or [] if it was set up already.

    Runs before the registers demo (``handover demo``): a 表10 row that says 密码保管系统 must name an
    existing entry (vault/references.py), so the accounts are made with the registers' scenery first."""
    if VaultConfig.objects.exists():
        return []
    actor = system("demo")
    registers_demo.scenery_ensure(engagement=engagement)
    result = lifecycle.vault_init(actor=actor, shares=5, threshold=3)
    for code, system_name, host, login, layer, account_class, kind in SECRETS:
        site = Site.objects.get(engagement=engagement, code=code)
        target = services.Target(
            engagement=engagement,
            site=site,
            system_name=system_name,
            hostname=host,
            login_name=login,
            layer=layer,
            account_class=account_class,
        )
        custody = services.Custody(
            mode=CustodyMode.ENVELOPE if host == "hz-rt01" else CustodyMode.VAULT,
            envelope_no="HZ-2026-001" if host == "hz-rt01" else "",
            safe="杭州营业部机房保险柜" if host == "hz-rt01" else "",
        )
        services.secret_put(
            actor=actor,
            target=target,
            secret=passwords.generate(passwords.Policy(length=20)),
            kind=kind,
            keeper=result.keeper,
            custody=custody,
            generated=True,
        )
    # Demo scenery: one secret past its 表27 periodic change date, so the overdue list has something.
    SecretEntry.objects.filter(account__asset__hostname="hz-gt01", account__login_name="dbadmin").update(
        next_due_on=timezone.localdate() - timedelta(days=3)
    )
    return result.shares
