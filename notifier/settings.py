"""Settings: one flat module, every value from the environment.

A bad value fails at start-up with ImproperlyConfigured naming the variable, never at the
first notification. README.md lists every variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from notifier.env import (
    database_from_url,
    email_from_url,
    env,
    envbool,
    envchoice,
    envint,
    envlist,
    envnumber,
    proxy_ssl_header,
    q_broker,
    shared_cache,
)
from notifier.keys import keys_load

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = envbool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")]
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- HTTPS --------------------------------------------------------------------------------
# Production is served over TLS (here or at a proxy): redirect plain HTTP, send HSTS, keep the
# session and CSRF cookies off plain HTTP. `make run` sets NOTIFIER_HTTPS=false for a laptop.
NOTIFIER_HTTPS = envbool("NOTIFIER_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", NOTIFIER_HTTPS)
SESSION_COOKIE_SECURE = NOTIFIER_HTTPS
CSRF_COOKIE_SECURE = NOTIFIER_HTTPS
SECURE_HSTS_SECONDS = envint("DJANGO_SECURE_HSTS_SECONDS", 31_536_000 if NOTIFIER_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", NOTIFIER_HTTPS)
SECURE_HSTS_PRELOAD = envbool("DJANGO_SECURE_HSTS_PRELOAD", NOTIFIER_HTTPS)
# Behind a proxy that ends TLS: the header it sets to "https" (and strips from clients), e.g.
# HTTP_X_FORWARDED_PROTO. Unset: only a direct TLS connection counts as secure.
_proxy_ssl_header = proxy_ssl_header(env("DJANGO_SECURE_PROXY_SSL_HEADER"))
if _proxy_ssl_header:
    SECURE_PROXY_SSL_HEADER = _proxy_ssl_header
# How many proxies in front append to X-Forwarded-For (0: clients connect directly). The
# sign-in throttle counts failures per client address; trust only as many entries as
# there are proxies, or a client could choose its own address.
NOTIFIER_PROXY_COUNT = envint("NOTIFIER_PROXY_COUNT", 0, minimum=0)

NOTIFIER_DEMO = envbool("NOTIFIER_DEMO", False)  # `make demo` (README, "The demo inbox")
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
    "notifier.apps.NotifierConfig",
    "django_q",
    "axes",
    "registrations.apps.RegistrationsConfig",
    "channels.apps.NotificationChannelsConfig",
    *(["notifier.demo.apps.DemoConfig"] if NOTIFIER_DEMO else []),  # the demo inbox
]

MIDDLEWARE = [
    "notifier.middleware.RequestBodyLimitMiddleware",  # first: a 413 before anything reads
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin, API docs) straight from STATIC_ROOT, compressed, before anything
    # touches the session or the database.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "notifier.middleware.DemoBannerMiddleware",  # the demo's banner; a no-op otherwise
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


_default_db = env("DATABASE_URL")
if not _default_db:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _default_db = f"sqlite:///{VAR_DIR / 'notifier.sqlite3'}"
DATABASES = {"default": database_from_url(_default_db)}
AUDIT_DATABASE_URL = env("AUDIT_DATABASE_URL")
if AUDIT_DATABASE_URL:
    DATABASES["audit"] = database_from_url(AUDIT_DATABASE_URL)
    if DATABASES["audit"]["ENGINE"].endswith("postgresql"):
        # An unreachable mirror must not hold a sender for the OS's TCP timeout (minutes).
        DATABASES["audit"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# `audit` holds only the ledger's tables, written and read explicitly by the audit mirror.
DATABASE_ROUTERS = ["notifier.routers.AuditRouter"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Sign-in throttle (django-axes) -------------------------------------------------------
# /login/ and the admin's login: AXES_FAILURE_LIMIT wrong passwords for one username from one
# address lock that pair out for AXES_COOLOFF_MINUTES. The API takes tokens, never passwords.
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
# Failed sign-ins are kept for the admin (Axes > Access attempts); successful ones are not.
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
        name: {"handlers": ["console"], "level": env("NOTIFIER_LOG_LEVEL", "INFO")}
        for name in ("notifier", "channels")
    },
}

# --- REST API -----------------------------------------------------------------------------
# Request bodies: a registration is a few kilobytes (a setup's message template at most 20,000
# characters), so 1 MiB leaves room for dozens of setups while bounding what one request may
# make the service hold in memory; Django's default is 2.5 MB. Over it: 413, on every path.
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("NOTIFIER_MAX_REQUEST_BYTES", 1024 * 1024, minimum=65536)
# JSON nested deeper than this is refused (400) before it is parsed: a registration is 5 deep,
# and json.loads recurses per level, raising RecursionError near 1,000.
NOTIFIER_MAX_JSON_DEPTH = envint("NOTIFIER_MAX_JSON_DEPTH", 64, minimum=8)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "registrations.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["registrations.parsers.LimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "registrations.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "registrations.api_schema.ApiAutoSchema",
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
    "ENUM_NAME_OVERRIDES": {"EventsEnum": "registrations.serializers.EVENT_CHOICES"},
}

# --- The engine ---------------------------------------------------------------------------
NOTIFIER_STORAGE = envchoice("NOTIFIER_STORAGE", "orm", choices=("orm", "dynamodb"))
NOTIFIER_DYNAMODB_TABLE_PREFIX = env("NOTIFIER_DYNAMODB_TABLE_PREFIX", "codedeploy-notifier-")
# Days before DynamoDB's TTL expires finished deployments and deliveries (the mirror keeps them).
NOTIFIER_DYNAMODB_TTL_DAYS = envint("NOTIFIER_DYNAMODB_TTL_DAYS", 180, minimum=1)
# A source is polled every NOTIFIER_POLL_INTERVAL s while busy (deployments running, or one
# created in the last NOTIFIER_BUSY_WINDOW s), else every NOTIFIER_IDLE_POLL_INTERVAL s.
NOTIFIER_POLL_INTERVAL = envnumber("NOTIFIER_POLL_INTERVAL", 2.0, minimum=0.1)
NOTIFIER_IDLE_POLL_INTERVAL = envnumber("NOTIFIER_IDLE_POLL_INTERVAL", 15.0, minimum=0.1)
NOTIFIER_BUSY_WINDOW = envnumber("NOTIFIER_BUSY_WINDOW", 600, minimum=0)
# Push: SQS long-poll wait (s); a source with a queue is polled only every RECONCILE s.
NOTIFIER_PUSH_WAIT_SECONDS = min(20, envint("NOTIFIER_PUSH_WAIT_SECONDS", 20))
NOTIFIER_RECONCILE_INTERVAL = envnumber("NOTIFIER_RECONCILE_INTERVAL", 60, minimum=0.1)
# Sources polled at once, each on its own thread (a hung source holds only its own).
NOTIFIER_POLL_THREADS = envint("NOTIFIER_POLL_THREADS", 4, minimum=1)
# How far back the first cycle looks when there is no watermark yet (seconds).
NOTIFIER_POLL_LOOKBACK = envnumber("NOTIFIER_POLL_LOOKBACK", 600, minimum=0)
# Every cycle lists again this many seconds before the watermark (ListDeployments lags).
NOTIFIER_POLL_OVERLAP = envnumber("NOTIFIER_POLL_OVERLAP", 60, minimum=0)
# /healthz answers 503 once polling has failed this long (s): 5 poll intervals, at least 10.
NOTIFIER_UNHEALTHY_AFTER = envnumber(
    "NOTIFIER_UNHEALTHY_AFTER", max(10.0, 5 * NOTIFIER_POLL_INTERVAL)
)
NOTIFIER_POLL_MODE = envchoice("NOTIFIER_POLL_MODE", "account", choices=("account", "group"))
NOTIFIER_SEND_TIMEOUT = envnumber("NOTIFIER_SEND_TIMEOUT", 10, minimum=0.1)
NOTIFIER_MAX_ATTEMPTS = envint("NOTIFIER_MAX_ATTEMPTS", 6, minimum=1)
NOTIFIER_RETRY_BASE = envnumber("NOTIFIER_RETRY_BASE", 2, minimum=0)
NOTIFIER_RETRY_MAX = envnumber("NOTIFIER_RETRY_MAX", 300, minimum=0)
# Who deployed (s): a setup that tells the person waits this long for CloudTrail to name them;
# a deployment's principal is looked up for LOOKUP_FOR after it was created, each source at
# most every LOOKUP_EVERY.
NOTIFIER_DEPLOYER_WAIT = envnumber("NOTIFIER_DEPLOYER_WAIT", 120, minimum=0)
NOTIFIER_DEPLOYER_LOOKUP_FOR = envnumber("NOTIFIER_DEPLOYER_LOOKUP_FOR", 1800, minimum=0)
NOTIFIER_DEPLOYER_LOOKUP_EVERY = envnumber("NOTIFIER_DEPLOYER_LOOKUP_EVERY", 15, minimum=0)
NOTIFIER_SEND_THREADS = envint("NOTIFIER_SEND_THREADS", 8, minimum=1)
# Each template render stops past these: its thread's CPU ms, output bytes (message_dialect).
NOTIFIER_TEMPLATE_TIME_LIMIT_MS = envnumber("NOTIFIER_TEMPLATE_TIME_LIMIT_MS", 50, minimum=1)
NOTIFIER_TEMPLATE_MAX_BYTES = envint("NOTIFIER_TEMPLATE_MAX_BYTES", 64 * 1024, minimum=1024)
# A claim's lease outlasts one send, or another sender could retry a send still in flight.
NOTIFIER_CLAIM_LEASE = envnumber(
    "NOTIFIER_CLAIM_LEASE", max(30.0, NOTIFIER_SEND_TIMEOUT * 3), minimum=1
)
if NOTIFIER_CLAIM_LEASE <= NOTIFIER_SEND_TIMEOUT:
    raise ImproperlyConfigured("NOTIFIER_CLAIM_LEASE must be longer than NOTIFIER_SEND_TIMEOUT")
# A scheduled loop's length (over a minute: django-q2 wakes every ~30 s); its one-per-node lock.
NOTIFIER_LOOP_SECONDS = envnumber("NOTIFIER_LOOP_SECONDS", 90, minimum=1)
NOTIFIER_NODE_LOCK = Path(env("NOTIFIER_NODE_LOCK") or VAR_DIR / "service-loop.lock")

NEW_RELIC_API_KEY = env("NEW_RELIC_API_KEY")
NEW_RELIC_API_URL = env("NEW_RELIC_API_URL", "https://api.newrelic.com").rstrip("/")
NEW_RELIC_NERDGRAPH_URL = env("NEW_RELIC_NERDGRAPH_URL", "https://api.newrelic.com/graphql")
SLACK_API_URL = env("SLACK_API_URL", "https://slack.com/api").rstrip("/")
PAGERDUTY_EVENTS_URL = env("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com").rstrip("/")

EMAIL_URL = env("EMAIL_URL")
_email_settings = email_from_url(EMAIL_URL)
# Django's defaults when EMAIL_URL is empty (email setups then fail with "EMAIL_URL is not set").
EMAIL_HOST = _email_settings.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email_settings.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email_settings.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email_settings.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email_settings.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email_settings.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = NOTIFIER_SEND_TIMEOUT
NOTIFIER_FROM_EMAIL = env("NOTIFIER_FROM_EMAIL", "codedeploy-notifier@localhost")
DEFAULT_FROM_EMAIL = NOTIFIER_FROM_EMAIL

# --- Bounds on what one user or one registration can make the service send ----------------
# Setups per registration, recipients per email setup: one deployment is not 1000s of messages.
NOTIFIER_MAX_SETUPS_PER_REGISTRATION = envint("NOTIFIER_MAX_SETUPS_PER_REGISTRATION", 20, minimum=1)
NOTIFIER_MAX_RECIPIENTS = envint("NOTIFIER_MAX_RECIPIENTS", 50, minimum=1)
# Sends a person starts by hand (test, Resend): at most this many per user per minute, per action.
NOTIFIER_MANUAL_SENDS_PER_MINUTE = envint("NOTIFIER_MANUAL_SENDS_PER_MINUTE", 10, minimum=1)
# Who SES setups may send as (addresses, @domain entries). Empty: NOTIFIER_FROM_EMAIL only.
NOTIFIER_SES_FROM_ALLOWED = envlist(
    "NOTIFIER_SES_FROM_ALLOWED",
    valid=lambda entry: "@" in entry and " " not in entry,
    takes="addresses and @domain entries, comma-separated "
    "(deploys@example.com,@notify.example.com)",
)
# SNS topics setups may publish to: ARN patterns (`*` within one part). Empty: own account's.
NOTIFIER_SNS_TOPIC_ALLOWED = envlist(
    "NOTIFIER_SNS_TOPIC_ALLOWED",
    valid=lambda entry: entry.startswith("arn:") and entry.count(":") == 5,
    takes="topic ARN patterns, comma-separated, with * for any part "
    "(arn:aws:sns:*:123456789012:deploy-*)",
)

# --- Keys ---------------------------------------------------------------------------------
# DJANGO_SECRET_KEY signs sessions; NOTIFIER_ENCRYPTION_KEY (Fernet keys, newest first)
# encrypts setups' secrets. No defaults; the environment wins over NOTIFIER_KEYS_FILE; with
# debug on and a key missing, var/keys.env is made once (README, "Keys").
NOTIFIER_KEYS_FILE = env("NOTIFIER_KEYS_FILE")

SECRET_KEY, NOTIFIER_ENCRYPTION_KEY = keys_load(
    keys_file=NOTIFIER_KEYS_FILE, debug=DEBUG, var_dir=VAR_DIR
)

# Hosts (host, host:port or CIDR) a user-supplied URL may name although they resolve to a
# loopback, link-local or private address.
NOTIFIER_URL_ALLOWLIST = envlist("NOTIFIER_URL_ALLOWLIST")


# --- django-q2 ----------------------------------------------------------------------------
Q_BROKER_URL = env("Q_BROKER_URL")
Q_CLUSTER: dict = {
    "name": "notifier",
    "workers": envint("NOTIFIER_WORKERS", 2, minimum=2),
    "timeout": int(NOTIFIER_LOOP_SECONDS + 60),
    "retry": int(NOTIFIER_LOOP_SECONDS + 120),  # over timeout, or a long task runs twice
    "max_attempts": 1,
    "catch_up": False,
    "poll": 0.2,
    "ack_failures": True,
    "save_limit": 250,
    # A fresh worker after each task (loop) gives its memory back: docs/performance.md.
    "recycle": 1,
    "label": "Task queue",
    **q_broker(Q_BROKER_URL),  # Redis for a redis:// URL, else the database
}

# --- caches ---------------------------------------------------------------------------------
# `ratelimit` (notifier.ratelimit) is shared by every process and node: Redis when they share
# one already (Q_BROKER_URL), else a table in their database. `default` stays per process.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": shared_cache(Q_BROKER_URL),
}
