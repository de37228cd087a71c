"""A signed webhook's X-Signature-256 checked as its receiver would: against the secret of
the webhook setup whose URL is the one the request came to."""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from django.http import HttpRequest

from channels.webhook import SIGNATURE_HEADER, WebhookSetup, signature
from notifier.demo.models import Signature

MAX_SETUPS = 500  # the demo's setups; a webhook URL is stored encrypted, so each is read


def _path_and_query(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path.rstrip("/"), parts.query


def secrets_for(request: HttpRequest) -> list[str]:
    """The signing secrets of the webhook setups whose URL names this request's path and
    query (their host may be spelled 127.0.0.1 or localhost), decrypted as the sender does."""
    here = (request.path.rstrip("/"), request.META.get("QUERY_STRING", ""))
    found = []
    for setup in WebhookSetup.objects.order_by("-id")[:MAX_SETUPS]:
        if setup.secret and _path_and_query(str(setup.url)) == here:
            found.append(str(setup.secret))
    return found


def signature_state(request: HttpRequest) -> str:
    """valid (signed with this URL's setup's secret), invalid, or unsigned."""
    given = request.headers.get(SIGNATURE_HEADER, "")
    if not given:
        return Signature.UNSIGNED.value
    body = request.body
    for secret in secrets_for(request):
        if hmac.compare_digest(signature(secret, body).encode(), given.encode()):
            return Signature.VALID.value
    return Signature.INVALID.value
