"""``handover login create|reset|approve``: the system administrator creates or resets a login; a second 技术组
member approves a guarded reset. What comes out is a one-time enrolment code, printed once, for the holder.

``--user`` names the acting login (its roles decide, and the trail records it), as in ``handover person``.
Nobody gets a password here: the holder sets their own at /accounts/enrol/ (docs/access-policy.md).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from handover.accounts import enrolment
from handover.accounts import services as accounts
from handover.accounts.models import EnrolmentCode, EnrolmentKind, User
from handover.cli.base import domain_run


class Command(BaseCommand):
    help = "Create or reset a login (system administrator), or approve a guarded reset (技术组)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="a new login; prints its enrolment code once")
        reset = sub.add_parser("reset", help="withdraw a login's credentials; its holder enrols again")
        approve = sub.add_parser(
            "approve", help="approve the waiting reset of a login (a second 技术组 member)"
        )
        for command in (create, reset, approve):
            command.add_argument("--user", required=True, metavar="LOGIN", help="the acting login")
            command.add_argument("--login", required=True, metavar="LOGIN", help="the login created or reset")
        create.add_argument("--display-name", default="", metavar="NAME")
        reset.add_argument("--factor-only", action="store_true", help="reset the second factor only")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = User.objects.filter(username=options["user"], is_active=True).first()
        if actor is None:
            raise CommandError(
                _("--user %(login)s: no active login account of that name.") % {"login": options["user"]}
            )
        with domain_run():
            issued = getattr(self, f"_{options['action']}")(actor, options)
        if issued.code is None:
            self.stdout.write(
                _(
                    "%(login)s holds vault or signing roles: the reset waits for a second 技术组 member "
                    "(handover login approve)."
                )
                % {"login": options["login"]}
            )
            return
        self.stdout.write(
            _("Enrolment code for %(login)s (shown once, valid until %(expires)s): %(code)s")
            % {"login": options["login"], "expires": issued.enrolment.expires_at, "code": issued.code}
        )
        self.stdout.write(_("The holder enters it at /accounts/enrol/."))

    @staticmethod
    def _target(options: dict[str, Any]) -> User:
        user = User.objects.filter(username=options["login"]).first()
        if user is None:
            raise CommandError(
                _("--login %(login)s: no login account of that name.") % {"login": options["login"]}
            )
        return user

    def _create(self, actor: User, options: dict[str, Any]) -> enrolment.Issued:
        _user, issued = accounts.user_create(
            actor=actor, username=options["login"], display_name=options["display_name"]
        )
        return issued

    def _reset(self, actor: User, options: dict[str, Any]) -> enrolment.Issued:
        kind = EnrolmentKind.FACTOR_RESET if options["factor_only"] else EnrolmentKind.RESET
        return enrolment.login_reset(actor=actor, user=self._target(options), kind=kind)

    def _approve(self, actor: User, options: dict[str, Any]) -> enrolment.Issued:
        waiting = (
            EnrolmentCode.objects.filter(
                user=self._target(options),
                needs_approval=True,
                approved_by__isnull=True,
                cancelled_at__isnull=True,
            )
            .order_by("-created_at")
            .first()
        )
        if waiting is None:
            raise CommandError(
                _("No reset of %(login)s is waiting for approval.") % {"login": options["login"]}
            )
        return enrolment.login_reset_approve(actor=actor, enrolment=waiting)
