"""Audit actions of rotation. No event carries a secret: which plan, which account, which step, who."""

from django.utils.translation import gettext_lazy as _

PLAN_CREATE = "rotation.plan.create"
PLAN_APPROVE = "rotation.plan.approve"
ITEM_STEP = "rotation.item.step"
PLAN_FINISH = "rotation.plan.finish"

ACTIONS = {
    PLAN_CREATE: _("Rotation plan drawn up (accounts, reason)"),
    PLAN_APPROVE: _("Rotation plan approved by a second person"),
    ITEM_STEP: _("Rotation step recorded for an account (staged, changed, verified)"),
    PLAN_FINISH: _("Rotation plan finished (outcomes by result)"),
}
