"""Settings shared by every deployment; values come from the environment (settings/env.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.utils.translation import gettext_lazy as _

from handover.core import sqlitesafety
from handover.settings import env

PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env.data_dir()

DEBUG = env.get_bool("HANDOVER_DEBUG")
SECRET_KEY = env.get("HANDOVER_SECRET_KEY") or env.local_secret_key(DATA_DIR)
ALLOWED_HOSTS = env.get_list("HANDOVER_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.get_list("HANDOVER_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "handover.core",
    "handover.accounts",
    "handover.audit",
    "handover.org",
    "handover.notifications",
    "handover.registers",
    "handover.backups",
    "handover.vault",
    "handover.discovery",
    "handover.rotation",
    "handover.workflow",
    "handover.risk",
    "handover.reports",
    "handover.platform_backup",
    "handover.web",
    "handover.api",
    "handover.cli",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "handover.web.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "handover.web.locale.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "handover.core.uploads.UploadLimitMiddleware",  # before CSRF, the first to read a form's body
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "handover.accounts.middleware.IdleTimeoutMiddleware",
    "handover.core.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "handover.web.access.DomainErrorMiddleware",
]

# Sent by handover.web.csp on every response, in every settings module (review L2). Scripts and styles come
# from this origin only: the templates have no inline script or handler (static/handover/app.js).
HANDOVER_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Swagger UI's icons are data: SVG images (an <img> never runs script).
        "img-src 'self' data:",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)

ROOT_URLCONF = "handover.urls"
WSGI_APPLICATION = "handover.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "handover.notifications.context_processors.unread",
            ],
            "builtins": ["handover.core.templatetags.moments"],
        },
    },
]


def database_config(url: str, data_dir: Path) -> dict[str, Any]:
    """PostgreSQL from a URL, or the embedded SQLite file tuned for many writers (DESIGN.md decision 7)."""
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
        config.setdefault("TEST", {})
        return config
    return {
        # Django's backend, checkpointing so as to stay clear of the WAL-reset bug (core/sqlitesafety.py).
        "ENGINE": "handover.core.sqlite3",
        "NAME": str(data_dir / "handover.sqlite3"),
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so read-then-write transactions do not fail with
            # "database is locked" (579 of 800 did in the default mode; DESIGN.md figures).
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": sqlitesafety.connection_pragmas(),
        },
        # Kept between requests as PostgreSQL's are: opening one (Django's functions registered, the PRAGMAs,
        # the schema read at the first statement) was a third of the CPU of a request that reads only the
        # session and the user (docs/benchmarks.md, the handover day's ceiling). A connection outside a
        # transaction holds no lock and no WAL snapshot, so it stops neither a writer nor a checkpoint.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
        "TEST": {"NAME": str(data_dir / "test.sqlite3")},
    }


DATABASES = {"default": database_config(env.get("HANDOVER_DATABASE_URL"), DATA_DIR)}
# PostgreSQL: `migrate` connects as this owner role; the server's role only INSERTs and SELECTs audit events.
HANDOVER_DATABASE_OWNER_URL = env.get("HANDOVER_DATABASE_OWNER_URL")
HANDOVER_DATABASE_APP_ROLE = str(DATABASES["default"].get("USER") or "")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

HANDOVER_TOTP_REQUIRED = env.get_bool("HANDOVER_TOTP_REQUIRED")
HANDOVER_LOCKOUT_ATTEMPTS = env.get_int("HANDOVER_LOCKOUT_ATTEMPTS")
HANDOVER_ENROLMENT_CODE_HOURS = env.get_int("HANDOVER_ENROLMENT_CODE_HOURS")
HANDOVER_FRESH_CREDENTIAL_HOURS = env.get_int("HANDOVER_FRESH_CREDENTIAL_HOURS")
HANDOVER_LOCKOUT_SECONDS = env.get_int("HANDOVER_LOCKOUT_SECONDS")
HANDOVER_SESSION_IDLE_SECONDS = env.get_int("HANDOVER_SESSION_IDLE_SECONDS")
HANDOVER_LOGIN_PENDING_SECONDS = env.get_int("HANDOVER_LOGIN_PENDING_SECONDS")
HANDOVER_API_TOKEN_IDLE_SECONDS = env.get_int("HANDOVER_API_TOKEN_IDLE_SECONDS")
HANDOVER_API_TOKEN_MAX_SECONDS = env.get_int("HANDOVER_API_TOKEN_MAX_SECONDS")
SESSION_COOKIE_AGE = HANDOVER_SESSION_IDLE_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_ENGINE = "django.contrib.sessions.backends.db"

HANDOVER_AUDIT_HASH = env.get("HANDOVER_AUDIT_HASH").lower()
# M3: the checkpoint key is not in the data folder, so whoever copies or owns that folder cannot re-sign a
# rewritten chain; verification trusts only the public key configured out of band.
HANDOVER_CHECKPOINT_KEY = Path(
    env.get("HANDOVER_CHECKPOINT_KEY") or DATA_DIR.parent / f"{DATA_DIR.name}-signer" / "checkpoint.key"
)
HANDOVER_AUDIT_PUBLIC_KEY = (
    Path(env.get("HANDOVER_AUDIT_PUBLIC_KEY")) if env.get("HANDOVER_AUDIT_PUBLIC_KEY") else None
)
HANDOVER_CHECKPOINT_DIR = Path(env.get("HANDOVER_CHECKPOINT_DIR") or DATA_DIR / "checkpoints")
HANDOVER_CHECKPOINT_SHIP_DIR = (
    Path(env.get("HANDOVER_CHECKPOINT_SHIP_DIR")) if env.get("HANDOVER_CHECKPOINT_SHIP_DIR") else None
)
HANDOVER_CHECKPOINT_SHIP_EMAIL = env.get_list("HANDOVER_CHECKPOINT_SHIP_EMAIL")
HANDOVER_CHECKPOINT_INTERVAL = env.get_int("HANDOVER_CHECKPOINT_INTERVAL")
HANDOVER_DISCOVERY_CONCURRENCY = env.get_int("HANDOVER_DISCOVERY_CONCURRENCY")
HANDOVER_DISCOVERY_PER_SITE = env.get_int("HANDOVER_DISCOVERY_PER_SITE")
HANDOVER_DISCOVERY_STALE_MINUTES = env.get_int("HANDOVER_DISCOVERY_STALE_MINUTES")
HANDOVER_LOCAL_KEY = DATA_DIR / "keys" / "local-fernet.key"
HANDOVER_VAULT_CIPHER = env.get("HANDOVER_VAULT_CIPHER").lower()
HANDOVER_VAULT_SOCKET = DATA_DIR / "vault-keeper.sock"
# M2: the keeper is chosen by configuration, never by whether the socket file exists.
HANDOVER_VAULT_KEEPER = env.get_choice("HANDOVER_VAULT_KEEPER", ("socket", "in-process"))
HANDOVER_VAULT_REVEAL_MINUTES = env.get_int("HANDOVER_VAULT_REVEAL_MINUTES")
HANDOVER_VAULT_SHOW_SECONDS = env.get_int("HANDOVER_VAULT_SHOW_SECONDS")
HANDOVER_RISK_GRADING_FILE = env.get("HANDOVER_RISK_GRADING_FILE")
HANDOVER_VULN_SLA_DAYS = env.get("HANDOVER_VULN_SLA_DAYS")
HANDOVER_SUPPLIER_CONTRACT_DAYS = env.get_int("HANDOVER_SUPPLIER_CONTRACT_DAYS")
HANDOVER_CHANGE_NOTICE_DAYS = env.get_int("HANDOVER_CHANGE_NOTICE_DAYS")
HANDOVER_CAPACITY_MIN_RATIO = env.get("HANDOVER_CAPACITY_MIN_RATIO")
HANDOVER_ANNUAL_REPORT_DUE = env.get("HANDOVER_ANNUAL_REPORT_DUE")

# Notification email (notifications/services.py): SMTP when a host is set, else files in the data folder.
if env.get("HANDOVER_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.get("HANDOVER_SMTP_HOST")
    EMAIL_PORT = env.get_int("HANDOVER_SMTP_PORT")
    EMAIL_HOST_USER = env.get("HANDOVER_SMTP_USER")
    EMAIL_HOST_PASSWORD = env.get("HANDOVER_SMTP_PASSWORD")
    EMAIL_USE_TLS = env.get_bool("HANDOVER_SMTP_TLS")
    EMAIL_TIMEOUT = 20
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "mail")
DEFAULT_FROM_EMAIL = env.get("HANDOVER_MAIL_FROM")
# A webhook posts from the server: only to these hosts, so a subscription cannot aim it at the internal network.
HANDOVER_WEBHOOK_HOSTS = env.get_list("HANDOVER_WEBHOOK_HOSTS")

# L8: behind the TLS proxy REMOTE_ADDR is the proxy; its header names the client, believed only from these.
HANDOVER_PROXY_CLIENT_HEADER = env.get("HANDOVER_PROXY_CLIENT_HEADER")
HANDOVER_TRUSTED_PROXIES = [str(a) for a in env.get_addresses("HANDOVER_TRUSTED_PROXIES")]

HANDOVER_ATTACHMENT_DIR = DATA_DIR / "attachments"
HANDOVER_ATTACHMENT_MAX_BYTES = env.get_int("HANDOVER_ATTACHMENT_MAX_BYTES")
# Register imports (registers/io/reading.py): the file's size, its data rows, the worker's memory.
HANDOVER_IMPORT_MAX_BYTES = env.get_int("HANDOVER_IMPORT_MAX_BYTES")
HANDOVER_IMPORT_MAX_ROWS = env.get_int("HANDOVER_IMPORT_MAX_ROWS")
HANDOVER_WORKER_MEMORY_LIMIT_MB = env.get_int("HANDOVER_WORKER_MEMORY_LIMIT_MB")
# Request bodies, refused from CONTENT_LENGTH before they are read (handover.core.uploads). The import limit is
# also the one register imports apply to the file itself.
HANDOVER_UPLOAD_MAX_BYTES_BUNDLE = env.get_int("HANDOVER_UPLOAD_MAX_BYTES_BUNDLE")
HANDOVER_UPLOAD_MAX_BYTES_IMPORT = env.get_int("HANDOVER_UPLOAD_MAX_BYTES_IMPORT")
HANDOVER_UPLOAD_MAX_BYTES_ATTACHMENT = env.get_int("HANDOVER_UPLOAD_MAX_BYTES_ATTACHMENT")
HANDOVER_UPLOAD_MAX_BYTES_EVIDENCE = env.get_int("HANDOVER_UPLOAD_MAX_BYTES_EVIDENCE")
HANDOVER_UPLOAD_MAX_BYTES_OTHER = env.get_int("HANDOVER_UPLOAD_MAX_BYTES_OTHER")

HANDOVER_PACKAGE_KEY = Path(env.get("HANDOVER_PACKAGE_KEY") or DATA_DIR / "keys" / "package.key")
HANDOVER_PACKAGE_DIR = DATA_DIR / "packages"
# Export each annexed form (表5–23, 表39) for the package in the task worker once it is signed, so that the build
# reuses it (docs/package.md); off, the first build exports what it does not find.
HANDOVER_PACKAGE_EXPORT_AT_SIGNING = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env.get("HANDOVER_TIME_ZONE")
FORMAT_MODULE_PATH = ["handover.core.formats"]  # 2026-12-04 15:31 in both languages (review M2)

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "handover.core.staticfiles.Storage"},  # WhiteNoise's, compressing less often
}
WHITENOISE_USE_FINDERS = True

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "handover.api.authentication.ExpiringTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "handover.api.schema.AutoSchema",
    # Bodies are JSON objects, forms or uploads; a JSON list or scalar is refused by the parser (400).
    "DEFAULT_PARSER_CLASSES": [
        "handover.api.parsers.ObjectJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "handover.api.pagination.CappedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "handover.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Handover API",
    "DESCRIPTION": _("Handover REST API"),
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the package: the machine may be offline (DESIGN.md decision 8).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "handover.api.schema.error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "file": {
            "class": "logging.handlers.RotatingFileHandler",
            "filename": str(DATA_DIR / "logs" / "handover.log"),
            "maxBytes": 10 * 1024 * 1024,
            "backupCount": 5,
            "formatter": "plain",
        },
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["file", "console"], "level": env.get("HANDOVER_LOG_LEVEL")},
    # WeasyPrint and fontTools tell every PDF's progress at INFO; the log and `handover package build` keep
    # only their warnings.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
