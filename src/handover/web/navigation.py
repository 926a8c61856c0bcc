"""The engagement's menu, declared as data (review §2 and §10.3; NetBox's ``navigation/menu.py``).

Each entry names its page, the capabilities that show it (any one of them; none: every member), and the
views it stands for, so the menu can mark where the reader is. A new app adds its line here instead of
editing org's template. Entries that share a ``slot`` are alternatives: the first one the reader may use is
shown (技术组 manages the 表24 package, 托管工作组 approves it; 技术组 sees the workflow, observers its summary).
What shows a link is a convenience only: the views' ``needs`` and the services decide.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from handover.org import permissions as perms
from handover.org.models import Engagement


@dataclass(frozen=True)
class MenuEntry:
    """One link of the engagement menu."""

    url_name: str
    label: Promise
    needs: tuple[str, ...] = ()
    current_for: tuple[str, ...] = ()  # view-name prefixes ("org:person") of the pages this entry stands for
    testid: str = ""
    slot: str = ""


@dataclass(frozen=True)
class MenuItem:
    """An entry as one reader sees it on one page."""

    url: str
    label: Promise
    testid: str
    current: bool


MENU: tuple[MenuEntry, ...] = (
    MenuEntry("org:dashboard", _("Dashboard"), current_for=("org:dashboard", "org:site")),
    MenuEntry(
        "workflow:overview",
        _("Workflow"),
        needs=(perms.VIEW_WORKFLOW,),
        current_for=("workflow:",),
        testid="nav-workflow",
        slot="workflow",
    ),
    MenuEntry(
        "workflow:summary",
        _("Progress summary"),
        needs=(perms.VIEW_SUMMARY,),
        current_for=("workflow:",),
        testid="nav-summary",
        slot="workflow",
    ),
    MenuEntry("notifications:inbox", _("Notifications"), current_for=("notifications:",), testid="nav-inbox"),
    MenuEntry(
        "org:person_list", _("People"), needs=(perms.VIEW_PEOPLE,), current_for=("org:person", "org:role")
    ),
    MenuEntry(
        "backups:bundle_list",
        _("Backup verification"),
        needs=(perms.VIEW_BACKUPS,),
        current_for=("backups:",),
    ),
    MenuEntry(
        "discovery:index",
        _("Account discovery"),
        needs=(perms.VIEW_DISCOVERY,),
        current_for=("discovery:",),
        testid="nav-discovery",
    ),
    MenuEntry(
        "rotation:plans",
        _("Password rotation"),
        needs=(perms.VIEW_DISCOVERY,),
        current_for=("rotation:",),
        testid="nav-rotation",
    ),
    MenuEntry(
        "vault:entry_list", _("Vault"), needs=(perms.VAULT_VIEW,), current_for=("vault:",), testid="nav-vault"
    ),
    MenuEntry("registers:index", _("Registers"), needs=(perms.VIEW_REGISTERS,), current_for=("registers:",)),
    MenuEntry(
        "reports:package_list",
        _("Handover package (表24)"),
        needs=(perms.MANAGE_PACKAGES,),
        current_for=("reports:",),
        slot="package",
    ),
    MenuEntry(
        "reports:approval_list",
        _("Handover package (表24)"),
        needs=(perms.APPROVE_PACKAGE,),
        current_for=("reports:",),
        testid="nav-approvals",
        slot="package",
    ),
    MenuEntry(
        "risk:overview",
        _("Security management"),
        needs=(perms.VIEW_RISK,),
        current_for=("risk:",),
        testid="nav-risk",
    ),
    MenuEntry(
        "org:organisation_list",
        _("Organisations"),
        needs=(perms.VIEW_ORGS,),
        current_for=("org:organisation",),
    ),
)


def engagement_menu(
    *, engagement: Engagement, caps: Collection[str], view_name: str = "", menu: tuple[MenuEntry, ...] = MENU
) -> list[MenuItem]:
    """The entries a reader with ``caps`` may use, in order, one per slot, the one for ``view_name`` (the
    page's ``app:name``) marked current."""
    shown: list[MenuItem] = []
    taken: set[str] = set()
    for entry in menu:
        if entry.needs and not any(need in caps for need in entry.needs):
            continue
        if entry.slot:
            if entry.slot in taken:
                continue
            taken.add(entry.slot)
        current = any(view_name.startswith(prefix) for prefix in entry.current_for)
        shown.append(MenuItem(_link(entry.url_name, engagement.code), entry.label, entry.testid, current))
    return shown


@lru_cache(maxsize=4096)
def _link(url_name: str, code: str) -> str:
    """An entry's URL in an engagement, reversed once per process: the same for every reader and request
    (issue 18: a dozen reversals on every engagement page)."""
    return reverse(url_name, kwargs={"code": code})
