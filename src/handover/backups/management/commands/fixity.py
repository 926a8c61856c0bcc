"""``handover fixity import|enroll|issue|keys|revoke``: bundles that came by courier, and the sites' keys.

``import FILE --courier-no N`` is the path of 第二十八条第8项: a branch that cannot upload sends the bundle
on a medium, and 技术组 imports it here. Without ``--user`` the import is done by the system actor
``system:fixity-import(<login of whoever ran the command>)``, so the audit trail says who imported.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.backups import services
from handover.backups.models import ImportVia, KeySource, SiteKey
from handover.cli.base import domain_run
from handover.core.actors import system
from handover.org.models import Engagement, Site


class Command(BaseCommand):
    help = "Import fixity bundles that came by courier, and enrol or issue the field agents' site keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import a bundle file (exit 1 if refused, with the reason)")
        imp.add_argument("file", metavar="FILE")
        imp.add_argument("--courier-no", default="", help="the courier's number (第二十八条第8项)")
        imp.add_argument(
            "--network", action="store_true", help="the file came over the network, not by courier"
        )
        imp.add_argument("--user", help="import as this login (default: the system actor)")
        enrol = sub.add_parser(
            "enroll", help="register a public key file made by 'handover-agent enroll --export'"
        )
        enrol.add_argument("file", metavar="FILE")
        enrol.add_argument("--engagement", required=True, metavar="CODE")
        enrol.add_argument("--label", default="")
        issue = sub.add_parser("issue", help="make a site key here and write the key file to hand over")
        issue.add_argument("--engagement", required=True, metavar="CODE")
        issue.add_argument("--site", required=True, metavar="CODE")
        issue.add_argument("-o", "--output", required=True, metavar="FILE", help="written with mode 0600")
        issue.add_argument("--label", default="")
        keys = sub.add_parser("keys", help="list the enrolled keys of an engagement")
        keys.add_argument("--engagement", required=True, metavar="CODE")
        revoke = sub.add_parser("revoke", help="revoke a site key by its id")
        revoke.add_argument("key_id")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        with domain_run():
            getattr(self, f"_{action}")(options)

    def _actor(self, options: dict[str, Any], what: str) -> Any:
        if options.get("user"):
            user = get_user_model().objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"--user {options['user']}: no active login of that name")
            return user
        return system(f"{what}({getpass.getuser()})")

    @staticmethod
    def _engagement(code: str) -> Engagement:
        engagement = Engagement.objects.filter(code=code).first()
        if engagement is None:
            raise CommandError(f"no engagement with the code {code}")
        return engagement

    def _import(self, options: dict[str, Any]) -> None:
        via = ImportVia.API if options["network"] else ImportVia.COURIER
        if via == ImportVia.COURIER and not options["courier_no"]:
            raise CommandError("a bundle that came by courier needs --courier-no (or say --network)")
        try:
            source = open(options["file"], "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror or exc}") from exc
        with source:
            result = services.bundle_import(
                actor=self._actor(options, "fixity-import"), source=source, via=via,
                courier_no=options["courier_no"],
            )  # fmt: skip
        bundle = result.bundle
        if not result.created:
            self.stdout.write(
                f"bundle {bundle.digest[:12]} was imported on {bundle.imported_at:%Y-%m-%d %H:%M}; nothing changed"
            )
            return
        rows = sum(len(v) for v in bundle.summary.get("rows", {}).values())
        self.stdout.write(
            f"bundle {bundle.digest[:12]} of site {bundle.site.code} imported: {bundle.reports} reports,"
            f" {bundle.problems} problems, {rows} register rows, {len(bundle.summary.get('exceptions', []))}"
            " 表39 drafts" + ("; SIGNS OF TAMPERING: report to 托管工作组 at once" if bundle.tamper else "")
        )

    def _enroll(self, options: dict[str, Any]) -> None:
        try:
            text = Path(options["file"]).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror or exc}") from exc
        key = services.site_key_enrol(
            actor=self._actor(options, "cli"), engagement=self._engagement(options["engagement"]),
            document=text, label=options["label"], source=KeySource.FILE,
        )  # fmt: skip
        self.stdout.write(f"key {key.key_id} enrolled for site {key.site.code}")

    def _issue(self, options: dict[str, Any]) -> None:
        engagement = self._engagement(options["engagement"])
        site = Site.objects.filter(engagement=engagement, code=options["site"]).first()
        if site is None:
            raise CommandError(f"no site {options['site']} in {engagement.code}")
        output = Path(options["output"])
        if output.exists():
            raise CommandError(f"{output} exists: a key file is never overwritten")
        key, text = services.site_key_issue(
            actor=self._actor(options, "cli"), engagement=engagement, site=site, label=options["label"]
        )
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        self.stdout.write(
            f"key {key.key_id} for site {site.code} written to {output}: hand it over in person;"
            " at the site run 'handover-agent enroll --key-file FILE', then destroy the file"
        )

    def _keys(self, options: dict[str, Any]) -> None:
        for key in SiteKey.objects.filter(engagement=self._engagement(options["engagement"])).select_related(
            "site"
        ):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            self.stdout.write(f"{key.key_id}\t{key.site.code}\t{key.source}\t{state}\t{key.label}")

    def _revoke(self, options: dict[str, Any]) -> None:
        key = SiteKey.objects.filter(key_id=options["key_id"]).select_related("site", "engagement").first()
        if key is None:
            raise CommandError(f"no key {options['key_id']}")
        services.site_key_revoke(actor=self._actor(options, "cli"), key=key)
        self.stdout.write(f"key {key.key_id} of site {key.site.code} revoked")
