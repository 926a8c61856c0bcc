"""``handover package build|verify|public-key``: the 表24 handover package from the command line.

``build --engagement CODE --user LOGIN -o FILE [--residual-risk TEXT] [--hash sha256|sm3]`` builds, records
and copies the package as the 技术组 member LOGIN, who signs 表24 as its compiler (refused without one, and
while sites are not done unless a residual-risk reason is stated, 第二十七条第4项). It runs the build the
page hands to the task worker, here in this process, with its progress (sites whose annexes are ready) on
standard error.
``verify FILE [--public-key PEM] [--addendum FILE]`` is the offline verifier (``handover.reports.verify``);
``handover`` runs it before Django is set up, so it needs no settings and no database.
``public-key`` prints the server's package key in PEM, to hand to whoever verifies.
``sweep`` removes what killed builds left (``.build-*`` folders, zips without a record) and marks their builds
interrupted; ``handover worker`` runs it when it starts.
"""

from __future__ import annotations

import getpass
import io
import shutil
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from handover.cli.base import domain_run
from handover.core.actors import Actor, system
from handover.org.models import Engagement
from handover.reports import services, verify


class Command(BaseCommand):
    help = "Build, verify and print the key of the 表24 handover package."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        build = sub.add_parser("build", help="build the package of an engagement and copy it to FILE")
        build.add_argument("--engagement", required=True, metavar="CODE")
        build.add_argument("-o", "--output", required=True, metavar="FILE")
        build.add_argument(
            "--residual-risk", default="", metavar="TEXT", help="needed while sites are not done"
        )
        build.add_argument(
            "--summary", default="", metavar="TEXT", help="表24's overall summary (第二十七条第3项)"
        )
        build.add_argument("--hash", default="sha256", choices=verify.ALGORITHMS)
        build.add_argument(
            "--user", help="the 技术组 login that compiles and signs 表24 (a build without one is refused)"
        )
        check = sub.add_parser("verify", help="check a package offline (exit 0 only when intact)")
        check.add_argument("file", metavar="FILE")
        check.add_argument("--public-key", metavar="PEM")
        check.add_argument("--audit-public-key", metavar="PEM")
        check.add_argument("--trust-embedded-key", action="store_true")
        check.add_argument("--addendum", metavar="FILE")
        sub.add_parser("public-key", help="print the server's package key (PEM)")
        sub.add_parser("sweep", help="remove what killed builds left; the task worker runs it at start")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "verify":
            argv = [options["file"]]
            if not options["audit_public_key"] and settings.HANDOVER_AUDIT_PUBLIC_KEY:
                options["audit_public_key"] = str(settings.HANDOVER_AUDIT_PUBLIC_KEY)
            for name in ("public_key", "audit_public_key", "addendum"):
                if options[name]:
                    argv += [f"--{name.replace('_', '-')}", options[name]]
            if options["trust_embedded_key"]:
                argv.append("--trust-embedded-key")
            printed = io.StringIO()
            code = verify.main(argv, out=printed)
            self.stdout.write(printed.getvalue(), ending="")
            if code:
                raise CommandError("the package is not intact", returncode=code)
            return
        if action == "public-key":
            self.stdout.write(services.package_public_key_pem(), ending="")
            return
        if action == "sweep":
            for name in services.package_sweep():
                self.stdout.write(f"removed {name}")
            return
        with domain_run():
            self._build(options)

    def _progress(self, done: int, total: int) -> None:
        """One line per tenth of the sites (and the first and last), so a log of the night stays short."""
        step = max(1, total // 10)
        if done in (0, total) or done % step == 0:
            self.stderr.write(f"annexes: {done} of {total} sites")

    def _build(self, options: dict[str, Any]) -> None:
        engagement = Engagement.objects.filter(code=options["engagement"]).first()
        if engagement is None:
            raise CommandError(f"no engagement with the code {options['engagement']}")
        actor: Actor = system(f"package-build({getpass.getuser()})")
        if options["user"]:
            login = get_user_model().objects.filter(username=options["user"], is_active=True).first()
            if login is None:
                raise CommandError(f"--user {options['user']}: no active login of that name")
            actor = login
        package = services.package_build(
            actor=actor,
            engagement=engagement,
            residual_risk=options["residual_risk"],
            algorithm=options["hash"],
            summary=options["summary"],
            progress=self._progress,
        )
        shutil.copyfile(services.package_path(package), options["output"])
        self.stdout.write(f"{options['output']}: {package.files} files, sha256 {package.digest}")
