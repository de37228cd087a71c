"""Settings: one flat module, every value from the environment.

A bad value fails at start-up with ImproperlyConfigured naming the variable, never at the
first notification. README.md lists every variable.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def envnumber(name: str, default: float, *, minimum: float = 0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {raw!r}")
    return value


def envint(name: str, default: int, *, minimum: int = 0) -> int:
    value = envnumber(name, default, minimum=minimum)
    if value != int(value):
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}")
    return int(value)


DEBUG = envbool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in env("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o.strip()
]

# --- HTTPS --------------------------------------------------------------------------------
# Production is served over TLS (at the service or at a proxy in front): redirect plain HTTP,
# send HSTS, and keep the session and CSRF cookies off plain HTTP. `make run` on a laptop
# sets NOTIFIER_HTTPS=false to serve http://127.0.0.1:8000.
NOTIFIER_HTTPS = envbool("NOTIFIER_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", NOTIFIER_HTTPS)
SESSION_COOKIE_SECURE = NOTIFIER_HTTPS
CSRF_COOKIE_SECURE = NOTIFIER_HTTPS
SECURE_HSTS_SECONDS = envint("DJANGO_SECURE_HSTS_SECONDS", 31_536_000 if NOTIFIER_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", NOTIFIER_HTTPS)
SECURE_HSTS_PRELOAD = envbool("DJANGO_SECURE_HSTS_PRELOAD", NOTIFIER_HTTPS)
# Behind a proxy that ends TLS: the header it sets to "https" (and strips from clients), e.g.
# HTTP_X_FORWARDED_PROTO. Unset: only a direct TLS connection counts as secure.
_proxy_ssl_header = env("DJANGO_SECURE_PROXY_SSL_HEADER").strip()
if _proxy_ssl_header:
    _name, _, _value = _proxy_ssl_header.partition("=")
    if not _name.startswith("HTTP_") or not _name.replace("_", "").isalnum():
        raise ImproperlyConfigured(
            "DJANGO_SECURE_PROXY_SSL_HEADER must name the header as Django sees it, e.g. "
            f"HTTP_X_FORWARDED_PROTO for X-Forwarded-Proto, not {_proxy_ssl_header!r}"
        )
    SECURE_PROXY_SSL_HEADER = (_name, _value or "https")
# How many proxies in front append to X-Forwarded-For (0: clients connect directly). The
# sign-in throttle counts failures per client address; trust only as many entries as
# there are proxies, or a client could choose its own address.
NOTIFIER_PROXY_COUNT = envint("NOTIFIER_PROXY_COUNT", 0, minimum=0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "notifier.apps.NotifierConfig",
    "registrations.apps.RegistrationsConfig",
    "channels.apps.NotificationChannelsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, API docs) straight from STATIC_ROOT, compressed, before anything
    # touches the session or the database.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "notifier.urls"
WSGI_APPLICATION = "notifier.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

VAR_DIR = Path(env("NOTIFIER_VAR_DIR") or BASE_DIR / "var")


def _database(url: str) -> dict:
    try:
        config = dj_database_url.parse(url, conn_max_age=60)
    except Exception as exc:  # dj_database_url raises several types for bad URLs
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # The web app, the scheduler and the workers share one file: WAL lets readers
        # proceed during a write, IMMEDIATE avoids "database is locked" on lock upgrades.
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        # Tests use a file, not memory, so threads and the end-to-end tests' processes
        # share it as the service's processes share the real one.
        # One file per test run (by process id), so two runs never share one.
        test_name = f"codedeploy-notifier-test-{os.getpid()}.sqlite3"
        config["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / test_name)}
    return config


_default_db = env("DATABASE_URL")
if not _default_db:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _default_db = f"sqlite:///{VAR_DIR / 'notifier.sqlite3'}"
DATABASES = {"default": _database(_default_db)}
AUDIT_DATABASE_URL = env("AUDIT_DATABASE_URL")
if AUDIT_DATABASE_URL:
    DATABASES["audit"] = _database(AUDIT_DATABASE_URL)
    if DATABASES["audit"]["ENGINE"].endswith("postgresql"):
        # An unreachable mirror must not hold a sender for the OS's TCP timeout (minutes).
        DATABASES["audit"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# `audit` holds only the ledger's tables, written and read explicitly by the audit mirror.
DATABASE_ROUTERS = ["notifier.routers.AuditRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Sign-in throttle (django-axes) -------------------------------------------------------
# The history pages' /login/ and the admin's login: AXES_FAILURE_LIMIT wrong passwords for one
# username from one client address lock that pair out for AXES_COOLOFF_MINUTES (each try
# meanwhile starts the wait again); other users, and the same user elsewhere, are
# unaffected. The API takes tokens, never passwords, so it has nothing to throttle.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = envbool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envnumber("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_CLIENT_IP_CALLABLE = "notifier.security.client_ip"
AXES_LOCKOUT_CALLABLE = "notifier.security.lockout_response"
# Failed sign-ins are kept for the admin (Axes > Access attempts); successful ones are not
# logged, which keeps the table small.
AXES_DISABLE_ACCESS_LOG = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `collectstatic` fills it (run_service does, on every start); WhiteNoise serves it.
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Gzipped copies made at collectstatic; no manifest, so pages render the same
    # whether or not collectstatic ran (tests, a fresh checkout).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "sign-in"
LOGIN_REDIRECT_URL = "/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"redact_secrets": {"()": "channels.secrets.RedactSecretsFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "loggers": {
        "notifier": {"handlers": ["console"], "level": env("NOTIFIER_LOG_LEVEL", "INFO")},
        "channels": {"handlers": ["console"], "level": env("NOTIFIER_LOG_LEVEL", "INFO")},
    },
}

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "registrations.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CodeDeploy Notifier API",
    "DESCRIPTION": "Register AWS CodeDeploy applications and choose who hears about their "
    "deployments.",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- The engine ---------------------------------------------------------------------------
NOTIFIER_STORAGE = env("NOTIFIER_STORAGE", "orm")
if NOTIFIER_STORAGE not in ("orm", "dynamodb"):
    raise ImproperlyConfigured(
        f"NOTIFIER_STORAGE must be orm or dynamodb, not {NOTIFIER_STORAGE!r}"
    )
NOTIFIER_DYNAMODB_TABLE_PREFIX = env("NOTIFIER_DYNAMODB_TABLE_PREFIX", "codedeploy-notifier-")
# Finished deployments and deliveries expire from DynamoDB (its TTL) after this many days;
# the audit mirror, when there is one, keeps them.
NOTIFIER_DYNAMODB_TTL_DAYS = envint("NOTIFIER_DYNAMODB_TTL_DAYS", 180, minimum=1)
NOTIFIER_POLL_INTERVAL = envnumber("NOTIFIER_POLL_INTERVAL", 2.0, minimum=0.1)
# How far back the first cycle looks when there is no watermark yet (seconds).
NOTIFIER_POLL_LOOKBACK = envnumber("NOTIFIER_POLL_LOOKBACK", 600, minimum=0)
# Every cycle lists again this many seconds before the watermark: ListDeployments is
# eventually consistent, and a deployment created just before a cycle may appear late.
NOTIFIER_POLL_OVERLAP = envnumber("NOTIFIER_POLL_OVERLAP", 60, minimum=0)
NOTIFIER_POLL_MODE = env("NOTIFIER_POLL_MODE", "account")
if NOTIFIER_POLL_MODE not in ("account", "group"):
    raise ImproperlyConfigured(
        f"NOTIFIER_POLL_MODE must be account or group, not {NOTIFIER_POLL_MODE!r}"
    )
NOTIFIER_SEND_TIMEOUT = envnumber("NOTIFIER_SEND_TIMEOUT", 10, minimum=0.1)
NOTIFIER_MAX_ATTEMPTS = envint("NOTIFIER_MAX_ATTEMPTS", 6, minimum=1)
NOTIFIER_RETRY_BASE = envnumber("NOTIFIER_RETRY_BASE", 2, minimum=0)
NOTIFIER_RETRY_MAX = envnumber("NOTIFIER_RETRY_MAX", 300, minimum=0)
NOTIFIER_SEND_THREADS = envint("NOTIFIER_SEND_THREADS", 8, minimum=1)
# Every render of a message template (sends, test sends, previews) stops past these: CPU time
# of the rendering thread, in milliseconds, and bytes of output (channels.message_dialect).
NOTIFIER_TEMPLATE_TIME_LIMIT_MS = envnumber("NOTIFIER_TEMPLATE_TIME_LIMIT_MS", 50, minimum=1)
NOTIFIER_TEMPLATE_MAX_BYTES = envint("NOTIFIER_TEMPLATE_MAX_BYTES", 64 * 1024, minimum=1024)
# A claim's lease must outlast one send (timeout plus margin), or a slow send could be
# retried by another sender while the first is still talking to the provider.
NOTIFIER_CLAIM_LEASE = envnumber(
    "NOTIFIER_CLAIM_LEASE", max(30.0, NOTIFIER_SEND_TIMEOUT * 3), minimum=1
)
if NOTIFIER_CLAIM_LEASE <= NOTIFIER_SEND_TIMEOUT:
    raise ImproperlyConfigured("NOTIFIER_CLAIM_LEASE must be longer than NOTIFIER_SEND_TIMEOUT")
# The scheduled task runs a polling loop for this long; the schedule fires every minute and
# django-q2's scheduler wakes only about every 30 s, so the loop outlives the period.
NOTIFIER_LOOP_SECONDS = envnumber("NOTIFIER_LOOP_SECONDS", 90, minimum=1)

NEW_RELIC_API_KEY = env("NEW_RELIC_API_KEY")
NEW_RELIC_API_URL = env("NEW_RELIC_API_URL", "https://api.newrelic.com").rstrip("/")

NEW_RELIC_NERDGRAPH_URL = env("NEW_RELIC_NERDGRAPH_URL", "https://api.newrelic.com/graphql")
SLACK_API_URL = env("SLACK_API_URL", "https://slack.com/api").rstrip("/")
PAGERDUTY_EVENTS_URL = env("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com").rstrip("/")


def _email(url: str) -> dict:
    """EMAIL_URL -> Django's EMAIL_* settings: smtp:// (STARTTLS with ?tls=true) or smtps://."""
    from urllib.parse import parse_qs, unquote, urlsplit

    if not url:
        return {}
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ImproperlyConfigured(
            "EMAIL_URL must look like smtp://user:password@host:587?tls=true or "
            f"smtps://user:password@host:465, not a {parts.scheme or 'schemeless'} URL"
        )
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured("EMAIL_URL has a port that is not a number") from None
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL names no host, e.g. smtp://mail.example.com:25")
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    use_tls = query.get("tls", "false") in ("1", "true", "yes", "on")
    return {
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port or (465 if parts.scheme == "smtps" else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": use_tls and parts.scheme == "smtp",
        "EMAIL_USE_SSL": parts.scheme == "smtps",
    }


EMAIL_URL = env("EMAIL_URL")
globals().update(_email(EMAIL_URL))
EMAIL_TIMEOUT = NOTIFIER_SEND_TIMEOUT
NOTIFIER_FROM_EMAIL = env("NOTIFIER_FROM_EMAIL", "codedeploy-notifier@localhost")
DEFAULT_FROM_EMAIL = NOTIFIER_FROM_EMAIL

# --- Keys ---------------------------------------------------------------------------------
# DJANGO_SECRET_KEY signs sessions and CSRF tokens. NOTIFIER_ENCRYPTION_KEY encrypts the
# secrets in notification setups (webhook URLs, tokens, routing keys): Fernet keys,
# comma-separated, newest first; the first encrypts, all decrypt (manage.py
# rotate_encryption_key re-encrypts with the first). Neither has a default in the source,
# and the encryption key is never derived from the secret key. The environment wins over
# NOTIFIER_KEYS_FILE (NAME=value lines, made by manage.py generate_keys --file); with debug
# on and a key missing, var/keys.env is made once and used (the laptop path).
NOTIFIER_KEYS_FILE = env("NOTIFIER_KEYS_FILE")


def _keys() -> tuple[str, str]:
    from notifier.keys import KEY_NAMES, keys_file_create, keys_file_read

    keys_file = NOTIFIER_KEYS_FILE
    if not keys_file and DEBUG and not all(env(name) for name in KEY_NAMES):
        keys_file = str(VAR_DIR / "keys.env")
        keys_file_create(path=Path(keys_file))
    from_file = keys_file_read(path=Path(keys_file)) if keys_file else {}
    keys = {name: env(name).strip() or from_file.get(name, "") for name in KEY_NAMES}
    missing = [name for name in KEY_NAMES if not keys[name]]
    if missing:
        where = f" (nor in NOTIFIER_KEYS_FILE, {keys_file})" if keys_file else ""
        raise ImproperlyConfigured(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set{where}, "
            "and there is no default. Run `python manage.py generate_keys`: it prints fresh "
            "values as KEY=value lines; put them in the service's environment (or save them "
            "with `python manage.py generate_keys --file /path/keys.env` and set "
            "NOTIFIER_KEYS_FILE=/path/keys.env)."
            + (
                " Keep NOTIFIER_ENCRYPTION_KEY: stored secrets cannot be read without it."
                if "NOTIFIER_ENCRYPTION_KEY" in missing
                else ""
            )
        )
    return keys["DJANGO_SECRET_KEY"], keys["NOTIFIER_ENCRYPTION_KEY"]


SECRET_KEY, NOTIFIER_ENCRYPTION_KEY = _keys()

# Hosts (host, host:port or CIDR) a user-supplied URL may name although they resolve to a
# loopback, link-local or private address.
NOTIFIER_URL_ALLOWLIST = [h.strip() for h in env("NOTIFIER_URL_ALLOWLIST").split(",") if h.strip()]


def _check_encryption_key() -> None:
    from cryptography.fernet import Fernet

    for key in NOTIFIER_ENCRYPTION_KEY.split(","):
        try:
            Fernet(key.strip())
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                "NOTIFIER_ENCRYPTION_KEY must be one or more comma-separated Fernet keys "
                "(32 url-safe base64-encoded bytes each; make one with "
                "python manage.py generate_keys)"
            ) from None


