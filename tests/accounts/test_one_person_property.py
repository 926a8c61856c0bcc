"""Design rule 9 as a property: ONE person, whatever roles they hold and whatever they do with all the logins
they hold or come to hold (create logins, reset them, approve resets, enrol with the codes they see, link
logins and grant roles, request and approve reveals, and let time pass), never ends with an approved reveal.

The other people of the engagement (a second 技术组 member, an on-site approver, a firm requester) exist and
hold their own logins, but do nothing: everything here is the one person's doing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from handover.accounts import enrolment
from handover.accounts import services as accounts
from handover.accounts.models import EnrolmentCode, User
from handover.core.actors import system
from handover.core.errors import DomainError
from handover.org import services as org
from handover.org.models import Party, Person, Role, RoleAssignment
from handover.vault import lifecycle
from handover.vault import services as vault_services
from handover.vault.models import RevealRequest, RevealStatus
from tests.factories import World
from tests.vault.helpers import put

# Role sets one person may hold together (三权分立 keeps observer, auditor and sysadmin alone).
ROLE_SETS = [
    (Role.SYSADMIN,),
    (Role.TECH_GROUP,),
    (Role.ONSITE_POST,),
    (Role.FIRM_IT,),
    (Role.TECH_GROUP, Role.ONSITE_POST),
    (Role.TECH_GROUP, Role.FIRM_IT),
    (Role.ONSITE_POST, Role.FIRM_IT),
    (Role.TECH_GROUP, Role.ONSITE_POST, Role.FIRM_IT),
]
GRANTABLE = [Role.TECH_GROUP, Role.ONSITE_POST, Role.FIRM_IT]

index = st.integers(min_value=0, max_value=3)
OPS = st.one_of(
    st.tuples(st.just("create"), index),
    st.tuples(st.just("reset"), index, index, st.sampled_from(["reset", "factor_reset"])),
    st.tuples(st.just("approve_reset"), index, index),
    st.tuples(st.just("enrol"), index),
    st.tuples(st.just("link"), index, index, index),
    st.tuples(st.just("grant"), index, index, st.sampled_from(GRANTABLE)),
    st.tuples(st.just("request"), index),
    st.tuples(st.just("approve"), index, index),
    st.tuples(
        st.just("wait"),
    ),
)


class Attacker:
    """The one person: the logins they hold (with their TOTP), the codes they have seen."""

    def __init__(self, world: World, roles: tuple[str, ...], entry: Any) -> None:
        self.world, self.entry = world, entry
        e = world.engagement
        self.person_site = world.branch_a
        login = world.login_with(roles[0], site=self._site(roles[0]), username="one-person")
        self.person = Person.objects.get(user=login)
        for role in roles[1:]:
            RoleAssignment.objects.create(engagement=e, person=self.person, role=role, site=self._site(role))
        self.held: list[User] = [login]
        self.totp: dict[int, pyotp.TOTP] = {login.pk: self._seed(login)}
        self.codes: list[str] = []
        self.requests: list[RevealRequest] = []

    def _site(self, role: str) -> Any:
        return self.world.branch_a if role in (Role.ONSITE_POST, Role.FIRM_IT, Role.FIRM_FINANCE) else None

    @staticmethod
    def _seed(user: User) -> pyotp.TOTP:
        secret = pyotp.random_base32()
        accounts.totp_enroll(user=user, secret=secret, code=pyotp.TOTP(secret).now())
        return pyotp.TOTP(secret)

    def pick(self, i: int) -> User:
        return User.objects.get(pk=self.held[i % len(self.held)].pk)

    def everyone(self, j: int) -> User:
        users = list(User.objects.order_by("pk"))
        return users[j % len(users)]

    def run(self, op: tuple[Any, ...]) -> None:
        name, *args = op
        try:
            with transaction.atomic():
                getattr(self, f"op_{name}")(*args)
        except DomainError:
            pass  # refused: the attempt is part of the property, the refusal is the point

    def op_create(self, i: int) -> None:
        _user, issued = accounts.user_create(
            actor=self.pick(i), username=f"x{User.objects.count()}", display_name=""
        )
        self.codes.append(issued.code or "")

    def op_reset(self, i: int, j: int, kind: str) -> None:
        issued = enrolment.login_reset(actor=self.pick(i), user=self.everyone(j), kind=kind)
        if issued.code:
            self.codes.append(issued.code)

    def op_approve_reset(self, i: int, k: int) -> None:
        waiting = list(
            EnrolmentCode.objects.filter(needs_approval=True, approved_by__isnull=True).order_by("pk")
        )
        if waiting:
            issued = enrolment.login_reset_approve(actor=self.pick(i), enrolment=waiting[k % len(waiting)])
            self.codes.append(issued.code or "")

    def op_enrol(self, k: int) -> None:
        if not self.codes:
            return
        seed = pyotp.random_base32()
        user = enrolment.enrolment_complete(
            digest=enrolment.code_digest(self.codes[k % len(self.codes)]),
            password="One-person-Passw0rd-77",
            current_password="One-person-Passw0rd-77",
            totp_secret=seed,
            totp_code=pyotp.TOTP(seed).now(),
        )
        self.held.append(user)
        self.totp[user.pk] = pyotp.TOTP(seed)

    def op_link(self, i: int, j: int, p: int) -> None:
        people = list(Person.objects.filter(engagement=self.world.engagement).order_by("pk"))
        org.person_link_login(actor=self.pick(i), person=people[p % len(people)], user=self.pick(j))

    def op_grant(self, i: int, j: int, role: str) -> None:
        user = self.pick(j)
        person = Person.objects.filter(engagement=self.world.engagement, user=user).first()
        if person is None:
            person = org.person_create(
                actor=self.pick(i),
                engagement=self.world.engagement,
                name=f"p{Person.objects.count()}",
                organisation=self.world.org,
                site=self.world.branch_a,
                party=Party.ONSITE_POST if role == Role.ONSITE_POST else Party.TECH_GROUP,
                user=user,
            )
        org.role_grant(actor=self.pick(i), person=person, role=role, site=self._site(role))

    def op_request(self, i: int) -> None:
        self.requests.append(
            vault_services.reveal_request_create(
                actor=self.pick(i), entry=self.entry, reason="核对", purpose="view"
            )
        )

    def op_approve(self, i: int, r: int) -> None:
        if not self.requests:
            return
        approver = self.pick(i)
        totp = self.totp.get(approver.pk)
        if totp is None:
            return
        step = max(approver.last_totp_step + 1, int(timezone.now().timestamp()) // 30 - 1)
        if step > int(timezone.now().timestamp()) // 30 + 1:
            return
        vault_services.reveal_approve(
            actor=approver, request=self.requests[r % len(self.requests)], totp_code=totp.generate_otp(step)
        )

    def op_wait(self) -> None:
        """A day and more passes: every enrolment is older than HANDOVER_FRESH_CREDENTIAL_HOURS."""
        for user in User.objects.filter(enrolled_at__isnull=False):
            User.objects.filter(pk=user.pk).update(enrolled_at=user.enrolled_at - timedelta(hours=25))


@pytest.fixture
def stage(db):
    vault = lifecycle.vault_init(actor=system("test"), shares=5, threshold=3)
    world = World()
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a, username="honest-firm")
    world.login_with(Role.ONSITE_POST, site=world.branch_a, username="honest-onsite")
    world.login_with(Role.TECH_GROUP, username="honest-tech")
    entry = put(firm, world, world.branch_a, secret="CANARY-one-person-Qx7%")
    return {"world": world, "entry": entry, "vault": vault}


# The review's H1, written out: the sysadmin resets the approver's and the requester's logins, enrols both
# with the codes, waits out the fresh-credential rule, requests as one and approves as the other.
H1 = [
    ("reset", 0, 0, "reset"),
    ("reset", 0, 1, "reset"),
    ("enrol", 0),
    ("enrol", 1),
    ("wait",),
    ("request", 1),
    ("approve", 2, 0),
]


@example(roles=(Role.SYSADMIN,), ops=H1)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(roles=st.sampled_from(ROLE_SETS), ops=st.lists(OPS, min_size=1, max_size=14))
def test_one_person_with_all_their_logins_never_ends_with_an_approved_reveal(stage, roles, ops):
    with transaction.atomic():
        attacker = Attacker(stage["world"], roles, stage["entry"])
        for op in ops:
            attacker.run(op)
        assert not RevealRequest.objects.filter(status=RevealStatus.APPROVED).exists(), ops
        transaction.set_rollback(True)
