"""``handover discovery import|gather|findings``: offline files, live runs and the review's findings.

Without ``--user`` the work is done by the system actor ``system:discovery(<login of whoever ran it>)``, so
the audit trail says who. A refusal (a bad line, a sealed vault, an unknown kind) exits 1 with its reason.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.cli.base import domain_run
from handover.core.actors import system
from handover.discovery import selectors, services
from handover.discovery.models import TargetOutcome
from handover.org.models import Engagement, Site
from handover.registers.models import InformationSystem


class Command(BaseCommand):
    help = "Import account files, gather live targets, and list the review's findings (第二十六条第2、3项)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a file or folder read by a connector (exit 1 if refused)")
        imp.add_argument("path", metavar="PATH")
        imp.add_argument("--engagement", required=True, metavar="CODE")
        imp.add_argument("--site", required=True, metavar="SITE")
        imp.add_argument("--system", required=True, metavar="NAME")
        imp.add_argument(
            "--kind", required=True, help="linux, ldif, oracle-spool, windows, huawei, cisco, operators"
        )
        imp.add_argument("--host", default="", help="the host's name (default: from the file)")
        imp.add_argument("--user", help="import as this login (default: the system actor)")
        gather = sub.add_parser(
            "gather", help="gather the live targets in scope now (the vault must be unsealed)"
        )
        gather.add_argument("--engagement", required=True, metavar="CODE")
        gather.add_argument("--site", metavar="SITE")
        gather.add_argument("--system", metavar="NAME")
        gather.add_argument("--user", help="gather as this login (default: the system actor)")
        bundle = sub.add_parser(
            "bundle", help="import a signed discovery bundle of handover-agent (exactly once)"
        )
        bundle.add_argument("file", metavar="FILE")
        bundle.add_argument("--user", help="import as this login (default: the system actor)")
        diff = sub.add_parser("restore-preview", help="what changed on a host since its permission backup")
        diff.add_argument("--engagement", required=True, metavar="CODE")
        diff.add_argument("--system", required=True, metavar="NAME")
        diff.add_argument("--host", required=True)
        findings = sub.add_parser("findings", help="list the open findings")
        findings.add_argument("--engagement", required=True, metavar="CODE")
        findings.add_argument("--site", metavar="SITE")
        findings.add_argument("--rule", default="")
        findings.add_argument(
            "--json", metavar="FILE", help="write them as JSON to FILE ('-': standard output)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with domain_run():
            getattr(self, f"_{options['action'].replace('-', '_')}")(options)

    def _actor(self, options: dict[str, Any]) -> Any:
        if options.get("user"):
            user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"--user {options['user']}: no active login of that name")
            return user
        return system(f"discovery({getpass.getuser()})")

    @staticmethod
    def _engagement(code: str) -> Engagement:
        engagement = Engagement.objects.filter(code=code).first()
        if engagement is None:
            raise CommandError(f"no engagement with the code {code}")
        return engagement

    @staticmethod
    def _site(engagement: Engagement, code: str | None) -> Site | None:
        if not code:
            return None
        site = Site.objects.filter(engagement=engagement, code=code).first()
        if site is None:
            raise CommandError(f"no site {code} in {engagement.code}")
        return site

    def _import(self, options: dict[str, Any]) -> None:
        engagement = self._engagement(options["engagement"])
        site = self._site(engagement, options["site"])
        assert site is not None
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path}: no such file or folder")
        result = services.discovery_import(
            actor=self._actor(options),
            engagement=engagement,
            site=site,
            system_name=options["system"],
            kind=options["kind"],
            path=path,
            host=options["host"],
        )
        counts = result.counts
        self.stdout.write(
            f"{path} imported as {result.snapshot.target}: snapshot {result.snapshot.sha256[:12]},"
            f" {result.snapshot.facts.count()} accounts, {counts.get('findings', 0)} findings,"
            f" drafts 表8 {counts.get('rows_8', 0)} 表9 {counts.get('rows_9', 0)}"
            f" 表11 {counts.get('rows_11', 0)} 表12 {counts.get('rows_12', 0)}"
        )

    def _bundle(self, options: dict[str, Any]) -> None:
        from handover.discovery.bundles import discovery_bundle_import

        try:
            source = open(options["file"], "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror or exc}") from exc
        with source:
            result = discovery_bundle_import(actor=self._actor(options), source=source)
        bundle = result.bundle
        if not result.created:
            self.stdout.write(
                f"bundle {bundle.digest[:12]} was imported on {bundle.imported_at:%Y-%m-%d %H:%M}; nothing changed"
            )
            return
        self.stdout.write(
            f"bundle {bundle.digest[:12]} of site {bundle.site.code} imported: {len(bundle.runs)} inventories"
        )

    def _restore_preview(self, options: dict[str, Any]) -> None:
        from handover.discovery.models import Target

        engagement = self._engagement(options["engagement"])
        targets = Target.objects.filter(
            engagement=engagement, system__name=options["system"], asset__hostname=options["host"]
        )
        if not targets:
            raise CommandError(
                f"no discovery target {options['host']} of {options['system']} in {engagement.code}"
            )
        for target in targets:
            self.stdout.write(f"{target}:")
            for item in services.discovery_restore_preview(actor=system("cli"), target=target):
                sealed = " (sealed: compared by digest only)" if item["sealed"] else ""
                self.stdout.write(f"  {item['state']}\t{item['name']}{sealed}")
                for line in item["diff"]:
                    self.stdout.write(f"    {line}")
        self.stdout.write(
            "to put a Linux host's files back: handover rotation restore (approved by a second person)"
        )

    def _gather(self, options: dict[str, Any]) -> None:
        engagement = self._engagement(options["engagement"])
        site = self._site(engagement, options.get("site"))
        found = None
        if options.get("system"):
            systems = InformationSystem.objects.filter(engagement=engagement, name=options["system"])
            if site is not None:
                systems = systems.filter(site=site)
            found = systems.first()
            if found is None:
                raise CommandError(f"no system {options['system']} in {engagement.code}")
        actor = self._actor(options)
        run = services.run_start(actor=actor, engagement=engagement, site=site, system=found, enqueue=False)
        run = services.run_execute(run_id=run.pk)
        self.stdout.write(f"run {run.pk}: {run.state}")
        for outcome in TargetOutcome.objects.filter(run=run).select_related("target__asset"):
            reason = f" {outcome.reason_zh}" if outcome.reason_zh else ""
            self.stdout.write(f"  {outcome.target}\t{outcome.status or 'queued'}{reason}")

    def _findings(self, options: dict[str, Any]) -> None:
        engagement = self._engagement(options["engagement"])
        site = self._site(engagement, options.get("site"))
        found = selectors.findings_list(
            user=system("cli"), engagement=engagement, site=site, rule=options["rule"]
        )
        items = [selectors.finding_export(f) for f in found]
        if options.get("json"):
            text = json.dumps(items, ensure_ascii=False, indent=2)
            if options["json"] == "-":
                self.stdout.write(text)
            else:
                Path(options["json"]).write_text(text + "\n", encoding="utf-8")
                self.stdout.write(f"{len(items)} findings written to {options['json']}")
            return
        for item in items:
            self.stdout.write(
                f"{item['rule']}\t{item['system']}\t{item['host']}\t{item['account']}\t{item['detail']['zh']}"
            )
        self.stdout.write(f"{len(items)} findings")