_check_encryption_key()

# --- django-q2 ----------------------------------------------------------------------------
Q_BROKER_URL = env("Q_BROKER_URL")
Q_CLUSTER: dict = {
    "name": "notifier",
    "workers": envint("NOTIFIER_WORKERS", 2, minimum=2),
    "timeout": int(NOTIFIER_LOOP_SECONDS + 60),
    # retry must exceed timeout or a long task runs twice.
    "retry": int(NOTIFIER_LOOP_SECONDS + 120),
    "max_attempts": 1,
    "catch_up": False,
    "poll": 0.2,
    "ack_failures": True,
    "save_limit": 250,
    # A worker is replaced by a fresh fork of the sentinel after each task (each polling
    # loop): what a loop allocated (botocore's service models, response data, the heap
    # fragmentation they leave) is given back instead of kept by an idle worker for good.
    # docs/performance.md, "Memory".
    "recycle": 1,
    "label": "Task queue",
}
if Q_BROKER_URL.startswith(("redis://", "rediss://")):
    Q_CLUSTER["redis"] = Q_BROKER_URL
elif Q_BROKER_URL:
    raise ImproperlyConfigured(
        f"Q_BROKER_URL must be empty (the database broker) or a redis:// URL, not {Q_BROKER_URL!r}"
    )
else:
    Q_CLUSTER["orm"] = "default"
