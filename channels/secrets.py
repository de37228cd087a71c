"""Secrets in notification setups: encrypted at rest, masked, write-only, redacted.

`SecretField` is a text field whose value is Fernet-encrypted in the database with the keys
in NOTIFIER_ENCRYPTION_KEY (never derived from DJANGO_SECRET_KEY). The admin shows
it as a password box, the API never returns it, and `redact()` takes its value (and, for
URLs, the token-bearing path and query) out of any text before it is logged or stored.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"
MASK = "••••••"


class UndecryptableSecret(str):
    """A stored secret the configured keys cannot decrypt (NOTIFIER_ENCRYPTION_KEY changed)."""

    __slots__ = ()


@functools.cache
def _fernet(keys: str) -> MultiFernet:
    fernets = [Fernet(k.strip()) for k in keys.split(",") if k.strip()]
    if not fernets:
        # Never a key derived from DJANGO_SECRET_KEY or written in the source: anyone with
        # the source and a copy of the database could then read every stored secret.
        raise ImproperlyConfigured(
            "NOTIFIER_ENCRYPTION_KEY is not set: stored secrets can neither be encrypted nor "
            "read without it. Make one with `python manage.py generate_keys`."
        )
    return MultiFernet(fernets)


def fernet() -> MultiFernet:
    """The keys in NOTIFIER_ENCRYPTION_KEY: the first encrypts, every one decrypts."""
    return _fernet(settings.NOTIFIER_ENCRYPTION_KEY)


def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # written before encryption, or empty
    try:
        return fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        return UndecryptableSecret("")


class SecretField(models.TextField):
    """Text stored encrypted; blank stays blank so "not set" is visible without the key.

    multiline: the admin shows a text area (never filled in) instead of a password box.
    """

    def __init__(self, *args, multiline: bool = False, **kwargs):
        self.multiline = multiline
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "" or isinstance(value, UndecryptableSecret):
            return value
        return encrypt(value)


def secret_field_names(model: type) -> list[str]:
    meta = getattr(model, "_meta", None)
    if meta is None:  # not a model (a plain object standing in for a setup)
        return []
    return [f.name for f in meta.get_fields() if isinstance(f, SecretField)]


def undecryptable_fields(setup: models.Model) -> list[str]:
    return [
        name
        for name in secret_field_names(type(setup))
        if isinstance(getattr(setup, name, ""), UndecryptableSecret)
    ]


def secret_values(setup: models.Model) -> list[str]:
    """Every string that must never appear in logs, errors or history for this setup."""
    values: list[str] = []
    for name in secret_field_names(type(setup)):
        value = getattr(setup, name, "") or ""
        if not value:
            continue
        values.append(value)
        if value.startswith(("http://", "https://")):
            # The token of a webhook URL is its path and query (Slack /services/T/B/XXX,
            # Teams Workflows ...&sig=...): the host alone may be shown.
            parts = urlsplit(value)
            tail = parts.path + (f"?{parts.query}" if parts.query else "")
            if len(tail) > 1:
                values.append(tail)
                values.extend(p for p in parts.path.split("/") if len(p) >= 8)
                values.extend(q.split("=", 1)[-1] for q in parts.query.split("&") if len(q) > 8)
        for line in value.splitlines():  # "Header: value" lines
            if ":" in line:
                header_value = line.split(":", 1)[1].strip()
                if len(header_value) >= 6:
                    values.append(header_value)
    # Longest first, so a URL is masked whole before its parts are looked for.
    return sorted({v for v in values if v}, key=len, reverse=True)


def service_secret_values() -> list[str]:
    """The service's own secrets (its settings), which a provider's error may echo too."""
    values = [settings.NEW_RELIC_API_KEY, getattr(settings, "EMAIL_HOST_PASSWORD", "")]
    return [v for v in values if v]


CUT = "…"  # ends an excerpt that was cut short (channels.http.excerpt)
_SHORTEST_CUT = 4  # a secret cut to fewer characters than this at a CUT is left alone
_HEX = re.compile(r"(%[0-9A-Fa-f]{2})")


@functools.lru_cache(maxsize=512)
def _forms(secret: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """A pattern for every form of `secret` a provider may echo: as stored, percent-encoded
    (quote, with or without "/" kept, and quote_plus; hex in either case) and decoded; and
    those forms as text, for finding one cut short."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    forms |= {unquote(secret), unquote_plus(secret)}
    forms = {f for f in forms if f}
    forms |= {_HEX.sub(lambda m: m.group(1).lower(), f) for f in forms}
    ordered = sorted(forms, key=len, reverse=True)
    alternatives = [
        "".join(
            f"%(?i:{piece[1:]})" if _HEX.fullmatch(piece) else re.escape(piece)
            for piece in _HEX.split(form)
        )
        for form in ordered
    ]
    return re.compile("|".join(alternatives)), tuple(ordered)


def _mask_cut(text: str, forms: tuple[str, ...]) -> str:
    """Mask the start of a secret that an excerpt cut short (it ends at CUT)."""
    for form in forms:
        for length in range(len(form) - 1, _SHORTEST_CUT - 1, -1):
            cut = form[:length] + CUT
            if cut in text:
                text = text.replace(cut, MASK + CUT)
                break
    return text


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every form of each secret (see _forms), and known token shapes, masked."""
    for secret in secrets:
        if not secret:
            continue
        pattern, forms = _forms(secret)
        text = pattern.sub(MASK, text)
        if CUT in text:
            text = _mask_cut(text, forms)
    return redact_patterns(text)


# Token shapes that must not reach a log even when we do not know the setup they belong to.
_PATTERNS = [
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]+"), "xox?-" + MASK),  # Slack tokens
    (re.compile(r"(hooks\.slack\.com/services/)[^\s'\"]+"), r"\1" + MASK),
    (re.compile(r"([?&](?:sig|code|token|key|api_key|apikey)=)[^&\s'\"]+", re.I), r"\1" + MASK),
    # Shapes a provider's error text may echo back: URL credentials, other secret query
    # parameters, bearer tokens and API key headers.
    (re.compile(r"(//[^/\s:@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
    (
        re.compile(r"([?&](?:secret|signature|password|routing_key)=)[^&\s\"']+", re.I),
        r"\1" + MASK,
    ),
    (re.compile(r"((?:Bearer|Token)\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1" + MASK),
    (
        re.compile(r"((?:X-Api-Key|Authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+", re.I),
        r"\1" + MASK,
    ),
]


def redact_patterns(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask(value: str) -> str:
    """What the admin shows of a stored secret: that it is set, and its last characters."""
    if not value:
        return ""
    if isinstance(value, UndecryptableSecret):
        return "set, but cannot be decrypted with NOTIFIER_ENCRYPTION_KEY: enter it again"
    return f"{MASK}{value[-4:]}" if len(value) >= 12 else MASK


class RedactSecretsFilter(logging.Filter):
    """Takes known token shapes out of every log record (defence in depth behind redact())."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact_patterns(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
