"""The one written access policy: which role may do what, and where (第十二~十七条; 三权分立).

A capability held through a role at a site applies to that site and its whole subtree; a role held with
no site applies engagement-wide. Views and API endpoints name the capability they need; selectors
filter by it. tests/test_access_policy.py walks every URL with every role against this table.
"""

from __future__ import annotations

from handover.org.models import Party, Role

# What a page or endpoint may name instead of a capability: anyone, or any logged-in user. They sit here,
# beside the capabilities, so that every face (web, api) reads them from the one policy.
PUBLIC = "public"
AUTHENTICATED = "authenticated"

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
MANAGE_PACKAGES = "manage_packages"  # build, download the 表24 package; record its sending
# 第二十七条第4项 「经托管工作组批准后」: a member of the 托管工作组 (an observer for the working group, never
# one for the 证监局) reads and approves the package in person with a fresh second-factor code.
APPROVE_PACKAGE = "approve_package"
VIEW_AUDIT = "view_audit"
MANAGE_ACCOUNTS = "manage_accounts"
# The vault (第二十二条, 第二十六条第2项): reading a secret needs a request and someone else's approval.
VAULT_VIEW = "vault_view"  # vault entries of the role's sites: who holds what, never the secret
VAULT_CAPTURE = "vault_capture"  # enter or generate a secret at the role's sites (表9, 表10, 表27)
VAULT_REQUEST = "vault_request"  # ask to see a secret (reason required), then open the granted reveal
VAULT_APPROVE = "vault_approve"  # approve someone else's reveal at the role's sites, with a fresh TOTP code
VAULT_UNSEAL = "vault_unseal"  # enter an unseal share, seal the vault (deployment-wide)
VIEW_WORKFLOW = "view_workflow"  # the 附件二 steps, their states and the exception cases at the held scope
WORK_STEPS = "work_steps"  # notes and evidence on a step; confirming a step that has no output register
REPORT_FEEDBACK = (
    "report_feedback"  # 第二十七条第2项: the site's 现场技术岗位 reports a late step the same day
)
HANDLE_EXCEPTIONS = "handle_exceptions"  # start a 第二十八条 path, tick its checklist, close it with 表39
MANAGE_WORKFLOW = "manage_workflow"  # deadlines, phase transitions, reports to the working group
MANAGE_DUTY = "manage_duty"  # 第三十一条第8项: plan who is on duty at a site in 稳定期
# Discovery (第二十六条第2、3项): gathered accounts, rights, keys and the review's findings of the role's sites.
VIEW_DISCOVERY = "view_discovery"
RUN_DISCOVERY = "run_discovery"  # gather, import, decide on a finding (drafts registers; people sign them)
# Security management of the 2023 measures (handover.risk): compliance, incidents, risks, plans and drills.
VIEW_RISK = "view_risk"  # the engagement's duty compliance, incidents and their clocks, risks, plans, drills
MANAGE_RISK = "manage_risk"  # record incidents and their reports, risks, plans, drills, evidence links
ACCEPT_RISK = "accept_risk"  # 第八条: approve a risk acceptance of another, never as its owner

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
            VAULT_VIEW,
            VAULT_REQUEST,
            VAULT_APPROVE,
            VAULT_UNSEAL,
            VIEW_WORKFLOW,
            WORK_STEPS,
            HANDLE_EXCEPTIONS,
            MANAGE_WORKFLOW,
            MANAGE_DUTY,
            MANAGE_PACKAGES,
            VIEW_DISCOVERY,
            RUN_DISCOVERY,
            VIEW_RISK,
            MANAGE_RISK,
            ACCEPT_RISK,
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
            VAULT_VIEW,
            VAULT_CAPTURE,
            VAULT_REQUEST,
            VAULT_APPROVE,
            VAULT_UNSEAL,
            VIEW_WORKFLOW,
            WORK_STEPS,
            REPORT_FEEDBACK,
            HANDLE_EXCEPTIONS,
            MANAGE_DUTY,
            VIEW_DISCOVERY,
            RUN_DISCOVERY,
            VIEW_RISK,
            MANAGE_RISK,
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
            VAULT_VIEW,
            VAULT_CAPTURE,
            VAULT_REQUEST,
            VIEW_WORKFLOW,
            WORK_STEPS,
            HANDLE_EXCEPTIONS,
            VIEW_RISK,
            MANAGE_RISK,
        }
    ),
    Role.FIRM_FINANCE: frozenset(
        {VIEW_ENGAGEMENT, VIEW_SUMMARY, VIEW_FIRM_NAME, VIEW_ORGS, VIEW_REGISTERS, VIEW_WORKFLOW}
    ),
    Role.OBSERVER: frozenset({VIEW_SUMMARY, VIEW_FIRM_NAME, VIEW_DISCOVERY, APPROVE_PACKAGE}),
    Role.AUDITOR: frozenset({VIEW_AUDIT}),
    Role.SYSADMIN: frozenset({MANAGE_ACCOUNTS}),
}

