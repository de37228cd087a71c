"""Reading the settings from the environment: typed values, and the values that need parsing
(database URLs, EMAIL_URL, the proxy's TLS header).

Every reader raises ImproperlyConfigured naming the variable and saying what it must be, so
a bad value fails at start-up, never at the first notification. Nothing here imports Django's
settings or an app: notifier.settings uses it while they are being made.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured


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


def envchoice(name: str, default: str, *, choices: tuple[str, str]) -> str:
    """One of two words, e.g. NOTIFIER_STORAGE: orm or dynamodb."""
    value = env(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be {choices[0]} or {choices[1]}, not {value!r}")
    return value


def envlist(name: str, *, valid: Callable[[str], bool] | None = None, takes: str = "") -> list[str]:
    """A comma-separated list, its entries stripped and empty ones left out; with `valid`,
    an entry it refuses stops start-up, saying what the variable `takes`."""
    entries = [entry.strip() for entry in env(name).split(",") if entry.strip()]
    for entry in entries:
        if valid is not None and not valid(entry):
            raise ImproperlyConfigured(f"{name} takes {takes}, not {entry!r}")
    return entries


def proxy_ssl_header(raw: str) -> tuple[str, str] | None:
    """DJANGO_SECURE_PROXY_SSL_HEADER ("HTTP_X_FORWARDED_PROTO" or "NAME=value") -> Django's
    SECURE_PROXY_SSL_HEADER, None when unset."""
    raw = raw.strip()
    if not raw:
        return None
    name, _, value = raw.partition("=")
    if not name.startswith("HTTP_") or not name.replace("_", "").isalnum():
        raise ImproperlyConfigured(
            "DJANGO_SECURE_PROXY_SSL_HEADER must name the header as Django sees it, e.g. "
            f"HTTP_X_FORWARDED_PROTO for X-Forwarded-Proto, not {raw!r}"
        )
    return (name, value or "https")


def database_from_url(url: str) -> dict:
    """A database URL -> one entry of Django's DATABASES; SQLite tuned for several processes."""
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


def email_from_url(url: str) -> dict:
    """EMAIL_URL -> Django's EMAIL_* settings, parsed by dj-email-url.

    smtp:// (STARTTLS with ?tls=true, implicit TLS with ?ssl=true) or smtps://, which here
    means implicit TLS on port 465 (dj-email-url reads smtps as STARTTLS: translated below).
    Errors name EMAIL_URL and never repeat the URL, which holds the password.
    """
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
    implicit_tls = parts.scheme == "smtps"
    try:
        config = dj_email_url.parse(urlunsplit(parts._replace(scheme="smtp")))
    except ValueError as exc:  # e.g. ?timeout=soon
        raise ImproperlyConfigured(
            f"EMAIL_URL has a query value that is not valid ({exc}): correct or remove it"
        ) from None
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL names no host, e.g. smtp://mail.example.com:25")
    if implicit_tls:
        config["EMAIL_USE_SSL"], config["EMAIL_USE_TLS"] = True, False
        config["EMAIL_PORT"] = port or 465
    return {
        "EMAIL_HOST": config["EMAIL_HOST"],
        "EMAIL_PORT": config["EMAIL_PORT"],
        "EMAIL_HOST_USER": config["EMAIL_HOST_USER"] or "",
        "EMAIL_HOST_PASSWORD": config["EMAIL_HOST_PASSWORD"] or "",
        "EMAIL_USE_TLS": config["EMAIL_USE_TLS"],
        "EMAIL_USE_SSL": config["EMAIL_USE_SSL"],
    }


def q_broker(url: str) -> dict[str, str]:
    """Q_BROKER_URL -> django-q2's broker keys: Redis for a redis:// URL, else the database."""
    if url.startswith(("redis://", "rediss://")):
        return {"redis": url}
    if url:
        raise ImproperlyConfigured(
            f"Q_BROKER_URL must be empty (the database broker) or a redis:// URL, not {url!r}"
        )
    return {"orm": "default"}


def shared_cache(url: str) -> dict[str, str]:
    """A cache every process and node shares: Redis when they share one already (the broker
    `url`), else a table in their database (`migrate` creates it)."""
    if url:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    return {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "notifier_ratelimit",
    }
