"""Login: Argon2, 12-character minimum, TOTP, lockout after 5 failures for 15 minutes, idle timeout,
server-side logout; each of them an audit event."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from handover.accounts import services
from handover.accounts.models import User
from handover.audit.models import Event
from handover.core import localkey
from handover.core.errors import DomainError
from handover.settings import base
from tests.factories import PASSWORD, UserFactory

LOGIN = "/accounts/login/"


def actions() -> list[str]:
    return list(Event.objects.order_by("seq").values_list("action", flat=True))


def post_login(client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def enrol(user: User) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    services.totp_enroll(user=user, secret=secret, code=pyotp.TOTP(secret).now())
    user.refresh_from_db()
    return pyotp.TOTP(secret)


def test_passwords_are_hashed_with_argon2_in_every_non_test_deployment(db):
    assert base.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        assert make_password("a-long-enough-pass").startswith("argon2$")


def test_passwords_shorter_than_12_characters_are_refused_naming_the_field(db):
    user = UserFactory()
    with pytest.raises(DomainError) as refused:
        services.password_set(actor=user, user=user, password="Short9pass")
    assert refused.value.field == "password"
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_login_without_second_factor_offers_enrolment_and_is_audited(client, db):
    user = UserFactory()
    response = post_login(client, user.username, PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("accounts:totp_setup")
    assert "accounts.login" in actions()
    page = client.get(reverse("accounts:totp_setup"))
    assert b"<svg" in page.content and b"skip-totp" in page.content


def test_totp_enrolment_stores_the_seed_sealed_and_then_requires_a_code(client, db):
    user = UserFactory()
    totp = enrol(user)
    assert totp.secret not in user.totp_secret_sealed
    assert localkey.unseal(user.totp_secret_sealed) == totp.secret
    response = post_login(client, user.username, PASSWORD)
    assert response["Location"] == reverse("accounts:login_totp")
    assert "_auth_user_id" not in client.session
    wrong = client.post(
        reverse("accounts:login_totp"), {"code": "000000" if totp.now() != "000000" else "111111"}
    )
    assert wrong.status_code == 200 and "_auth_user_id" not in client.session
    assert "accounts.totp.failed" in actions()
    ok = client.post(reverse("accounts:login_totp"), {"code": totp.now()})
    assert ok.status_code == 302 and client.session["_auth_user_id"] == str(user.pk)


def test_a_totp_code_cannot_be_used_twice(db):
    user = UserFactory()
    totp = enrol(user)
    code = totp.now()
    services.totp_verify(user=user, code=code)
    user.refresh_from_db()
    with pytest.raises(DomainError):
        services.totp_verify(user=user, code=code)


def test_two_requests_racing_with_one_totp_code_let_only_one_in(db):
    # Both requests loaded the user before either used the code: each copy still says the code is unused.
    user = UserFactory()
    totp = enrol(user)
    first, second = User.objects.get(pk=user.pk), User.objects.get(pk=user.pk)
    code = totp.now()
    services.totp_verify(user=first, code=code)
    with pytest.raises(DomainError):
        services.totp_verify(user=second, code=code)


@override_settings(HANDOVER_TOTP_REQUIRED=True)
def test_when_totp_is_required_a_password_alone_opens_no_session(client, db):
    user = UserFactory()
    response = post_login(client, user.username, PASSWORD)
    assert response["Location"] == reverse("accounts:totp_setup")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("org:engagement_list")).status_code == 302


def test_five_failures_back_off_the_address_for_fifteen_minutes_even_with_the_right_password(client, db):
    # Wrong passwords never lock the account itself (anyone could do that, review M6): they back off the address.
    user = UserFactory()
    for _ in range(5):
        response = post_login(client, user.username, "wrong-password-123")
        assert response.status_code == 200
    user.refresh_from_db()
    assert not user.is_locked()
    response = post_login(client, user.username, PASSWORD)
    assert "_auth_user_id" not in client.session
    assert "15" in response.content.decode()
    assert actions().count("accounts.login.failed") == 5
    assert "accounts.login.throttled" in actions()
    elsewhere = Client(REMOTE_ADDR="10.9.9.9")
    post_login(elsewhere, user.username, PASSWORD)
    assert elsewhere.session["_auth_user_id"] == str(user.pk)


def test_the_lock_expires(client, db):
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    post_login(client, user.username, PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_an_unknown_user_gets_the_same_message_as_a_wrong_password(client, db):
    user = UserFactory()

    def errors(response) -> str:
        html = response.content.decode()
        return html[html.index('class="errorlist') : html.index("</ul>", html.index('class="errorlist'))]

    unknown = errors(post_login(client, "nobody-here", PASSWORD))
    wrong = errors(post_login(client, user.username, "not-the-password"))
    assert unknown == wrong


def test_logout_ends_the_session_on_the_server(client, db):
    user = UserFactory()
    post_login(client, user.username, PASSWORD)
    key = client.session.session_key
    client.post(reverse("accounts:logout"))
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=key).exists()
    assert "accounts.logout" in actions()


@override_settings(HANDOVER_SESSION_IDLE_SECONDS=60)
def test_an_idle_session_ends_and_is_recorded(client, db, monkeypatch):
    user = UserFactory()
    post_login(client, user.username, PASSWORD)
    assert client.get(reverse("org:engagement_list")).status_code == 200
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.get(reverse("org:engagement_list"))
    assert response.status_code == 302 and LOGIN in response["Location"]
    assert "accounts.session.expired" in actions()


def test_the_password_never_reaches_the_audit_trail_or_the_log(client, db, caplog):
    user = UserFactory()
    secret_password = "Unique-Secret-Passw0rd-xyz"
    services.password_set(actor=user, user=user, password=secret_password)
    post_login(client, user.username, secret_password)
    post_login(client, user.username, "Wrong-Secret-Passw0rd-xyz")
    totp = enrol(user)
    dump = " ".join(str(v) for row in Event.objects.values() for v in row.values())
    for secret in (secret_password, "Wrong-Secret-Passw0rd-xyz", totp.secret, user.password):
        assert secret not in dump
        assert secret not in caplog.text
