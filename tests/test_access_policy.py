"""Walks every URL of the site with every role and checks allowed/denied against the one written policy:
each view's declared capability (web.access.needs / the API views' read_capability) and
org.permissions.ROLE_CAPABILITIES, with site scope (a role at a site covers its subtree only)."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from handover.audit.services import event_record
from handover.core.actors import system
from handover.org import permissions as perms
from handover.org.models import Role, RoleAssignment
from handover.registers import attachments
from handover.registers.models import ImportJob, ImportState, Row
from handover.vault import lifecycle
from handover.vault.models import RevealRequest
from handover.web.access import AUTHENTICATED, PUBLIC
from tests.discovery.scenery import discovery_scenery
from tests.factories import World, register_form, t8_values

ROLES = {  # name → (role, where): "a" = branch A (the tests' "own" branch), None = engagement-wide
    "tech": (Role.TECH_GROUP, None),
    "onsite_a": (Role.ONSITE_POST, "a"),
    "firm_it_a": (Role.FIRM_IT, "a"),
    "finance_a": (Role.FIRM_FINANCE, "a"),
    "observer": (Role.OBSERVER, None),
    "auditor": (Role.AUDITOR, None),
    "sysadmin": (Role.SYSADMIN, None),
    "outsider": (None, None),
    "anonymous": (None, None),
}
TARGETS = ("a", "b")  # each object-bearing URL is tried on an object at branch A and at branch B


@dataclass(frozen=True)
class Route:
    name: str
    kwargs: tuple[str, ...]
    defaults: tuple[tuple[str, str], ...]
    capability: str


def _capability(callback) -> str:
    if hasattr(callback, "handover_capability"):
        return callback.handover_capability
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    actions = getattr(callback, "actions", None) or {}
    if cls is not None and actions and "get" not in actions:
        # A POST-only API action (submit, sign …) answers to the capability of that write.
        view = cls()
        view.action = next(iter(actions.values()))
        return view.write_capability
    if cls is not None and hasattr(cls, "read_capability"):
        return cls.read_capability
    raise AssertionError(f"{callback} declares no capability: every view must (web.access.needs)")


def _walk(patterns, prefix: str = "") -> list[Route]:
    routes = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            routes += _walk(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern):
            names = tuple(pattern.pattern.regex.groupindex)
            defaults = tuple(sorted((pattern.default_args or {}).items()))
            routes.append(Route(f"{prefix}{pattern.name}", names, defaults, _capability(pattern.callback)))
    return routes


ROUTES = _walk(get_resolver().url_patterns)


def test_every_url_is_covered_by_the_walk():
    assert len(ROUTES) > 30
    assert all((route.name and ":" in route.name) or route.name == "set_language" for route in ROUTES), ROUTES


class Scene:
    def __init__(self) -> None:
        self.world = w = World()
        self.users = {}
        for name, (role, where) in ROLES.items():
            if role is not None:
                self.users[name] = w.login_with(
                    role, site=w.branch_a if where == "a" else None, username=name
                )
        from tests.factories import UserFactory

        self.users["outsider"] = UserFactory(username="outsider")
        from handover.accounts import enrolment

        self.reset_request = enrolment.login_reset(
            actor=self.users["sysadmin"], user=self.users["firm_it_a"], kind="reset"
        ).enrolment
        self.role_b = RoleAssignment.objects.create(
            engagement=w.engagement, person=w.person_b, role=Role.FIRM_IT, site=w.branch_b
        )
        self.role_a = RoleAssignment.objects.create(
            engagement=w.engagement, person=w.person_a, role=Role.FIRM_IT, site=w.branch_a
        )
        self.event = event_record(
            actor=None, action="org.site.create", engagement_id=w.engagement.pk, obj=w.branch_a
        )
        self.forms, self.rows, self.files = {}, {}, {}
        for target, site in (("a", w.branch_a), ("b", w.branch_b)):
            form = register_form(w.engagement, site)
            self.forms[target] = form
            self.rows[target] = Row.objects.create(form=form, seq=1, data=t8_values(w.engagement, site))
            self.files[target] = attachments.attachment_add(
                actor=system("test"),
                form=form,
                row=self.rows[target],
                name="scan.pdf",
                chunks=[b"%PDF-1.4 x"],
            )
        self.jobs = {
            target: ImportJob.objects.create(
                engagement=w.engagement,
                site=site,
                register_no=8,
                filename="表8.xlsx",
                content=b"PK",
                state=ImportState.REFUSED,
                errors=[[4, "介质编号", "必填"]],
                error_file=b"PK",
            )
            for target, site in (("a", w.branch_a), ("b", w.branch_b))
        }
        self._vault_scenery()
        self.discovery = discovery_scenery(w)

    def _vault_scenery(self) -> None:
        """A vault entry at each branch, with a pending reveal request made by the branch's firm IT."""
        from handover.core.actors import system
        from handover.vault import lifecycle, services

        w = self.world
        lifecycle.vault_init(actor=system("test"), shares=3, threshold=2)
        self.entries, self.requests = {}, {}
        for target, site in (("a", w.branch_a), ("b", w.branch_b)):
            requester = self.users["firm_it_a"]
            self.entries[target] = entry = services.secret_put(
                actor=system("test"),
                target=services.Target(
                    engagement=w.engagement, site=site, system_name="柜台", hostname="h1", login_name="root"
                ),
                secret="Vq7#kRt2!mWz9@Lp",
            )
            self.requests[target] = RevealRequest.objects.create(
                entry=entry, requester=requester, reason="核对", purpose="view"
            )

    def workflow_object(self, key: str, site):
        """A step instance, an exception case or an evidence file of the workflow at ``site``."""
        from django.utils import timezone

        from handover.workflow import storage
        from handover.workflow.models import Evidence, ExceptionCase, StepInstance

        e, now = self.world.engagement, timezone.now()
        step = StepInstance.objects.get_or_create(
            engagement=e, site=site, step_id="H-00", defaults={"phase": "handover", "created_at": now}
        )[0]
        if key == "instance_id":
            return step
        if key == "case_id":
            return ExceptionCase.objects.create(
                engagement=e, site=site, path_id="E09", description="资料缺失", opened_at=now
            )
        import io

        stored = storage.store(io.BytesIO(b"evidence"))
        return Evidence.objects.create(
            engagement=e,
            step=step,
            name="x.txt",
            sha256=stored.sha256,
            size=stored.size,
            stored_as=stored.relative,
            uploaded_at=now,
        )

    def rotation_item(self, key: str):
        """An account of the rotation plan at the branch (the plan of the same route's ``plan_id``)."""
        from handover.rotation.models import RotationItem

        ids = self.discovery[key]
        return RotationItem.objects.get_or_create(
            plan_id=ids["plan_id"],
            entry=self.entries[key],
            defaults={"target_id": ids["target_id"], "login_name": "root"},
        )[0]

    def package(self):
        """A recorded handover package with a real file (engagement-level: 技术组 only)."""
        from handover.reports.models import HandoverPackage
        from tests.reports.support import stored_package

        return HandoverPackage.objects.first() or stored_package(self.world)

    def incident(self):
        """A security incident (engagement-level: every holder of view_risk)."""
        from tests.risk.scenery import incident

        return incident(self.world)

    def vulnerability(self):
        """A vulnerability recorded by hand, with a decision asked (engagement-level: view_risk)."""
        from tests.risk.scenery import vulnerability

        return vulnerability(self.world)

    def kwargs(self, route: Route, target: str) -> tuple[dict, object]:
        """URL kwargs for the route, and the site its object sits at (None for engagement-level objects)."""
        w = self.world
        site = w.branch_a if target == "a" else w.branch_b
        person = w.person_a if target == "a" else w.person_b
        values, where = {}, None
        for key in route.kwargs:
            if key == "code":
                values[key] = w.engagement.code
            elif key == "site_id" or (key == "pk" and route.name == "api:site-detail"):
                values[key], where = site.pk, site
            elif key == "person_id" or (key == "pk" and route.name.startswith("api:person-")):
                values[key], where = person.pk, site
            elif key == "organisation_id" or (key == "pk" and route.name == "api:organisation-detail"):
                values[key] = w.org.pk
            elif key == "role_id" or (key == "pk" and route.name == "api:role-detail"):
                values[key] = (self.role_a if target == "a" else self.role_b).pk
            elif key == "entry_id" or (key == "pk" and route.name == "api:vault-entry-detail"):
                values[key], where = self.entries[target].pk, site
            elif key == "request_id":
                values[key], where = self.requests[target].pk, site
            elif key == "register_no":
                values[key] = 8
            elif key == "form_id" or (key == "pk" and route.name.startswith("api:register-form-")):
                values[key], where = self.forms[target].pk, site
            elif key == "row_id" or (key == "pk" and route.name.startswith("api:register-row-")):
                values[key], where = self.rows[target].pk, site
            elif key == "fmt":
                values[key] = "xlsx"
            elif key == "job_id":
                values[key], where = self.jobs[target].pk, site
            elif key == "attachment_id":
                values[key], where = self.files[target].pk, site
            elif key == "user_id":
                values[key] = self.users["tech"].pk
            elif key == "action":
                values[key] = "unlock"
            elif key == "enrolment_id":
                values[key] = self.reset_request.pk
            elif key == "seq":
                values[key] = self.event.seq
            elif key in ("instance_id", "case_id", "evidence_id"):
                values[key], where = self.workflow_object(key, site).pk, site
            elif key in (
                "target_id",
                "run_id",
                "finding_id",
                "plan_id",
                "restore_id",
                "revert_id",
                "disable_id",
            ):
                values[key], where = self.discovery[target][key], site
            elif key == "item_id":
                values[key], where = self.rotation_item(target).pk, site
            elif key == "package_id":
                values[key] = self.package().pk
            elif key == "incident_id":
                values[key] = self.incident().pk
            elif key == "number" and "change" in route.name:
                from tests.risk.scenery import change

                values[key] = change(self.world).number
            elif key == "number":
                values[key] = self.vulnerability().number
            elif key == "report_id":
                from tests.risk.scenery import assessment

                values[key] = assessment(self.world).pk
            elif key == "year":
                values[key] = 2026
            elif key == "activity_id":
                from tests.risk.scenery import activity

                values[key] = activity(self.world).pk
            elif key == "decision_id":
                values[key] = self.vulnerability().decisions.get().pk
            else:
                raise AssertionError(f"{route.name}: no test value for URL argument {key}")
        return values, where


