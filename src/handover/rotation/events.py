"""Audit actions of rotation. No event carries a secret: which plan, which account, which step, who."""

from django.utils.translation import gettext_lazy as _

PLAN_CREATE = "rotation.plan.create"
PLAN_APPROVE = "rotation.plan.approve"
ITEM_STEP = "rotation.item.step"
ITEM_CONFIG = "rotation.item.config"
PLAN_FINISH = "rotation.plan.finish"
RESTORE_REQUEST = "rotation.restore.request"
RESTORE_APPROVE = "rotation.restore.approve"
RESTORE_APPLY = "rotation.restore.apply"

ACTIONS = {
    PLAN_CREATE: _("Rotation plan drawn up (accounts, reason)"),
    PLAN_APPROVE: _("Rotation plan approved by a second person"),
    ITEM_STEP: _("Rotation step recorded for an account (staged, changed, verified)"),
    ITEM_CONFIG: _("Configuration files using an account's password listed, or checked for the old password"),
    PLAN_FINISH: _("Rotation plan finished (outcomes by result)"),
    RESTORE_REQUEST: _("Restore of a host's permission files from its backup requested (files, reason)"),
    RESTORE_APPROVE: _("Restore of permission files approved by a second person"),
    RESTORE_APPLY: _("Restore of permission files applied (each file's outcome)"),
}
