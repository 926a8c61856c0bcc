"""``handover registers template|import|export``: the registers' files from the command line.

The command speaks the deployment's language (Chinese first, DESIGN.md decision 8), since its errors are
read by the people who fix the file. It acts as the deployment itself (the audit trail names it).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation
from django.utils.translation import gettext as _

from handover.cli.base import refusal
from handover.core.actors import system
from handover.core.context import command_context
from handover.core.errors import DomainError
from handover.org.models import Engagement, Site
from handover.registers import catalogue
from handover.registers.io.exporting import FORMATS, register_export
from handover.registers.io.importing import ImportRefused, register_import
from handover.registers.io.template import template_csv, template_xlsx


class Command(BaseCommand):
    help = "Write a register's template, import a filled file into a site's form, or export a register."
    leave_locale_alone = True

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        template = sub.add_parser("template", help="write the blank template of 表N (xlsx, or CSV by suffix)")
        template.add_argument("--register", type=int, required=True, help="1 to 41")
        template.add_argument("-o", "--output", required=True, help="file to write (.xlsx or .csv)")
        imp = sub.add_parser("import", help="import a filled xlsx, ods, xls or CSV file: all rows or none")
        imp.add_argument("--engagement", required=True, help="the engagement's code")
        imp.add_argument("--site", required=True, help="the site's code")
        imp.add_argument("--register", type=int, required=True, help="1 to 41")
        imp.add_argument("--errors", help="write the failed rows to this xlsx when the file is refused")
        imp.add_argument("file")
        exp = sub.add_parser("export", help="export 表N in the official frame")
        exp.add_argument("--engagement", required=True, help="the engagement's code")
        exp.add_argument("--register", type=int, required=True, help="1 to 41")
        exp.add_argument("--site", help="only this site's forms (code); default: every site")
        exp.add_argument("--format", choices=FORMATS, default="xlsx")
        exp.add_argument("-o", "--output", required=True, help="file to write")

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate(settings.LANGUAGE_CODE)
        try:
            catalogue.get(options["register"])
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from None
        with command_context("cli"):
            try:
                getattr(self, f"_{options['action']}")(options)
            except ImportRefused as refused:
                self._refused(refused, options)
            except DomainError as exc:
                raise refusal(exc) from exc

    def _template(self, options: dict[str, Any]) -> None:
        path = Path(options["output"])
        if path.suffix.lower() == ".csv":
            with path.open("wb") as out:
                template_csv(options["register"], out)
        else:
            template_xlsx(options["register"], str(path))
        self.stdout.write(
            _("Template of %(title)s written to %(path)s")
            % {"title": catalogue.get(options["register"]).title, "path": path}
        )

    @staticmethod
    def _where(code: str, site_code: str | None) -> tuple[Engagement, Site | None]:
        engagement = Engagement.objects.filter(code=code).first()
        if engagement is None:
            raise CommandError(_("No engagement with the code %(code)s.") % {"code": code})
        if site_code is None:
            return engagement, None
        site = Site.objects.filter(engagement=engagement, code=site_code).first()
        if site is None:
            raise CommandError(
                _("No site with the code %(site)s in %(code)s.") % {"site": site_code, "code": code}
            )
        return engagement, site

    def _import(self, options: dict[str, Any]) -> None:
        engagement, site = self._where(options["engagement"], options["site"])
        assert site is not None
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        result = register_import(
            actor=system("cli"),
            engagement=engagement,
            site=site,
            register_no=options["register"],
            filename=path.name,
            content=content,
        )
        for line in result.lines():
            self.stdout.write(line)
        if result.created:
            self.stdout.write(_("Created: 序号 %(rows)s") % {"rows": _ranges(result.created)})
        if result.updated:
            self.stdout.write(_("Updated: 序号 %(rows)s") % {"rows": _ranges(result.updated)})

    def _refused(self, refused: ImportRefused, options: dict[str, Any]) -> None:
        self.stderr.write(str(refused.message))
        for issue in refused.issues:
            self.stderr.write(str(issue))
        if options.get("errors"):
            Path(options["errors"]).write_bytes(refused.error_workbook())
            self.stderr.write(_("The failed rows are in %(path)s") % {"path": options["errors"]})
        sys.exit(1)

    def _export(self, options: dict[str, Any]) -> None:
        engagement, site = self._where(options["engagement"], options.get("site"))
        path = Path(options["output"])
        with path.open("wb") as out:
            summary = register_export(
                actor=system("cli"),
                engagement=engagement,
                register_no=options["register"],
                site=site,
                fmt=options["format"],
                out=out,
            )
        self.stdout.write(
            _("%(title)s: %(forms)d forms, %(rows)d rows written to %(path)s")
            % {
                "title": catalogue.get(options["register"]).title,
                "forms": len(summary.forms),
                "rows": summary.rows,
                "path": path,
            }
        )


def _ranges(numbers: list[int]) -> str:
    """1, 2, 3, 5 → "1–3, 5"."""
    parts: list[str] = []
    ordered = sorted(numbers)
    start = prev = ordered[0]
    for n in [*ordered[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)
