"""The one written access policy: which role may do what, and where (第十二~十七条; 三权分立).

A capability held through a role at a site applies to that site and its whole subtree; a role held with
no site applies engagement-wide. Views and API endpoints name the capability they need; selectors
filter by it. tests/test_access_policy.py walks every URL with every role against this table.
"""

from __future__ import annotations

from handover.org.models import Role

VIEW_ENGAGEMENT = "view_engagement"  # the engagement's pages (dashboard, sites) at the held scope
VIEW_SUMMARY = "view_summary"  # counts and coverage only, no names of people
VIEW_FIRM_NAME = "view_firm_name"  # the real name of the firm (第十一条)
VIEW_PEOPLE = "view_people"
MANAGE_PEOPLE = "manage_people"
VIEW_ORGS = "view_orgs"
MANAGE_ORGS = "manage_orgs"
MANAGE_SITES = "manage_sites"
MANAGE_ROLES = "manage_roles"
VIEW_REGISTERS = "view_registers"
FILL_REGISTERS = "fill_registers"  # create forms and rows; signing is decided by the role held (第八条)
VIEW_BACKUPS = "view_backups"  # imported fixity bundles and enrolled site keys of the role's sites
IMPORT_BACKUPS = "import_backups"  # import a fixity bundle (upload, API, courier) into the registers
MANAGE_SITE_KEYS = "manage_site_keys"  # enrol, issue and revoke the agents' site keys (第二十八条第8项)
MANAGE_PACKAGES = "manage_packages"  # build, download the 表24 package; record its approval and sending
VIEW_AUDIT = "view_audit"
MANAGE_ACCOUNTS = "manage_accounts"

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.TECH_GROUP: frozenset(
        {
            VIEW_ENGAGEMENT,
            VIEW_SUMMARY,
            VIEW_FIRM_NAME,
            VIEW_PEOPLE,
            MANAGE_PEOPLE,
            VIEW_ORGS,
            MANAGE_ORGS,
            MANAGE_SITES,
            MANAGE_ROLES,
            VIEW_REGISTERS,
            FILL_REGISTERS,
            VIEW_BACKUPS,
            IMPORT_BACKUPS,
            MANAGE_SITE_KEYS,
            MANAGE_PACKAGES,
        }
    ),
    Role.ONSITE_POST: frozenset(
        {
            VIEW_ENGAGEMENT,
            VIEW_SUMMARY,
            VIEW_FIRM_NAME,
            VIEW_PEOPLE,
            MANAGE_PEOPLE,
            VIEW_ORGS,
            VIEW_REGISTERS,
            FILL_REGISTERS,
            VIEW_BACKUPS,
            IMPORT_BACKUPS,
            MANAGE_SITE_KEYS,
        }
    ),
    Role.FIRM_IT: frozenset(
        {
            VIEW_ENGAGEMENT,
            VIEW_SUMMARY,
            VIEW_FIRM_NAME,
            VIEW_PEOPLE,
            VIEW_ORGS,
            VIEW_REGISTERS,
            FILL_REGISTERS,
            VIEW_BACKUPS,
        }
    ),
    Role.FIRM_FINANCE: frozenset({VIEW_ENGAGEMENT, VIEW_SUMMARY, VIEW_FIRM_NAME, VIEW_ORGS, VIEW_REGISTERS}),
    Role.OBSERVER: frozenset({VIEW_SUMMARY, VIEW_FIRM_NAME}),
    Role.AUDITOR: frozenset({VIEW_AUDIT}),
    Role.SYSADMIN: frozenset({MANAGE_ACCOUNTS}),
}

# Roles that hold only at the engagement level; the others need a site.
ENGAGEMENT_WIDE_ROLES = frozenset({Role.TECH_GROUP, Role.OBSERVER, Role.AUDITOR, Role.SYSADMIN})
SITE_ROLES = frozenset({Role.ONSITE_POST, Role.FIRM_IT, Role.FIRM_FINANCE})

# 三权分立: observers, auditors and system administrators hold no other role of any kind, anywhere.
SEPARATED_ROLES = frozenset({Role.OBSERVER, Role.AUDITOR, Role.SYSADMIN})

# 第十一条: in 准备期 only the technical group sees the firm's real name.
PREPARATION_FIRM_NAME_ROLES = frozenset({Role.TECH_GROUP})


def capabilities_of(role: str) -> frozenset[str]:
    return ROLE_CAPABILITIES.get(role, frozenset())


def roles_with(capability: str) -> frozenset[str]:
    return frozenset(role for role, caps in ROLE_CAPABILITIES.items() if capability in caps)


def separation_conflict(existing: set[str], new: str) -> str | None:
    """The held role that ``new`` would conflict with under 三权分立, or None."""
    for held in existing:
        if held == new:
            continue
        if new in SEPARATED_ROLES or held in SEPARATED_ROLES:
            return held
    return None
