"""``handover rotation plan|approve|run|status``: change every super-user password of a scope (issue 15);
``handover rotation restore|restore-approve|restore-apply|restore-status``: put a Linux host's permission files
back as its backup holds them (第二十六条第3项), the diff shown first, approved by a second person;
``handover rotation revert|revert-approve|revert-apply|revert-status``: an account's original password back within
its E01 case (第二十八条第1项), asked by one person, approved by another.

No secret is ever on the command line or printed: the new passwords are generated and sealed by the vault.
``plan`` and ``approve`` need two different logins (``--user``; 第八条); ``run`` works as the system actor
``system:rotation(<approver>)``. A refusal exits 1 with its reason.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.cli.base import domain_run
from handover.discovery.models import Snapshot, Target
from handover.discovery.services import discovery_restore_preview
from handover.org.models import Engagement, Site
from handover.rotation import disables, restores, reverts, services
from handover.rotation.models import Disablement, Restore, Revert, RotationPlan


class Command(BaseCommand):
    help = "Plan, approve (a second person), run and follow the change of every super-user password (第二十六条第2项)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        plan = sub.add_parser("plan", help="draw up a plan of the super-users with vault entries in a scope")
        plan.add_argument("--engagement", required=True, metavar="CODE")
        plan.add_argument("--site", metavar="SITE")
        plan.add_argument(
            "--reason", default="定期更换", help="表27 修改原因 (定期更换, 人员变动, 疑似泄露, …)"
        )
        plan.add_argument("--user", required=True, help="the login drawing up the plan")
        plan.add_argument("--concurrency", type=int, default=16, help="hosts changed at once (default 16)")
        plan.add_argument(
            "--per-site", type=int, default=4, help="hosts changed at once per site (default 4)"
        )
        plan.add_argument(
            "--due-only", action="store_true", help="only the accounts whose periodic change is due (表27)"
        )
        plan.add_argument(
            "--config-path",
            action="append",
            dest="config_paths",
            default=[],
            metavar="PATH",
            help="a folder or file on the Linux hosts where configuration may hold a password (表10; repeatable)",
        )
        approve = sub.add_parser("approve", help="approve a plan (not its author)")
        approve.add_argument("plan", type=int)
        approve.add_argument("--user", required=True, help="the approving login")
        run = sub.add_parser("run", help="run or resume an approved plan")
        run.add_argument("plan", type=int)
        status = sub.add_parser("status", help="each account's step and outcome")
        status.add_argument("plan", type=int)
        restore = sub.add_parser(
            "restore", help="request the restore of a host's permission files (diff shown)"
        )
        restore.add_argument("--engagement", required=True, metavar="CODE")
        restore.add_argument("--system", required=True, metavar="NAME")
        restore.add_argument("--host", required=True, metavar="HOST")
        restore.add_argument("--reason", required=True)
        restore.add_argument("--file", action="append", dest="files", metavar="PATH", help="only this file")
        restore.add_argument("--backup", metavar="SHA", help="the snapshot to restore (default: the first)")
        restore.add_argument("--user", required=True, help="the login requesting it")
        for name, text in (("restore-approve", "approve a restore (not its requester)"),
                           ("restore-apply", "apply an approved restore")):  # fmt: skip
            sub_parser = sub.add_parser(name, help=text)
            sub_parser.add_argument("restore", type=int)
            sub_parser.add_argument("--user", required=True)
        restore_status = sub.add_parser("restore-status", help="a restore's files and outcome")
        restore_status.add_argument("restore", type=int)
        revert = sub.add_parser(
            "revert",
            help="ask to restore an account's original password within its E01 case (第二十八条第1项)",
        )
        revert.add_argument(
            "--case", type=int, required=True, help="the open E01 case from the change's 表10 row"
        )
        revert.add_argument("--reason", required=True, help="what does not run since the change")
        revert.add_argument("--user", required=True, help="the login asking")
        for name, text in (("revert-approve", "approve a password restore (not the person who asked)"),
                           ("revert-apply", "apply an approved password restore, once")):  # fmt: skip
            sub_parser = sub.add_parser(name, help=text)
            sub_parser.add_argument("revert", type=int)
            sub_parser.add_argument("--user", required=True)
        revert_status = sub.add_parser("revert-status", help="a password restore's state and outcome")
        revert_status.add_argument("revert", type=int)
        reset = sub.add_parser(
            "reset",
            help="E02: a plan resetting a lost password after the working group's consent (第二十八条第2项)",
        )
        reset.add_argument("--case", type=int, required=True, help="the open E02 case (遗忘/联系不上)")
        reset.add_argument("--user", required=True, help="the login asking (another approves the plan)")
        disable = sub.add_parser(
            "disable", help="ask to disable the account of a 表11 停用 row (第二十六条第3项 A)"
        )
        disable.add_argument("--row", type=int, required=True, help="the 表11 row (its id)")
        disable.add_argument("--user", required=True, help="the login asking")
        for name, text in (("disable-approve", "approve a 停用 (not the person who asked)"),
                           ("disable-apply", "disable the account on its system, once")):  # fmt: skip
            sub_parser = sub.add_parser(name, help=text)
            sub_parser.add_argument("disable", type=int)
            sub_parser.add_argument("--user", required=True)
        disable_restore = sub.add_parser(
            "disable-restore", help="E03: bring a disabled account back as it was"
        )
        disable_restore.add_argument("disable", type=int)
        disable_restore.add_argument(
            "--case", type=int, required=True, help="the open E03 case of its 表11 row"
        )
        disable_restore.add_argument("--user", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        with domain_run():
            {
                "plan": self._plan_create,
                "approve": self._approve,
                "run": self._run,
                "status": self._status,
                "restore": self._restore,
                "restore-approve": self._restore_approve,
                "restore-apply": self._restore_apply,
                "restore-status": self._restore_status,
                "revert": self._revert,
                "revert-approve": self._revert_approve,
                "revert-apply": self._revert_apply,
                "revert-status": self._revert_status,
                "reset": self._reset,
                "disable": self._disable,
                "disable-approve": self._disable_approve,
                "disable-apply": self._disable_apply,
                "disable-restore": self._disable_restore,
            }[options["action"]](options)

    @staticmethod
    def _user(name: str) -> Any:
        user = get_user_model().objects.filter(username=name, is_active=True).first()
        if user is None:
            raise CommandError(f"--user {name}: no active login of that name")
        return user

    @staticmethod
    def _plan(pk: int) -> RotationPlan:
        plan = RotationPlan.objects.filter(pk=pk).first()
        if plan is None:
            raise CommandError(f"no rotation plan {pk}")
        return plan

    def _plan_create(self, options: dict[str, Any]) -> None:
        engagement = Engagement.objects.filter(code=options["engagement"]).first()
        if engagement is None:
            raise CommandError(f"no engagement with the code {options['engagement']}")
        site = None
        if options["site"]:
            site = Site.objects.filter(engagement=engagement, code=options["site"]).first()
            if site is None:
                raise CommandError(f"no site {options['site']} in {engagement.code}")
        plan = services.plan_create(
            actor=self._user(options["user"]),
            engagement=engagement,
            site=site,
            reason=options["reason"],
            concurrency=options["concurrency"],
            per_site=options["per_site"],
            config_paths=options["config_paths"],
            due_only=options["due_only"],
        )
        self.stdout.write(f"plan {plan.pk}: {plan.items.count()} accounts; approve it as another person")

    def _approve(self, options: dict[str, Any]) -> None:
        plan = services.plan_approve(actor=self._user(options["user"]), plan=self._plan(options["plan"]))
        self.stdout.write(f"plan {plan.pk} approved by {plan.approved_by_name}")

    def _run(self, options: dict[str, Any]) -> None:
        plan = services.plan_run(plan_id=self._plan(options["plan"]).pk)
        self._status({"plan": plan.pk})

    def _status(self, options: dict[str, Any]) -> None:
        plan = self._plan(options["plan"])
        self.stdout.write(f"plan {plan.pk}: {plan.state}")
        for item in plan.items.select_related("target__asset").order_by("pk"):
            outcome = item.outcome or "-"
            self.stdout.write(
                f"{item.target.asset.hostname}\t{item.login_name}\t{item.state}\t{outcome}\t{item.reason}"
            )

    @staticmethod
    def _restore_get(pk: int) -> Restore:
        found = Restore.objects.filter(pk=pk).first()
        if found is None:
            raise CommandError(f"no restore {pk}")
        return found

    def _restore(self, options: dict[str, Any]) -> None:
        engagement = Engagement.objects.filter(code=options["engagement"]).first()
        if engagement is None:
            raise CommandError(f"no engagement with the code {options['engagement']}")
        target = Target.objects.filter(
            engagement=engagement, system__name=options["system"], asset__hostname=options["host"]
        ).first()
        if target is None:
            raise CommandError(
                f"no discovery target {options['host']} of {options['system']} in {engagement.code}"
            )
        backup = None
        if options["backup"]:
            backup = Snapshot.objects.filter(
                target=target, sha256__startswith=options["backup"].lower()
            ).first()
            if backup is None:
                raise CommandError(
                    f"--backup {options['backup']}: no snapshot of {options['host']} with that SHA"
                )
        actor = self._user(options["user"])
        for item in discovery_restore_preview(actor=actor, target=target, backup=backup):
            if item["state"] == "same":
                continue
            sealed = " (sealed: compared by digest only)" if item["sealed"] else ""
            self.stdout.write(f"{item['state']}\t{item['name']}{sealed}")
            for line in item["diff"]:
                self.stdout.write(f"    {line}")
        restore = restores.restore_request(
            actor=actor, target=target, reason=options["reason"], names=options["files"], backup=backup
        )
        if any(f["action"] == "replay" for f in restore.files):
            for item in restores.accounts_diff(restore.backup, restore.current):
                self.stdout.write(f"  {item['state']}\taccount {item['account']}")
        self.stdout.write(f"restore {restore.pk}: {len(restore.files)} files; approve it as another person")

    def _restore_approve(self, options: dict[str, Any]) -> None:
        restore = restores.restore_approve(
            actor=self._user(options["user"]), restore=self._restore_get(options["restore"])
        )
        self.stdout.write(f"restore {restore.pk} approved by {restore.approved_by_name}")

    def _restore_apply(self, options: dict[str, Any]) -> None:
        restore = restores.restore_apply(
            actor=self._user(options["user"]), restore=self._restore_get(options["restore"])
        )
        self._restore_status({"restore": restore.pk})
        if restore.state != "applied":
            raise CommandError(f"restore {restore.pk} failed: see each file above")

    def _restore_status(self, options: dict[str, Any]) -> None:
        restore = self._restore_get(options["restore"])
        self.stdout.write(f"restore {restore.pk}: {restore.state}")
        for item in restore.files:
            got = restore.outcome.get(item["name"], {})
            self.stdout.write(
                f"{item['action']}\t{item['name']}\t{got.get('state', '-')}\t{got.get('reason', '')}"
            )

    @staticmethod
    def _revert_get(pk: int) -> Revert:
        found = Revert.objects.filter(pk=pk).select_related("item__target__asset").first()
        if found is None:
            raise CommandError(f"no password restore {pk}")
        return found

    def _revert(self, options: dict[str, Any]) -> None:
        from handover.workflow.models import ExceptionCase

        case = ExceptionCase.objects.filter(pk=options["case"]).first()
        if case is None:
            raise CommandError(f"--case {options['case']}: no such exception case")
        revert = reverts.revert_request(
            actor=self._user(options["user"]), case=case, reason=options["reason"]
        )
        self.stdout.write(
            f"password restore {revert.pk}: {revert.item.login_name} to vault v{revert.previous_number}; "
            "approve it as another person"
        )

    def _revert_approve(self, options: dict[str, Any]) -> None:
        revert = reverts.revert_approve(
            actor=self._user(options["user"]), revert=self._revert_get(options["revert"])
        )
        self.stdout.write(f"password restore {revert.pk} approved by {revert.approved_by_name}")

    def _revert_apply(self, options: dict[str, Any]) -> None:
        revert = reverts.revert_apply(
            actor=self._user(options["user"]), revert=self._revert_get(options["revert"])
        )
        self._revert_status({"revert": revert.pk})
        if revert.state != "applied":
            raise CommandError(f"password restore {revert.pk}: {revert.state}: {revert.detail}")

    def _revert_status(self, options: dict[str, Any]) -> None:
        revert = self._revert_get(options["revert"])
        row = revert.row_id or "-"
        self.stdout.write(
            f"password restore {revert.pk}: {revert.state}\t{revert.item.target.asset.hostname}\t"
            f"{revert.item.login_name}\t{revert.outcome or '-'}\t表10 row {row}\t{revert.detail}"
        )

    @staticmethod
    def _disable_get(pk: int) -> Disablement:
        found = Disablement.objects.filter(pk=pk).select_related("target__asset").first()
        if found is None:
            raise CommandError(f"no 停用 {pk}")
        return found

    def _disable_line(self, found: Disablement) -> None:
        self.stdout.write(
            f"停用 {found.pk}: {found.state}\t{found.target.asset.hostname}\t{found.login_name}\t"
            f"until {found.observe_until}\t{found.detail}"
        )

    def _disable(self, options: dict[str, Any]) -> None:
        from handover.registers.models import Row

        row = Row.objects.filter(pk=options["row"]).select_related("form").first()
        if row is None:
            raise CommandError(f"--row {options['row']}: no such register row")
        self._disable_line(disables.disable_request(actor=self._user(options["user"]), row=row))

    def _disable_approve(self, options: dict[str, Any]) -> None:
        found = disables.disable_approve(
            actor=self._user(options["user"]), disablement=self._disable_get(options["disable"])
        )
        self._disable_line(found)

    def _disable_apply(self, options: dict[str, Any]) -> None:
        found = disables.disable_apply(
            actor=self._user(options["user"]), disablement=self._disable_get(options["disable"])
        )
        self._disable_line(found)
        if found.state != "disabled":
            raise CommandError(f"停用 {found.pk}: {found.state}: {found.detail}")

    def _disable_restore(self, options: dict[str, Any]) -> None:
        from handover.workflow.models import ExceptionCase

        case = ExceptionCase.objects.filter(pk=options["case"]).first()
        if case is None:
            raise CommandError(f"--case {options['case']}: no such exception case")
        found = disables.disable_restore(
            actor=self._user(options["user"]), disablement=self._disable_get(options["disable"]), case=case
        )
        self._disable_line(found)
        if found.state != "restored":
            raise CommandError(f"停用 {found.pk}: not restored: {found.detail}")

    def _reset(self, options: dict[str, Any]) -> None:
        from handover.rotation import reconcile
        from handover.workflow.models import ExceptionCase

        case = ExceptionCase.objects.filter(pk=options["case"]).first()
        if case is None:
            raise CommandError(f"--case {options['case']}: no such exception case")
        plan = reconcile.reconcile_plan(actor=self._user(options["user"]), case=case)
        self.stdout.write(
            f"plan {plan.pk}: reset of {plan.items.get().login_name}; approve it as another person"
        )
