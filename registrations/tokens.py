"""API tokens: several named tokens per user, stored only as a SHA-256 hash.

A token is `cdn_` and 43 URL-safe characters (256 random bits), shown once when it is made.
The database keeps its hash and its first characters (to recognise it), never the token: a
request's token is hashed and looked up by that hash, so no stored token is ever compared
character by character. Last use is written at most once a minute per token, so a busy
automation does not turn every request into a write.

Tokens made by DRF's `drf_create_token` (40 hex characters, stored in plain text) keep
working: the migration that added these tokens moved every existing one here, and one made
later moves here on its first use, its plain-text row deleted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

TOKEN_PREFIX = "cdn_"
SHOWN_CHARACTERS = 8  # "cdn_ab12": enough to tell tokens apart, far too few to guess the rest
NAME_MAX = 100
MAX_ACTIVE_PER_USER = 20
MAX_CREATED_PER_DAY = 20
LAST_USED_EVERY = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=NAME_MAX, help_text="What uses this token, e.g. 'CI'.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=SHOWN_CHARACTERS, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        app_label = "registrations"
        verbose_name = "API token"
        ordering = ["user_id", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=Q(revoked_at__isnull=True),
                name="api_token_name_unique_per_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.shown})"

    @property
    def shown(self) -> str:
        return f"{self.prefix}…"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new token for `user`: the stored row and the token itself, which is never stored.

    Raises ValidationError keyed by field: `name` required, at most NAME_MAX characters and
    not the name of another of the user's active tokens; at most MAX_ACTIVE_PER_USER active
    tokens and MAX_CREATED_PER_DAY new ones a day per user.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "name is required: say what will use the token, e.g. CI"})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": f"name is {len(name)} characters; at most {NAME_MAX}"})
    mine = ApiToken.objects.filter(user=user)
    if mine.filter(name=name, revoked_at=None).exists():
        raise ValidationError(
            {"name": f"you already have a token named {name!r}: choose another name or revoke it"}
        )
    if mine.filter(revoked_at=None).count() >= MAX_ACTIVE_PER_USER:
        raise ValidationError(
            {"name": f"you have {MAX_ACTIVE_PER_USER} tokens, the most allowed: revoke one first"}
        )
    if mine.filter(created_at__gte=timezone.now() - timedelta(days=1)).count() >= (
        MAX_CREATED_PER_DAY
    ):
        raise ValidationError(
            {
                "name": f"{MAX_CREATED_PER_DAY} tokens were made in the last 24 hours, the most "
                "allowed: try again tomorrow or reuse one"
            }
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            token = ApiToken.objects.create(
                user=user, name=name, key_hash=token_hash(secret), prefix=secret[:SHOWN_CHARACTERS]
            )
    except IntegrityError:  # the same name, made at the same moment by another request
        raise ValidationError(
            {"name": f"you already have a token named {name!r}: choose another name"}
        ) from None
    return token, secret


def tokens_visible(*, user) -> QuerySet[ApiToken]:
    """The active tokens `user` may see and revoke: their own, or everyone's for staff."""
    rows = ApiToken.objects.filter(revoked_at=None).select_related("user")
    if user.is_active and (user.is_staff or user.is_superuser):
        return rows.order_by("user__username", "-created_at")
    return rows.filter(user=user).order_by("-created_at")


def token_revoke(*, user, token_id: int) -> ApiToken | None:
    """Revoke one of the tokens `user` may see; None when there is no such token for them."""
    token = tokens_visible(user=user).filter(pk=token_id).first()
    if token is not None:
        tokens_revoke(ApiToken.objects.filter(pk=token.pk))
    return token


def tokens_revoke(rows: QuerySet[ApiToken]) -> int:
    return rows.filter(revoked_at=None).update(revoked_at=timezone.now())


def token_authenticate(*, key: str) -> ApiToken | None:
    """The active token whose hash is `key`'s (a DRF token moved here first), or None."""
    digest = token_hash(key)
    try:
        token = ApiToken.objects.select_related("user").get(key_hash=digest)
    except ApiToken.DoesNotExist:
        token = None
    if token is None and not key.startswith(TOKEN_PREFIX):
        token = _drf_token_move(key)
    if token is None or not token.active or not hmac.compare_digest(token.key_hash, digest):
        return None
    _touch(token)
    return token


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_EVERY:
        return
    stale = Q(last_used_at=None) | Q(last_used_at__lt=now - LAST_USED_EVERY)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def _drf_token_move(key: str) -> ApiToken | None:
    """Move a DRF token (plain text) here as a hash, keeping its user and creation time."""
    if not django_apps.is_installed("rest_framework.authtoken"):
        return None
    from rest_framework.authtoken.models import Token

    drf_token = Token.objects.filter(key=key).first()
    if drf_token is None:
        return None
    try:
        with transaction.atomic():
            ApiToken.objects.create(**drf_token_fields(drf_token))
            Token.objects.filter(key=key).delete()
    except IntegrityError:  # moved by a concurrent request
        pass
    return ApiToken.objects.select_related("user").filter(key_hash=token_hash(key)).first()


def drf_token_fields(drf_token) -> dict:
    """An ApiToken's fields for a DRF token (used by the migration too)."""
    prefix = drf_token.key[:SHOWN_CHARACTERS]
    return {
        "user_id": drf_token.user_id,
        "name": f"drf_create_token {prefix}",
        "key_hash": token_hash(drf_token.key),
        "prefix": prefix,
        "created_at": drf_token.created,
    }
