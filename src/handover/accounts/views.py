"""Login in two steps (password, then TOTP), second-factor enrolment, logout, and the system
administrator's account pages (三权分立: they manage logins and nothing else)."""

from __future__ import annotations

import time

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from handover.accounts import enrolment, selectors, services
from handover.accounts.forms import (
    AccountCreateForm,
    EnrolmentCodeForm,
    EnrolmentForm,
    LoginForm,
    TotpCodeForm,
)
from handover.accounts.models import EnrolmentCode, EnrolmentKind, User
from handover.core.errors import DomainError
from handover.org import permissions as perms
from handover.web import actions
from handover.web.access import AUTHENTICATED, PUBLIC, needs

_PENDING = "handover_pending_login"
_NEXT = "handover_next"
_ENROL = "handover_totp_enrol"
_PENDING_TRIES = 2
_ENROL_DIGEST = "handover_enrolment_digest"
_ENROL_SEED = "handover_enrolment_seed"


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
    user: User | None = request.user if request.user.is_authenticated else None
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
        data = form.cleaned_data
        created = actions.run(request, None, lambda: services.user_create(actor=request.user, **data))
        if created is not None:
            return _code_once(request, created[1])
    return redirect("accounts:account_list")


def _code_once(request: HttpRequest, issued: enrolment.Issued) -> HttpResponse:
    """The enrolment code, shown once to whoever issued it, for the holder (never stored in clear)."""
    link = request.build_absolute_uri(reverse("accounts:enrol"))
    context = {
        "account": issued.enrolment.user,
        "enrolment": issued.enrolment,
        "link": link,
        "code": issued.code,
    }
    return _no_store(render(request, "accounts/enrolment_once.html", context))


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
    elif action in (EnrolmentKind.RESET, EnrolmentKind.FACTOR_RESET):
        issued = actions.run(
            request, None, lambda: enrolment.login_reset(actor=request.user, user=account, kind=action)
        )
        if issued is not None:
            if issued.code is not None:
                return _code_once(request, issued)
            messages.info(
                request,
                _(
                    "%(name)s holds vault or signing roles: the reset waits for a second 技术组 member, who "
                    "then receives the enrolment code for the holder."
                )
                % {"name": account.username},
            )
    return redirect("accounts:account_list")


@needs(PUBLIC)
@sensitive_post_parameters()
def enrol(request: HttpRequest) -> HttpResponse:
    """The holder takes their login: their own password and a fresh TOTP seed, through a one-time code.

    The code is typed (or pasted) into a form, never carried in a URL, so no access log or referrer holds it;
    the session keeps only its digest and the seed being enrolled."""
    digest = request.session.get(_ENROL_DIGEST, "")
    if request.method == "POST" and "enrolment_code" in request.POST:
        code_form = EnrolmentCodeForm(request.POST)
        if code_form.is_valid():
            digest = enrolment.code_digest(code_form.cleaned_data["enrolment_code"])
            request.session[_ENROL_DIGEST] = digest
            request.session.pop(_ENROL_SEED, None)
            return redirect("accounts:enrol")
        return _no_store(render(request, "accounts/enrol_code.html", {"form": code_form}))
    try:
        pending = enrolment.enrolment_for_digest(digest=digest) if digest else None
    except DomainError as exc:
        request.session.pop(_ENROL_DIGEST, None)
        messages.error(request, str(exc.message))
        pending = None
    if pending is None:
        return _no_store(render(request, "accounts/enrol_code.html", {"form": EnrolmentCodeForm()}))
    return _enrol_credentials(request, pending, digest)


def _enrol_credentials(request: HttpRequest, pending: EnrolmentCode, digest: str) -> HttpResponse:
    factor_only = pending.kind == EnrolmentKind.FACTOR_RESET
    secret = request.session.get(_ENROL_SEED) or services.totp_new_secret()
    request.session[_ENROL_SEED] = secret
    form = EnrolmentForm(request.POST or None, factor_only=factor_only)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        actions.run(
            request,
            form,
            lambda: enrolment.enrolment_complete(
                digest=digest,
                password=data.get("password", ""),
                current_password=data.get("current_password", ""),
                totp_secret=secret,
                totp_code=data["totp_code"],
            ),
        )
        if not form.errors:  # valid before the service ran: an error now is its refusal
            request.session.pop(_ENROL_DIGEST, None)
            request.session.pop(_ENROL_SEED, None)
            messages.success(request, _("Your login is ready. Log in with your password and a code."))
            return redirect("accounts:login")
    uri = services.totp_uri(user=pending.user, secret=secret)
    context = {
        "form": form,
        "account": pending.user,
        "qr_svg": segno.make(uri, error="m").svg_inline(scale=4),
        "secret": secret,
        "factor_only": factor_only,
    }
    return _no_store(render(request, "accounts/enrol.html", context))


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


@needs(perms.MANAGE_ROLES)
def reset_list(request: HttpRequest) -> HttpResponse:
    """Guarded resets waiting for a second 技术组 member."""
    waiting = enrolment.resets_waiting(user=request.user)
    return render(request, "accounts/reset_list.html", {"waiting": waiting})


@require_POST
@needs(perms.MANAGE_ROLES)
def reset_decide(request: HttpRequest, enrolment_id: int, action: str) -> HttpResponse:
    waiting = enrolment.reset_waiting_get(user=request.user, enrolment_id=enrolment_id)
    if action == "approve":
        issued = actions.run(
            request, None, lambda: enrolment.login_reset_approve(actor=request.user, enrolment=waiting)
        )
        if issued is not None:
            return _code_once(request, issued)
    if action == "refuse":
        actions.press(
            request,
            lambda: enrolment.login_reset_refuse(actor=request.user, enrolment=waiting),
            _("Reset refused; the login keeps its credentials."),
        )
    return redirect("accounts:reset_list")
