"""The second factor behind the lockout (review H2), back-off instead of a lock anyone can trigger, the same
answers for unknown and known names (M6), and API tokens stored as digests that end with the login's
credentials (M7). Each test performs the review's attack and checks that it no longer gets through."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from handover.accounts import services
from handover.accounts.models import ApiToken, LoginThrottle, User
from handover.audit.models import Event
from tests.factories import PASSWORD, UserFactory

LOGIN = "/accounts/login/"
TOKEN = "/api/auth/token/"
PAGE = "/e/"  # the engagement list: any logged-in user may open it


def enrol(user: User) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    services.totp_enroll(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    user.refresh_from_db()
    return pyotp.TOTP(secret)


def wrong(totp: pyotp.TOTP) -> str:
    valid = {totp.at(time.time() + k * totp.interval) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def pending(user: User, address: str = "127.0.0.1") -> Client:
    """A browser that passed the password step and now waits for its code."""
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response["Location"] == reverse("accounts:login_totp")
    return client


def code_step(client: Client, code: str):
    return client.post(reverse("accounts:login_totp"), {"code": code})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_lockout_bypass_a_pending_login_cannot_complete_once_the_account_is_locked(db):
    user = UserFactory()
    totp = enrol(user)
    waiting = pending(user)  # A: password given before the lock
    for _ in range(5):  # B: wrong codes lock the account
        code_step(pending(user, "10.0.0.2"), wrong(totp))
    user.refresh_from_db()
    assert user.is_locked()
    response = code_step(waiting, totp.now())
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    assert not logged_in(waiting)
    user.refresh_from_db()
    assert user.is_locked()  # and a right code did not unlock it


def test_totp_spray_many_pending_sessions_get_five_guesses_in_all(db):
    user = UserFactory()
    totp = enrol(user)
    sprayers = [pending(user) for _ in range(12)]  # each opened while the account was unlocked
    for client in sprayers[:-1]:
        code_step(client, wrong(totp))
    guesses = Event.objects.filter(action="accounts.totp.failed", outcome="failure").count()
    assert guesses == 5
    final = code_step(sprayers[-1], totp.now())
    assert final["Location"] == reverse("accounts:login") and not logged_in(sprayers[-1])
    token = APIClient().post(TOKEN, {"username": user.username, "password": PASSWORD, "code": totp.now()})
    assert token.status_code == 400 and token.json()["code"] == "locked"


def test_a_right_password_does_not_reset_the_second_factor_count(db):
    user = UserFactory()
    totp = enrol(user)
    for _ in range(4):
        code_step(pending(user), wrong(totp))
    client = pending(user)  # the password is right: the count of wrong codes stays
    user.refresh_from_db()
    assert user.totp_failures == 4
    code_step(client, wrong(totp))
    user.refresh_from_db()
    assert user.is_locked()


def test_a_pending_login_allows_two_codes(db):
    user = UserFactory()
    totp = enrol(user)
    client = pending(user)
    assert code_step(client, wrong(totp)).status_code == 200
    second = code_step(client, wrong(totp))
    assert second["Location"] == reverse("accounts:login")
    third = code_step(client, totp.now())
    assert third["Location"] == reverse("accounts:login") and not logged_in(client)


@override_settings(HANDOVER_LOGIN_PENDING_SECONDS=300)
def test_a_pending_login_expires(db, monkeypatch):
    user = UserFactory()
    totp = enrol(user)
    client = pending(user)
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    response = code_step(client, totp.at(later))
    assert response["Location"] == reverse("accounts:login") and not logged_in(client)


def test_locking_ends_the_sessions_and_tokens_of_the_account(db):
    user = UserFactory()
    totp = enrol(user)
    browser = pending(user)
    code_step(browser, totp.now())
    assert browser.get(PAGE).status_code == 200
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {services.api_token_issue(user=user)}")
    assert api.get("/api/engagements/").status_code == 200
    for _ in range(5):
        code_step(pending(user, "10.0.0.3"), wrong(totp))
    assert browser.get(PAGE).status_code == 302
    assert shut(api.get("/api/engagements/"))
    assert not ApiToken.objects.filter(user=user).exists()
    assert "accounts.credentials.revoked" in Event.objects.values_list("action", flat=True)


def test_strangers_guessing_passwords_cannot_lock_an_approver_out(db):
    approver = UserFactory()
    totp = enrol(approver)
    own = pending(approver, "10.1.1.1")
    code_step(own, totp.now())
    attacker = APIClient(REMOTE_ADDR="203.0.113.9")
    answers = [
        attacker.post(TOKEN, {"username": approver.username, "password": f"guess-{i}-xxxxxx"}).json()["code"]
        for i in range(12)
    ]
    assert answers[:4] == ["invalid_login"] * 4 and set(answers[4:]) == {"throttled"}
    approver.refresh_from_db()
    assert not approver.is_locked()
    assert own.get(PAGE).status_code == 200  # the approver's session goes on
    elsewhere = APIClient(REMOTE_ADDR="10.1.1.1")
    ok = elsewhere.post(
        TOKEN,
        {"username": approver.username, "password": PASSWORD, "code": totp.at(time.time() + totp.interval)},
    )
    assert ok.status_code == 200 and ok.json()["token"]
    # The attacker's address stays backed off, even with the right password.
    again = attacker.post(TOKEN, {"username": approver.username, "password": PASSWORD})
    assert again.json()["code"] == "throttled"


def test_back_off_doubles_and_a_right_password_starts_the_count_again(db):
    user = UserFactory()

    def attempt(password: str) -> int:
        response = Client(REMOTE_ADDR="198.51.100.7").post(
            LOGIN, {"username": user.username, "password": password}
        )
        return response.status_code

    def pair() -> LoginThrottle:
        return LoginThrottle.objects.get(scope="pair")

    for _ in range(5):
        attempt("not-the-password")
    assert timedelta(minutes=14) < pair().blocked_until - timezone.now() <= timedelta(minutes=15)
    assert attempt(PASSWORD) == 200  # backed off: even the right password waits
    LoginThrottle.objects.update(blocked_until=timezone.now() - timedelta(seconds=1))
    for _ in range(5):
        attempt("not-the-password")
    assert timedelta(minutes=29) < pair().blocked_until - timezone.now() <= timedelta(minutes=30)
    LoginThrottle.objects.update(blocked_until=timezone.now() - timedelta(seconds=1))
    assert attempt(PASSWORD) == 302
    assert not LoginThrottle.objects.filter(scope="pair").exists()


def test_unknown_and_known_names_get_the_same_answers(db):
    user = UserFactory()

    def answers(name: str, address: str) -> list[tuple[int, str, str]]:
        api = APIClient(REMOTE_ADDR=address)
        out = []
        for i in range(7):
            response = api.post(TOKEN, {"username": name, "password": f"wrong-{i}-password"})
            body = response.json()
            out.append((response.status_code, body["code"], body["detail"]))
        return out

    assert answers("no-such-user-xyz", "192.0.2.1") == answers(user.username, "192.0.2.2")

    def page_error(name: str, address: str) -> str:
        html = Client(REMOTE_ADDR=address).post(LOGIN, {"username": name, "password": "wrong-pass-1"})
        text = html.content.decode()
        start = text.index('class="errorlist')
        return text[start : text.index("</ul>", start)]

    assert page_error("no-such-user-xyz", "192.0.2.3") == page_error(user.username, "192.0.2.4")


def test_unknown_names_cost_a_password_hash_too(db, monkeypatch):
    from django.contrib.auth.hashers import MD5PasswordHasher

    calls: list[str] = []
    original = MD5PasswordHasher.encode

    def counting(self, password, salt):
        calls.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    UserFactory(username="known")
    calls.clear()
    for name in ("known", "unknown-name"):
        with pytest.raises(services.LoginRefused):
            services.login_check_password(request=None, username=name, password="wrong-password-9")
    assert calls == ["wrong-password-9", "wrong-password-9"]


def shut(response) -> bool:
    """Refused for its credentials (DRF answers 403 here: session authentication comes first)."""
    return response.status_code in (401, 403) and set(response.json()) == {"detail"}


def token_for(user: User) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {services.api_token_issue(user=user)}")
    assert api.get("/api/engagements/").status_code == 200
    return api


def test_token_persist_a_token_dies_with_logout_and_a_password_reset(db):
    user = UserFactory()
    api = token_for(user)
    browser = Client()
    browser.post(LOGIN, {"username": user.username, "password": PASSWORD})
    browser.post(reverse("accounts:logout"))
    assert shut(api.get("/api/engagements/"))
    api = token_for(user)
    services.password_set(actor=user, user=user, password="Another-long-Passw0rd")  # the holder's own change
    assert shut(api.get("/api/engagements/"))


def test_a_token_dies_with_a_new_factor_and_deactivation(db):
    user = UserFactory()
    api = token_for(user)
    enrol(user)
    assert shut(api.get("/api/engagements/"))
    api = token_for(user)
    services.user_set_active(actor=None, user=user, active=False)
    assert shut(api.get("/api/engagements/"))


@override_settings(HANDOVER_API_TOKEN_IDLE_SECONDS=1800, HANDOVER_API_TOKEN_MAX_SECONDS=43200)
def test_a_token_ends_when_idle_and_at_its_expiry(db):
    user = UserFactory()
    api = token_for(user)
    ApiToken.objects.update(last_used=timezone.now() - timedelta(seconds=1801))
    refused = api.get("/api/engagements/")
    assert shut(refused) and not ApiToken.objects.exists()  # an expired token is removed
    api = token_for(user)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert shut(api.get("/api/engagements/"))


def test_a_token_is_stored_only_as_its_digest(db):
    user = UserFactory()
    raw = services.api_token_issue(user=user)
    row = ApiToken.objects.get(user=user)
    stored = " ".join(str(v) for v in ApiToken.objects.values().get())
    assert raw not in stored and raw[:10] == row.prefix and len(row.digest) == 64
    dump = " ".join(str(v) for values in Event.objects.values() for v in values.values())
    assert raw not in dump
