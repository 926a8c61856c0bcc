"""Pages of the vault: the unseal ceremony, entries, capture, and the request → approve → open-once reveal.
Thin: forms check shape, services decide, selectors read. Pages that carry a secret are never cached."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from handover.core.moments import moment_text
from handover.org import permissions as perms
from handover.org import selectors as org_selectors
from handover.org.models import Engagement
from handover.registers.models import InformationSystem
from handover.vault import lifecycle, passwords, selectors, services
from handover.vault.forms import (
    SECRET_FIELDS,
    ApproveForm,
    CaptureForm,
    RevealRequestForm,
    UnsealForm,
    VerifyForm,
)
from handover.vault.models import SecretKind
from handover.web import actions
from handover.web.access import needs
from handover.web.pages import engagement_page


@never_cache
@sensitive_post_parameters(*SECRET_FIELDS)
@needs(perms.VAULT_UNSEAL)
def vault_home(request: HttpRequest) -> HttpResponse:
    """The vault's state and the unseal form; the ceremony's nonce rides in the form."""
    status = lifecycle.vault_status()
    form = UnsealForm(request.POST or None, initial={"nonce": status.nonce})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        result = actions.run(
            request,
            None,
            lambda: lifecycle.vault_share_enter(
                actor=request.user, share_text=data["share"], nonce=data["nonce"]
            ),
        )
        if result is not None:
            if result["unsealed"]:
                messages.success(request, _("The vault is unsealed."))
            else:
                messages.success(
                    request,
                    _("Share %(index)d accepted: %(done)d of %(needed)d entered.")
                    % {"index": result["index"], "done": len(result["entered"]), "needed": status.threshold},
                )
        return redirect("vault:home")
    context = {"status": status, "form": form, "pending": _pending(status)}
    return render(request, "vault/home.html", context)


def _pending(status: lifecycle.VaultStatus) -> dict[str, Any]:
    """A rekey or rotation waiting for its new shares (as ``handover vault status`` shows it): who started it,
    when, how many of the k new shares were entered back in the verification under way, and its form."""
    if not status.pending:
        return {}
    quorum = status.quorum if status.quorum.get("purpose") == "verify" else {}
    nonce = quorum.get("nonce", "")
    return {
        **status.pending,
        "since_text": moment_text(datetime.fromisoformat(status.pending["since"]))
        if status.pending["since"]
        else "",
        "entered": len(quorum.get("entered", [])),
        "nonce": nonce,
        "form": UnsealForm(initial={"nonce": nonce}, auto_id="pending_%s"),
    }


@require_POST
@never_cache
@sensitive_post_parameters(*SECRET_FIELDS)
@needs(perms.VAULT_UNSEAL)
def vault_pending_verify(request: HttpRequest) -> HttpResponse:
    """One holder's share of the pending set, entered back (one per person and ceremony: the service refuses
    a second); k of them make the new set current."""
    form = UnsealForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Type your share of the new set."))
        return redirect("vault:home")
    data = form.cleaned_data
    result = actions.run(
        request,
        None,
        lambda: lifecycle.vault_pending_verify(
            actor=request.user, share_text=data["share"], nonce=data["nonce"]
        ),
    )
    if result is not None:
        if result.done:
            messages.success(request, _("The new shares are verified: they are now the vault's shares."))
        else:
            messages.success(
                request,
                _(
                    "New share %(index)d accepted: %(done)d of %(needed)d entered; the next holder enters theirs."
                )
                % {"index": result.index, "done": len(result.entered), "needed": result.threshold},
            )
    return redirect("vault:home")


@require_POST
@needs(perms.VAULT_UNSEAL)
def vault_pending_cancel(request: HttpRequest) -> HttpResponse:
    done = _("The pending set is cancelled: the current shares stay the vault's shares.")
    actions.press(request, lambda: lifecycle.vault_pending_cancel(actor=request.user), done)
    return redirect("vault:home")


@require_POST
@needs(perms.VAULT_UNSEAL)
def vault_seal(request: HttpRequest) -> HttpResponse:
    actions.press(request, lambda: lifecycle.vault_seal(actor=request.user), _("The vault is sealed."))
    return redirect("vault:home")


@needs(perms.VAULT_VIEW)
def entry_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    ref = request.GET.get("ref", "").strip()
    if ref:  # a register's 保管引用, looked up among the entries open to the user
        found = actions.run(
            request,
            None,
            lambda: selectors.entry_by_reference(user=request.user, engagement=engagement, reference=ref),
        )
        if found is not None:
            return redirect("vault:entry_detail", engagement.code, found.pk)
    entries = selectors.entry_list(user=request.user, engagement=engagement)
    overdue = selectors.overdue_list(user=request.user, engagement=engagement)
    return render(
        request,
        "vault/entry_list.html",
        engagement_page(
            request,
            engagement,
            entries=entries,
            overdue=overdue,
            status=lifecycle.vault_status(),
            ref=ref,
            example_ref="BR-HZ-V007",
        ),
    )


@needs(perms.VAULT_VIEW)
def overdue(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    entries = selectors.overdue_list(user=request.user, engagement=engagement)
    return render(request, "vault/overdue.html", engagement_page(request, engagement, entries=entries))


def _capture(request: HttpRequest, engagement: Engagement, data: dict[str, Any]) -> tuple[Any, str]:
    """Run the capture service with the form's data; returns the entry and a generated value (or '')."""
    generated = ""
    secret = data["secret"]
    if data["generate"]:
        generated = passwords.generate(passwords.Policy(length=data["length"], platform=data["platform"]))
        secret = generated
    target = services.Target(
        engagement=engagement,
        site=data["site"],
        system_name=data["system"].strip(),
        hostname=data["hostname"].strip(),
        login_name=data["login_name"].strip(),
        layer=data["layer"],
        account_class=data["account_class"],
    )
    custody = services.Custody(
        mode=data["custody_mode"],
        envelope_no=data["envelope_no"],
        safe=data["safe"],
        holders=tuple(data["holders"]),
    )
    entry = services.secret_put(
        actor=request.user,
        target=target,
        secret=secret,
        kind=data["kind"],
        custody=custody,
        reason=data["reason"],
        generated=bool(generated),
    )
    return entry, generated


