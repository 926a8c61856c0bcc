"""``handover person link|unlink``: 技术组 links a login account to a person of an engagement, or removes it.

``--user`` names the acting login, as in ``handover fixity`` and ``handover package``; here it is required,
because a link hands the login the person's roles and the decision must be a 技术组 member's (第十二条,
第十五条第3项), written to the trail under their name. ``--login`` is the account being linked.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from handover.cli.base import domain_run
from handover.org import services
from handover.org.models import Engagement, Person


class Command(BaseCommand):
    help = "Link a login account to a person of an engagement (技术组 only), or remove the link."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        link = sub.add_parser("link", help="the login then acts with the person's roles")
        unlink = sub.add_parser(
            "unlink", help="the login keeps working but acts for nobody in the engagement"
        )
        for command in (link, unlink):
            command.add_argument("--engagement", required=True, metavar="CODE")
            command.add_argument("--person", required=True, type=int, metavar="ID", help="the person's id")
            command.add_argument("--user", required=True, metavar="LOGIN", help="the acting 技术组 login")
        link.add_argument("--login", required=True, metavar="LOGIN", help="the login account to link")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._login(options["user"], "--user")
        engagement = Engagement.objects.filter(code=options["engagement"]).first()
        if engagement is None:
            raise CommandError(_("No engagement with the code %(code)s.") % {"code": options["engagement"]})
        person = Person.objects.filter(engagement=engagement, pk=options["person"]).first()
        if person is None:
            raise CommandError(
                _("No person %(id)s in the engagement %(code)s.")
                % {"id": options["person"], "code": engagement.code}
            )
        with domain_run():
            if options["action"] == "link":
                login = self._login(options["login"], "--login", active=False)
                services.person_link_login(actor=actor, person=person, user=login)
                self.stdout.write(f"{person.name} (#{person.pk}) ← {login.get_username()}")
            else:
                services.person_unlink_login(actor=actor, person=person)
                self.stdout.write(f"{person.name} (#{person.pk}): -")

    @staticmethod
    def _login(username: str, option: str, *, active: bool = True) -> Any:
        """The named login; the acting one must be active (a disabled login to link is the service's refusal)."""
        users = get_user_model().objects.filter(username=username)
        user = (users.filter(is_active=True) if active else users).first()
        if user is None:
            names = {"option": option, "login": username}
            if active:
                raise CommandError(_("%(option)s %(login)s: no active login account of that name.") % names)
            raise CommandError(_("%(option)s %(login)s: no login account of that name.") % names)
        return user
