"""Django settings for CareLoop, every value from the environment (see careloop/env.py)."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from careloop import env

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules
# Tests never touch the developer's var/ (database, keys): they get a directory of their own.
VAR_DIR = Path(
    env.env_str("CARELOOP_VAR_DIR")
    or (tempfile.mkdtemp(prefix="careloop-test-") if TESTING else BASE_DIR / "var")
)

DATABASE_URL = env.env_str("CARELOOP_DATABASE_URL") or f"sqlite:///{VAR_DIR / 'careloop.db'}"
DATABASES = {"default": env.database_from_url(DATABASE_URL, BASE_DIR)}
EMBEDDED = DATABASES["default"]["ENGINE"].endswith("sqlite3")

DEBUG = env.env_bool("CARELOOP_DEBUG")
# Two-factor login for every staff member, not only administrators (a hospital policy).
TWO_FACTOR_ALL_STAFF = env.env_bool("CARELOOP_TWO_FACTOR_ALL_STAFF")
SECRET_KEY = env.secret_key(VAR_DIR, EMBEDDED)
FIELD_ENCRYPTION_KEYS = env.field_keys(VAR_DIR, EMBEDDED)

HTTP_ADDR = env.parse_addr(
    env.env_str("CARELOOP_HTTP_ADDR", "127.0.0.1:8000"), "CARELOOP_HTTP_ADDR"
)
MLLP_ADDR = env.parse_addr(
    env.env_str("CARELOOP_MLLP_ADDR", "127.0.0.1:2575"), "CARELOOP_MLLP_ADDR"
)

ALLOWED_HOSTS = env.env_list(
    "CARELOOP_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver," + HTTP_ADDR[0]
)
CSRF_TRUSTED_ORIGINS = env.env_list("CARELOOP_TRUSTED_ORIGINS")

# django-ninja's Swagger page and its assets, found without importing django-ninja: as an
# installed app it would be imported (with pydantic) by every process at start-up, ~0.7 s of
# CPU for each CLI command and worker that never serves the API. The API's docs view renders
# the page itself (careloop.api.LocalSwagger).
NINJA_DIR = Path(importlib.util.find_spec("ninja").origin).parent  # type: ignore[arg-type,union-attr]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_otp",
    "careloop.third_party_apps.Totp",
    "careloop.third_party_apps.Axes",
    "csp",
    "django_tasks",
    "careloop.third_party_apps.TaskQueue",
    "careloop",
    "careloop.accounts",
    "careloop.audit",
    "careloop.patients",
    "careloop.clinical",
    "careloop.interop",
    "careloop.followup",
    "careloop.rules",
    "careloop.outreach",
    "careloop.questionnaires",
    "careloop.portal",
    "careloop.analytics",
    "careloop.care",
]

MIDDLEWARE = [
    "careloop.health.HealthCheckMiddleware",  # first: a balancer probes by address, on HTTP
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "careloop.nul_guard.NulQueryMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "careloop.accounts.middleware.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "careloop.audit.middleware.RequestContextMiddleware",
    "careloop.api_middleware.ApiErrorsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "careloop.urls"
WSGI_APPLICATION = "careloop.wsgi.application"
ASGI_APPLICATION = "careloop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [NINJA_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "careloop.context_processors.navigation",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Lockout (django-axes): five failures for one username lock it for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
AXES_VERBOSE = False
# Lockout is per user name on purpose: a hospital's staff often share one NAT address, so
# locking an IP would lock a whole ward out after five typos.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

OTP_TOTP_ISSUER = "CareLoop"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "careloop" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static", NINJA_DIR / "static"]
MEDIA_ROOT = (
    env.env_str("CARELOOP_MEDIA_ROOT") or str(VAR_DIR / "media")
    if env.env_str("CARELOOP_S3_BUCKET")  # media in the bucket: the folder is not used
    else env.media_root(env.env_str("CARELOOP_MEDIA_ROOT"), VAR_DIR / "media")
)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # Uploaded sheets and their error reports hold full ID and phone numbers; recordings
        # and printed reports are personal too. Only CareLoop's own processes read them
        # (served through its views, never from the folder): no one else on the machine.
        "OPTIONS": {
            "location": MEDIA_ROOT,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


def s3_storage() -> dict[str, Any] | None:
    """Media (call recordings, printed reports) on S3-compatible storage (MinIO, OSS, COS,
    S3) when ``CARELOOP_S3_BUCKET`` is set; needs the "s3" extra (django-storages)."""
    bucket = env.env_str("CARELOOP_S3_BUCKET")
    if not bucket:
        return None
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env.env_str("CARELOOP_S3_ENDPOINT") or None,
            "region_name": env.env_str("CARELOOP_S3_REGION") or None,
            "access_key": env.env_str("CARELOOP_S3_ACCESS_KEY") or None,
            "secret_key": env.env_str("CARELOOP_S3_SECRET_KEY") or None,
            "location": env.env_str("CARELOOP_S3_PREFIX"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }


STORAGES["default"] = s3_storage() or STORAGES["default"]
# Call recordings larger than this are refused on upload.
CARELOOP_RECORDING_MAX_BYTES = 50 * 2**20
# Shared secret of the telephony webhook (/hooks/telephony/recording); empty: switched off.
CARELOOP_TELEPHONY_SECRET = env.env_str("CARELOOP_TELEPHONY_SECRET")
# Outreach sending: messages claimed per batch, requests in flight at once, and how long a
# claim holds before another worker may take the messages of a worker that died.
# The address patients reach CareLoop at (links in messages to their pages).
CARELOOP_PUBLIC_URL = env.env_str(
    "CARELOOP_PUBLIC_URL", f"http://{HTTP_ADDR[0]}:{HTTP_ADDR[1]}"
).rstrip("/")
# Points a patient earns on their pages: a questionnaire completed, the first reading of a day.
CARELOOP_POINTS_QUESTIONNAIRE = env.env_int("CARELOOP_POINTS_QUESTIONNAIRE", 5, 0, 1000)
CARELOOP_POINTS_CHECKIN = env.env_int("CARELOOP_POINTS_CHECKIN", 1, 0, 1000)
CARELOOP_POINTS_LECTURE = env.env_int("CARELOOP_POINTS_LECTURE", 10, 0, 1000)
# What patients may exchange points for: "name:points,name:points".
CARELOOP_POINTS_REWARDS = [
    (name.strip(), int(points))
    for name, _sep, points in (
        item.rpartition(":")
        for item in env.env_list(
            "CARELOOP_POINTS_REWARDS", "血压计袖带:30,免费血糖试纸一盒:50,专家健康讲座名额:20"
        )
    )
    if name.strip() and points.strip().isdecimal()
]
# Unit cost of one attempt per channel, in yuan, for the dashboard's cost per follow-up:
# "channel:cost,channel:cost".
CARELOOP_CHANNEL_COSTS = {
    name.strip(): float(cost)
    for name, _sep, cost in (
        item.partition(":")
        for item in env.env_list(
            "CARELOOP_CHANNEL_COSTS",
            "phone:1.5,sms:0.05,voice:0.12,wechat:0,wecom:0,email:0,app:0,home_visit:30,"
            "clinic:0,video:2",
        )
    )
    if name.strip() and cost.strip().replace(".", "", 1).isdecimal()
}
# Value tier thresholds (F5), highest first: "tier:yuan:visits" over the last 12 months, or
# "off" to leave value tiers to rules and staff (see careloop/patients/value_tiers.py).
CARELOOP_VALUE_TIERS = env.env_str("CARELOOP_VALUE_TIERS", "high:10000:12,medium:2000:4")
# Processes that render a batch of printed reports (WeasyPrint is CPU-bound).
CARELOOP_REPORT_PROCESSES = env.env_int("CARELOOP_REPORT_PROCESSES", os.cpu_count() or 1, 1, 64)
# A language model the hospital runs itself (OpenAI-compatible chat completions), drafting
# answers to patients' questions the knowledge base does not answer, for staff to check; off
# when no address is set. docs/knowledge.md.
CARELOOP_LLM_URL = env.env_str("CARELOOP_LLM_URL").rstrip("/")
CARELOOP_LLM_MODEL = env.env_str("CARELOOP_LLM_MODEL", "qwen2.5-7b-instruct")
CARELOOP_LLM_API_KEY = env.env_str("CARELOOP_LLM_API_KEY")
CARELOOP_SEND_BATCH = env.env_int("CARELOOP_SEND_BATCH", 500, 1, 20_000)
CARELOOP_SEND_CONCURRENCY = env.env_int("CARELOOP_SEND_CONCURRENCY", 100, 1, 5_000)
CARELOOP_SEND_LEASE_SECONDS = env.env_int("CARELOOP_SEND_LEASE_SECONDS", 120, 10, 3_600)

# Static files are served by WhiteNoise straight from the finders: no collectstatic step, and
# vendored assets carry their version in the path, so long caching is safe for them.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Security headers. HSTS is only sent on HTTPS requests; TLS is expected to terminate at a
# reverse proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.env_bool("CARELOOP_SSL_REDIRECT")
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.env_bool("CARELOOP_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 10
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "media-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}


_LOG_LEVEL = env.env_str("CARELOOP_LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {
        "redact_links": {"()": "careloop.log_privacy.RedactingFilter"},
        "task_steps": {
            "()": "careloop.log_noise.TaskSteps",
            "keep": "DEBUG" if _LOG_LEVEL == "DEBUG" else "WARNING",
        },
    },
    "handlers": {
        # Every record redacted: a patient link's token never reaches a log (log_privacy).
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_links"],
        }
    },
    "root": {"handlers": ["stderr"], "level": _LOG_LEVEL},
    "loggers": {
        # Django's own console handlers (DEBUG, runserver) would print a request's path
        # unredacted: its records go through ours.
        "django": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # Every task's start and end (careloop.log_noise); failures still logged.
        "django_tasks": {"filters": ["task_steps"]},
        # httpx logs every request's full URL at INFO: WeChat tokens and phone numbers live
        # in query strings. Our own client logs host and path only (careloop.outreach.http).
        "httpx": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # A denied request is logged with its path only (never its data) by Django itself.
        "django.security.DisallowedHost": {"level": "ERROR"},
    },
}

# Patient list and API page size.
PAGE_SIZE = 25

# Behind a reverse proxy, the audit log takes the client address from X-Forwarded-For.
TRUST_X_FORWARDED_FOR = env.env_bool("CARELOOP_TRUST_X_FORWARDED_FOR")