@never_cache
@sensitive_post_parameters(*SECRET_FIELDS)
@needs(perms.VAULT_CAPTURE)
def entry_capture(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    """被托管技术方 enters a secret (never shown back), or has one generated and shown once to set it."""
    sites = org_selectors.site_list(user=request.user, engagement=engagement, capability=perms.VAULT_CAPTURE)
    people = org_selectors.person_list(user=request.user, engagement=engagement)
    systems = InformationSystem.objects.filter(engagement=engagement, site__in=sites).select_related("site")
    form = CaptureForm(
        request.POST or None,
        sites=sites,
        people=people,
        systems=systems,
        initial={"kind": SecretKind.ORIGINAL, "site": request.GET.get("site")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        captured = actions.run(request, form, lambda: _capture(request, engagement, data))
        if captured is not None:
            entry, generated = captured
            if generated:
                return render(
                    request,
                    "vault/generated.html",
                    engagement_page(request, engagement, entry=entry, value=generated, **_show()),
                )
            messages.success(request, _("The secret is stored in the vault."))
            return redirect("vault:entry_detail", code=engagement.code, entry_id=entry.pk)
    return render(
        request,
        "vault/capture.html",
        engagement_page(
            request,
            engagement,
            form=form,
            status=lifecycle.vault_status(),
            system_names=sorted({s.name for s in systems}),
            fields=[(field, form.shown_if(field.name)) for field in form],
        ),
    )


def _show() -> dict[str, Any]:
    return {"show_seconds": settings.HANDOVER_VAULT_SHOW_SECONDS}


@needs(perms.VAULT_VIEW)
def entry_detail(request: HttpRequest, engagement: Engagement, entry_id: Any) -> HttpResponse:
    entry = selectors.entry_get(user=request.user, engagement=engagement, entry_id=entry_id)
    return render(
        request,
        "vault/entry_detail.html",
        engagement_page(
            request,
            engagement,
            entry=entry,
            versions=entry.versions.defer("sealed").order_by("-number"),
            holders=entry.holders.all(),
            request_form=RevealRequestForm(),
            verify_form=VerifyForm(),
        ),
    )


@require_POST
@needs(perms.VAULT_CAPTURE)
def entry_verify(request: HttpRequest, engagement: Engagement, entry_id: Any) -> HttpResponse:
    entry = selectors.entry_get(user=request.user, engagement=engagement, entry_id=entry_id)
    form = VerifyForm(request.POST)
    if form.is_valid():
        result = form.cleaned_data["result"]
        actions.press(
            request,
            lambda: services.secret_verify_record(actor=request.user, entry=entry, result=result),
            _("Login test recorded."),
        )
    else:
        messages.error(request, _("Choose the result of the login test."))
    return redirect("vault:entry_detail", code=engagement.code, entry_id=entry.pk)


@require_POST
@needs(perms.VAULT_REQUEST)
def reveal_request(request: HttpRequest, engagement: Engagement, entry_id: Any) -> HttpResponse:
    entry = selectors.entry_get(user=request.user, engagement=engagement, entry_id=entry_id)
    form = RevealRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say why you need to see this secret."))
        return redirect("vault:entry_detail", code=engagement.code, entry_id=entry.pk)
    data = form.cleaned_data
    sent = actions.press(
        request,
        lambda: services.reveal_request_create(actor=request.user, entry=entry, **data),
        _("Request sent. Another person must approve it before you can open it."),
    )
    if not sent:
        return redirect("vault:entry_detail", code=engagement.code, entry_id=entry.pk)
    return redirect("vault:request_list", code=engagement.code)


@needs(perms.VAULT_REQUEST)
def request_list(request: HttpRequest, engagement: Engagement) -> HttpResponse:
    requests = selectors.request_list(user=request.user, engagement=engagement)
    return render(request, "vault/request_list.html", engagement_page(request, engagement, requests=requests))


@never_cache
@needs(perms.VAULT_APPROVE)
def request_approve(request: HttpRequest, engagement: Engagement, request_id: int) -> HttpResponse:
    reveal = selectors.request_get(user=request.user, engagement=engagement, request_id=request_id)
    form = ApproveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        actions.run(
            request, form, lambda: services.reveal_approve(actor=request.user, request=reveal, totp_code=code)
        )
        if not form.errors:  # valid before the service ran: an error now is its refusal
            messages.success(request, _("Approved. The requester may open it once."))
            return redirect("vault:request_list", code=engagement.code)
    return render(
        request, "vault/approve.html", engagement_page(request, engagement, reveal=reveal, form=form)
    )


@require_POST
@needs(perms.VAULT_APPROVE)
def request_refuse(request: HttpRequest, engagement: Engagement, request_id: int) -> HttpResponse:
    reveal = selectors.request_get(user=request.user, engagement=engagement, request_id=request_id)
    actions.press(
        request, lambda: services.reveal_refuse(actor=request.user, request=reveal), _("Request refused.")
    )
    return redirect("vault:request_list", code=engagement.code)


@never_cache
@needs(perms.VAULT_REQUEST)
def reveal_open(request: HttpRequest, engagement: Engagement, request_id: int) -> HttpResponse:
    """GET asks to confirm; POST spends the grant and shows the secret in this one response."""
    reveal = selectors.request_get(user=request.user, engagement=engagement, request_id=request_id)
    if request.method != "POST":
        return render(request, "vault/open.html", engagement_page(request, engagement, reveal=reveal))
    revealed = actions.run(request, None, lambda: services.reveal_open(actor=request.user, request=reveal))
    if revealed is None:
        return redirect("vault:request_list", code=engagement.code)
    template = "vault/envelope.html" if revealed.request.purpose == "envelope" else "vault/revealed.html"
    return render(request, template, engagement_page(request, engagement, revealed=revealed, **_show()))
