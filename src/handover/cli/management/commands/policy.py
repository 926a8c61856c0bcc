"""``handover policy``: print the access policy (roles × capabilities) as the table in docs/access-policy.md."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import translation

from handover.org import permissions as perms
from handover.org.models import Role

CAPABILITY_NOTES = {
    perms.VIEW_ENGAGEMENT: "site pages and the site tree, within the role's sites",
    perms.VIEW_SUMMARY: "the engagement dashboard: counts and coverage",
    perms.VIEW_FIRM_NAME: "the firm's real name (only 技术组 in 准备期, 第十一条)",
    perms.VIEW_PEOPLE: "people at the role's sites",
    perms.MANAGE_PEOPLE: "add, edit, deactivate people at the role's sites",
    perms.VIEW_ORGS: "organisations of the engagement",
    perms.MANAGE_ORGS: "add, edit, deactivate organisations",
    perms.MANAGE_SITES: "add, move, deactivate sites",
    perms.MANAGE_ROLES: "grant and revoke roles; link a login account to a person",
    perms.VIEW_REGISTERS: "register forms and rows of the role's sites; export them (xlsx, PDF, CSV) and the templates",
    perms.FILL_REGISTERS: (
        "open forms, fill rows and import xlsx/CSV files at the role's sites (signing depends on the role)"
    ),
    perms.VIEW_BACKUPS: "imported fixity bundles and enrolled site keys of the role's sites",
    perms.IMPORT_BACKUPS: "import a fixity bundle into 表8/14/15/29 and 表39 at the role's sites",
    perms.MANAGE_SITE_KEYS: "enrol, issue and revoke the field agents' site keys at the role's sites",
    perms.MANAGE_PACKAGES: "build and download the 表24 handover package; record its distribution",
    perms.APPROVE_PACKAGE: (
        "approve the 表24 handover package in person, with a fresh TOTP code (working-group observers only)"
    ),
    perms.VIEW_AUDIT: "read and export the audit trail",
    perms.MANAGE_ACCOUNTS: "create, unlock, reset, deactivate logins",
    perms.VAULT_VIEW: "vault entries of the role's sites: system, account, holders, custody; never the secret",
    perms.VAULT_CAPTURE: "enter or generate a secret at the role's sites (表9 original, 表10/表27 new)",
    perms.VAULT_REQUEST: "ask to see a secret with a reason, then open the approved reveal once",
    perms.VAULT_APPROVE: "approve another person's reveal at the role's sites, with a fresh TOTP code",
    perms.VAULT_UNSEAL: "enter an unseal share; seal the vault, which needs this in every engagement it serves",
    perms.VIEW_WORKFLOW: "the 附件二 steps, deadlines, feedback and exception cases of the role's sites",
    perms.WORK_STEPS: "notes and evidence on a step; confirm a step that has no output register",
    perms.REPORT_FEEDBACK: "report a late step the same day (第二十七条第2项)",
    perms.HANDLE_EXCEPTIONS: "start a 第二十八条 exception path, tick its checklist, close it with 表39",
    perms.MANAGE_WORKFLOW: "set deadlines, move the engagement to the next phase, report to the working group",
    perms.MANAGE_DUTY: "plan the duty roster of the role's sites (稳定期, 第三十一条第8项)",
    perms.VIEW_DISCOVERY: "gathered accounts, rights, keys and review findings of the role's sites",
    perms.RUN_DISCOVERY: "gather, import account files, decide on findings (drafts 表8/9/11/12/13, 第二十六条第2、3项)",
    perms.VIEW_RISK: "read the duty compliance, incidents and their clocks, risks, plans and drills (2023 measures)",
    perms.MANAGE_RISK: "record incidents and their reports, risks, plans, drills and evidence of duties",
    perms.ACCEPT_RISK: "approve someone else's risk acceptance, never as its owner (第八条)",
}


def policy_markdown() -> str:
    roles = list(Role)
    with translation.override("zh-hans"):
        header = " | ".join(f"{r.label} `{r.value}`" for r in roles)
    lines = [f"| capability | {header} |", "|---|" + "---|" * len(roles)]
    for capability, note in CAPABILITY_NOTES.items():
        marks = " | ".join("✓" if capability in perms.capabilities_of(r) else "" for r in roles)
        lines.append(f"| `{capability}`: {note} | {marks} |")
    return "\n".join(lines) + "\n"


class Command(BaseCommand):
    help = "Print the access policy table (docs/access-policy.md is this output)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(policy_markdown(), ending="")
