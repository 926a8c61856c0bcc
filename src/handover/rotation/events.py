"""Audit actions of rotation. No event carries a secret: which plan, which account, which step, who."""

from django.utils.translation import gettext_lazy as _

PLAN_CREATE = "rotation.plan.create"
PLAN_APPROVE = "rotation.plan.approve"
PLAN_START = "rotation.plan.start"
ITEM_STEP = "rotation.item.step"
ITEM_CONFIG = "rotation.item.config"
PLAN_FINISH = "rotation.plan.finish"
RESTORE_REQUEST = "rotation.restore.request"
RESTORE_APPROVE = "rotation.restore.approve"
RESTORE_APPLY = "rotation.restore.apply"
E01_OPEN = "rotation.e01.open"
REVERT_REQUEST = "rotation.revert.request"
REVERT_APPROVE = "rotation.revert.approve"
REVERT_APPLY = "rotation.revert.apply"
DISABLE_REQUEST = "rotation.disable.request"
DISABLE_APPROVE = "rotation.disable.approve"
DISABLE_APPLY = "rotation.disable.apply"
DISABLE_RESTORE = "rotation.disable.restore"

ACTIONS = {
    PLAN_CREATE: _("Rotation plan drawn up (accounts, reason)"),
    PLAN_APPROVE: _("Rotation plan approved by a second person"),
    PLAN_START: _("Rotation plan's run started or resumed (in the background)"),
    ITEM_STEP: _("Rotation step recorded for an account (staged, changed, verified)"),
    ITEM_CONFIG: _("Configuration files using an account's password listed, or checked for the old password"),
    PLAN_FINISH: _("Rotation plan finished (outcomes by result)"),
    RESTORE_REQUEST: _("Restore of a host's permission files from its backup requested (files, reason)"),
    RESTORE_APPROVE: _("Restore of permission files approved by a second person"),
    RESTORE_APPLY: _("Restore of permission files applied (each file's outcome)"),
    E01_OPEN: _("A failed password change opened its E01 case from its 表10 row (or could not, and why)"),
    REVERT_REQUEST: _("Restore of an account's original password requested within its E01 case (reason)"),
    REVERT_APPROVE: _("Restore of an original password approved by a second person"),
    REVERT_APPLY: _("Original password restored on the target, or not (outcome, 表10 row)"),
    DISABLE_REQUEST: _("停用 of an account requested from its 表11 row (observation date)"),
    DISABLE_APPROVE: _("停用 of an account approved by a second person"),
    DISABLE_APPLY: _("Account disabled on its system (the lock state before, kept for its restore)"),
    DISABLE_RESTORE: _("Disabled account restored exactly as it was within its E03 case"),
}
