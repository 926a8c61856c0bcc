"""The approval page's code is behind the same lockout as the login (review H2, approve_bruteforce): wrong codes
count towards the lock, a locked approver's right code approves nothing, and the approver's session ends."""

from __future__ import annotations

import time

from django.test import Client
from django.urls import reverse

from handover.org.models import Role
from handover.vault.models import RevealRequest, RevealStatus
from tests.vault.helpers import enrol_totp, next_code, put


def test_approve_bruteforce_wrong_codes_lock_the_approver_and_the_right_code_then_fails(vault, world):
    firm_user = world.login_with(Role.FIRM_IT, site=world.branch_a)
    onsite_user = world.login_with(Role.ONSITE_POST, site=world.branch_a)
    totp = enrol_totp(onsite_user)
    entry = put(firm_user, world, world.branch_a)
    firm, onsite = Client(), Client()
    firm.force_login(firm_user)
    onsite.force_login(onsite_user)  # a stolen approver session, without the seed
    code = world.engagement.code
    firm.post(
        reverse("vault:reveal_request", kwargs={"code": code, "entry_id": entry.pk}),
        {"purpose": "view", "reason": "核对"},
    )
    request = RevealRequest.objects.get()
    approve = reverse("vault:request_approve", kwargs={"code": code, "request_id": request.pk})
    valid = {totp.at(time.time() + k * totp.interval) for k in (-1, 0, 1, 2)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    answers = [onsite.post(approve, {"code": wrong}).status_code for _ in range(7)]
    assert answers[:4] == [200] * 4  # the form again, with its error
    onsite_user.refresh_from_db()
    assert onsite_user.is_locked()
    after_lock = onsite.post(approve, {"code": next_code(totp)})
    assert after_lock.status_code == 302 and reverse("accounts:login") in after_lock["Location"]
    request.refresh_from_db()
    assert request.status == RevealStatus.PENDING and request.approver is None
    # Even a fresh session cannot approve while the lock lasts.
    fresh = Client()
    fresh.force_login(onsite_user)
    fresh.post(approve, {"code": totp.at(time.time() + 2 * totp.interval)})
    request.refresh_from_db()
    assert request.status == RevealStatus.PENDING