def expected_allowed(scene: Scene, route: Route, user_name: str, where) -> bool:
    if route.capability == PUBLIC:
        return True
    if user_name == "anonymous":
        return False
    role, at = ROLES[user_name]
    if route.capability == AUTHENTICATED:
        # On an engagement's URL, "logged in" means "a member of that engagement".
        return role is not None or "code" not in route.kwargs
    if role is None or route.capability not in perms.capabilities_of(role):
        return False
    if at is None or where is None:
        return True
    return where.path.startswith(scene.world.branch_a.path)


CASES = [
    pytest.param(route, user, target, id=f"{route.name}-{user}-{target}")
    for route in ROUTES
    for user in ROLES
    for target in (
        TARGETS if set(route.kwargs) - {"code", "action", "user_id", "seq", "enrolment_id"} else ("a",)
    )
]


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker):
    """One scene for the whole walk (building it was 50 ms of each case's 65): it lives in a transaction
    that is rolled back after the module, and each case runs in a savepoint of it (the ``db`` fixture's)."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield Scene()
        transaction.set_rollback(True)


@pytest.fixture
def keeper_restored():
    """The vault keeper holds its state in memory, out of reach of the rollback: put it back after each
    case (a case may POST a seal, an unseal share or a rotation)."""
    keeper = lifecycle.local_keeper()
    saved = {key: copy.copy(value) for key, value in vars(keeper).items() if key != "_lock"}
    yield
    vars(keeper).update(saved)


@pytest.mark.parametrize(("route", "user_name", "target"), CASES)
def test_role_gets_what_the_policy_says(
    scene, db, keeper_restored, client, route: Route, user_name: str, target: str
):
    kwargs, where = scene.kwargs(route, target)
    url = reverse(route.name, kwargs=kwargs)
    if user_name != "anonymous":
        client.force_login(scene.users[user_name])
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    allowed = expected_allowed(scene, route, user_name, where)
    status = response.status_code
    if allowed:
        assert status in {200, 201, 204, 301, 302, 400}, f"{user_name} refused {url}: {status}"
        # Logging out rightly ends on the login page; every other allowed page must not.
        if status == 302 and route.capability != PUBLIC and route.name != "accounts:logout":
            assert "/accounts/login/" not in response["Location"], f"{user_name} sent to login from {url}"
    elif user_name == "anonymous" and not url.startswith("/api/"):
        assert status == 302 and "/accounts/login/" in response["Location"], (
            f"anonymous reached {url}: {status}"
        )
    else:
        assert status in {401, 403, 404}, f"{user_name} reached {url}: {status}"
        body = response.content.decode()
        if target == "b" and where is not None:
            assert "乙员工" not in body and "乙营业部" not in body


def test_the_documented_policy_table_is_the_code_policy():
    from pathlib import Path

    from handover.cli.management.commands.policy import policy_markdown

    docs = (Path(__file__).resolve().parent.parent / "docs" / "access-policy.md").read_text()
    assert policy_markdown() in docs
    from handover.cli.management.commands.policy import CAPABILITY_NOTES

    assert set().union(*perms.ROLE_CAPABILITIES.values()) == set(CAPABILITY_NOTES)
