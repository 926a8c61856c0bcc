"""Production: refuses to start with DEBUG on or without a secret key; TOTP is required; cookies are secure.

deploy/ holds the files that run it (nginx, systemd, logrotate); docs/deployment.md says how."""

from django.core.exceptions import ImproperlyConfigured

from handover.settings import env
from handover.settings.base import *  # noqa: F403
from handover.settings.base import DATA_DIR, LOGGING

if env.get_bool("HANDOVER_DEBUG"):
    raise ImproperlyConfigured("HANDOVER_DEBUG is on: production settings refuse to start with debug pages.")
if not env.get("HANDOVER_SECRET_KEY"):
    raise ImproperlyConfigured(
        "HANDOVER_SECRET_KEY is not set: production settings need a secret key of their own."
    )
if len(env.get("HANDOVER_SECRET_KEY")) < 50:
    raise ImproperlyConfigured("HANDOVER_SECRET_KEY is shorter than 50 characters: generate a longer one.")

DEBUG = False
SECRET_KEY = env.get("HANDOVER_SECRET_KEY")
HANDOVER_TOTP_REQUIRED = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_COOKIE_HTTPONLY = True
# The language switch's cookie too: every cookie the site sets over HTTPS is Secure (tests/deploy/).
LANGUAGE_COOKIE_SECURE = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Every process of the deployment (gunicorn's workers, the task workers, the signer) appends to one log file:
# a RotatingFileHandler in each would rotate it behind the others' backs. logrotate moves the file
# (deploy/logrotate/handover) and each process reopens it when it sees it gone.
LOGGING = {
    **LOGGING,
    "handlers": {
        "file": {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(DATA_DIR / "logs" / "handover.log"),
            "formatter": "plain",
        },
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
}
