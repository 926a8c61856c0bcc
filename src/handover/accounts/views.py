"""Login in two steps (password, then TOTP), second-factor enrolment, logout, and the system
administrator's account pages (三权分立: they manage logins and nothing else)."""

from __future__ import annotations

import time
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from handover.accounts import selectors, services
from handover.accounts.forms import AccountCreateForm, LoginForm, TotpCodeForm
from handover.accounts.models import User
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.web.access import AUTHENTICATED, PUBLIC, needs

_PENDING = "handover_pending_login"
_NEXT = "handover_next"
_ENROL = "handover_totp_enrol"
_PENDING_TRIES = 2


def _next_url(request: HttpRequest) -> str:
    target = request.session.get(_NEXT) or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return settings.LOGIN_REDIRECT_URL


def _finish(request: HttpRequest, user: User) -> HttpResponse:
    target = _next_url(request)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    services.login_succeeded(user=user, request=request)
    if not user.has_totp:
        return redirect("accounts:totp_setup")
    return redirect(target)


def _pending_start(request: HttpRequest, user: User) -> None:
    """A login whose password was right, waiting for its code: it expires within minutes, allows two codes,
    and ends when the account's credentials are revoked (a lock does that)."""
    request.session[_PENDING] = {
        "user": user.pk,
        "epoch": user.credentials_epoch,
        "until": int(time.time()) + settings.HANDOVER_LOGIN_PENDING_SECONDS,
        "tries": 0,
    }


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(_PENDING)
    if not isinstance(pending, dict):
        return None
    user = User.objects.filter(pk=pending.get("user") or 0, is_active=True).first()
    if (
        user is None
        or pending.get("epoch") != user.credentials_epoch
        or time.time() > pending.get("until", 0)
        or pending.get("tries", 0) >= _PENDING_TRIES
    ):
        request.session.pop(_PENDING, None)
        messages.error(request, _("Your login has expired. Log in again with your password."))
        return None
    return user


@needs(PUBLIC)
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.login_check_password(request=request, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, str(exc.message))
        else:
            request.session.cycle_key()
            request.session[_NEXT] = request.GET.get("next", "")
            if user.has_totp:
                _pending_start(request, user)
                return redirect("accounts:login_totp")
            if settings.HANDOVER_TOTP_REQUIRED:
                _pending_start(request, user)
                return redirect("accounts:totp_setup")
            return _finish(request, user)
    return render(request, "accounts/login.html", {"form": form})


@needs(PUBLIC)
def login_totp(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("accounts:login")
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        pending = request.session[_PENDING]
        pending["tries"] += 1
        request.session[_PENDING] = pending
        try:
            services.totp_verify(user=user, code=form.cleaned_data["code"])
        except DomainError as exc:
            if exc.code == "locked" or pending["tries"] >= _PENDING_TRIES:
                request.session.pop(_PENDING, None)
                if exc.code != "locked":
                    exc.message = _("Two wrong codes. Log in again with your password.")
                messages.error(request, str(exc.message))
                return redirect("accounts:login")
            form.add_error("code", str(exc.message))
        else:
            request.session.pop(_PENDING, None)
            return _finish(request, user)
    return render(request, "accounts/totp.html", {"form": form})


@needs(PUBLIC)
def totp_setup(request: HttpRequest) -> HttpResponse:
    """Enrol a second factor: offered after the first login, required before any page in production."""
    user: Any = request.user if request.user.is_authenticated else None
    if user is None:
        user = _pending_user(request)
        if user is None:
            return redirect("accounts:login")
    if user.has_totp:
        return redirect(settings.LOGIN_REDIRECT_URL)
    secret = request.session.get(_ENROL) or services.totp_new_secret()
    request.session[_ENROL] = secret
    form = TotpCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.totp_enroll(user=user, secret=secret, code=form.cleaned_data["code"])
        except DomainError as exc:
            form.add_error("code", str(exc.message))
        else:
            request.session.pop(_ENROL, None)
            messages.success(request, _("Second factor set up. You will be asked for a code at every login."))
            if not request.user.is_authenticated:
                request.session.pop(_PENDING, None)
                return _finish(request, user)
            # Enrolling ended every other session of the login; this one, which proved the code, stays.
            update_session_auth_hash(request, user)
            return redirect(settings.LOGIN_REDIRECT_URL)
    uri = services.totp_uri(user=user, secret=secret)
    qr_svg = segno.make(uri, error="m").svg_inline(scale=4)
    return render(
        request,
        "accounts/totp_setup.html",
        {
            "form": form,
            "qr_svg": qr_svg,
            "secret": secret,
            "required": settings.HANDOVER_TOTP_REQUIRED,
            "logged_in": request.user.is_authenticated,
        },
    )


@require_POST
@needs(AUTHENTICATED)
def logout_view(request: HttpRequest) -> HttpResponse:
    services.logout_record(user=request.user)
    logout(request)
    messages.info(request, _("You are logged out."))
    return redirect("accounts:login")


@needs(perms.MANAGE_ACCOUNTS)
def account_list(request: HttpRequest) -> HttpResponse:
    users = selectors.account_list(user=request.user)
    form = AccountCreateForm()
    return render(request, "accounts/account_list.html", {"users": users, "form": form})


@require_POST
@needs(perms.MANAGE_ACCOUNTS)
def account_create(request: HttpRequest) -> HttpResponse:
    form = AccountCreateForm(request.POST)
    if form.is_valid():
        try:
            user, password = services.user_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            return render(request, "accounts/password_once.html", {"account": user, "password": password})
    return redirect("accounts:account_list")


@require_POST
@needs(perms.MANAGE_ACCOUNTS)
def account_action(request: HttpRequest, user_id: int, action: str) -> HttpResponse:
    account = selectors.account_get(user=request.user, user_id=user_id)
    if action == "unlock":
        services.user_unlock(actor=request.user, user=account)
        messages.success(request, _("%(name)s unlocked.") % {"name": account.username})
    elif action in ("deactivate", "activate"):
        services.user_set_active(actor=request.user, user=account, active=action == "activate")
        messages.success(request, _("%(name)s saved.") % {"name": account.username})
    elif action == "reset":
        password = services.password_generate()
        services.password_set(actor=request.user, user=account, password=password)
        return render(request, "accounts/password_once.html", {"account": account, "password": password})
    return redirect("accounts:account_list")