# Roles that hold only at the engagement level; the others need a site.
ENGAGEMENT_WIDE_ROLES = frozenset({Role.TECH_GROUP, Role.OBSERVER, Role.AUDITOR, Role.SYSADMIN})
SITE_ROLES = frozenset({Role.ONSITE_POST, Role.FIRM_IT, Role.FIRM_FINANCE})

# 三权分立: observers, auditors and system administrators hold no other role of any kind, anywhere.
SEPARATED_ROLES = frozenset({Role.OBSERVER, Role.AUDITOR, Role.SYSADMIN})

# 第八条 and the two-person reveal: a reset or factor reset of a login whose person holds one of these roles
# (vault capabilities or a signature on a register) waits for a second 技术组 member (docs/access-policy.md).
CREDENTIAL_GUARDED_ROLES = frozenset(
    role
    for role, caps in ROLE_CAPABILITIES.items()
    if caps & {VAULT_CAPTURE, VAULT_REQUEST, VAULT_APPROVE, VAULT_UNSEAL, FILL_REGISTERS}
) | frozenset({Role.FIRM_FINANCE})

# 第十一条: in 准备期 only the technical group sees the firm's real name.
PREPARATION_FIRM_NAME_ROLES = frozenset({Role.TECH_GROUP})


# 第八条 "托管方监督，被托管方执行": the two sides of a dual signature are two parties. A role that signs for a
# side is held only by a person of that side (第十二~十四条 say who is who): 被托管技术方 and 被托管机构财务 by
# the firm's own staff (IT, finance, business), 技术组 and 现场技术岗位 by the custodian's people; vendors hold
# neither. Observers, auditors and system administrators sign nothing, and 三权分立 keeps them apart from
# every other role.
CUSTODIAN_PARTIES = frozenset({Party.TECH_GROUP, Party.ONSITE_POST})
FIRM_PARTIES = frozenset({Party.FIRM_IT, Party.FIRM_FINANCE, Party.BUSINESS})
ROLE_PARTIES: dict[str, frozenset[str]] = {
    Role.TECH_GROUP: CUSTODIAN_PARTIES,
    Role.ONSITE_POST: CUSTODIAN_PARTIES,
    Role.FIRM_IT: FIRM_PARTIES,
    Role.FIRM_FINANCE: FIRM_PARTIES,
}


def role_fits_party(role: str, party: str) -> bool:
    """Whether a person of ``party`` may hold ``role`` (第八条); roles not in ROLE_PARTIES fit every party."""
    return party in ROLE_PARTIES.get(role, frozenset(Party.values))


def side_of(party: str) -> str:
    """The side of 第八条 a party is on: the custodian's, the firm's, or neither (vendors)."""
    if party in CUSTODIAN_PARTIES:
        return "custodian"
    return "firm" if party in FIRM_PARTIES else "other"


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
