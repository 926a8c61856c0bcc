"""Audit actions of login accounts."""

from django.utils.translation import gettext_lazy as _

LOGIN = "accounts.login"
LOGIN_FAILED = "accounts.login.failed"
LOCKED = "accounts.locked"
LOGOUT = "accounts.logout"
SESSION_EXPIRED = "accounts.session.expired"
TOTP_ENROLLED = "accounts.totp.enrolled"
TOTP_FAILED = "accounts.totp.failed"
TOTP_FAILED_APPROVAL = "accounts.totp.failed.approval"
USER_CREATE = "accounts.user.create"
USER_UPDATE = "accounts.user.update"
USER_DEACTIVATE = "accounts.user.deactivate"
USER_UNLOCK = "accounts.user.unlock"
PASSWORD_SET = "accounts.password.set"
TOKEN_CREATE = "accounts.token.create"
CREDENTIALS_REVOKED = "accounts.credentials.revoked"
LOGIN_THROTTLED = "accounts.login.throttled"
ENROLMENT_ISSUED = "accounts.enrolment.issued"
ENROLMENT_REQUESTED = "accounts.enrolment.requested"
ENROLMENT_APPROVED = "accounts.enrolment.approved"
ENROLMENT_REFUSED = "accounts.enrolment.refused"
ENROLMENT_COMPLETED = "accounts.enrolment.completed"
ENROLMENT_FAILED = "accounts.enrolment.failed"
ENROLMENT_CONSOLE = "accounts.enrolment.console"

ACTIONS = {
    LOGIN: _("Logged in"),
    LOGIN_FAILED: _("Login failed"),
    LOCKED: _("Account locked after failed logins"),
    LOGOUT: _("Logged out"),
    SESSION_EXPIRED: _("Session ended after inactivity"),
    TOTP_ENROLLED: _("Second factor enrolled"),
    TOTP_FAILED: _("Wrong second-factor code"),
    TOTP_FAILED_APPROVAL: _("Wrong second-factor code while approving"),
    USER_CREATE: _("Login account created"),
    USER_UPDATE: _("Login account changed"),
    USER_DEACTIVATE: _("Login account deactivated"),
    USER_UNLOCK: _("Login account unlocked"),
    PASSWORD_SET: _("Password set"),
    TOKEN_CREATE: _("API token issued"),
    CREDENTIALS_REVOKED: _("Sessions and API tokens ended"),
    LOGIN_THROTTLED: _("Login attempts backed off"),
    ENROLMENT_ISSUED: _("Enrolment code issued"),
    ENROLMENT_REQUESTED: _("Login reset requested, waiting for a second technical-group member"),
    ENROLMENT_APPROVED: _("Login reset approved"),
    ENROLMENT_REFUSED: _("Login reset refused"),
    ENROLMENT_COMPLETED: _("Holder enrolled their own password and second factor"),
    ENROLMENT_FAILED: _("Enrolment code refused"),
    ENROLMENT_CONSOLE: _("Login bootstrapped at the console by the operator"),
}
