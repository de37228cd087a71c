"""Who is signing in, and what a locked-out person is told (django-axes hooks).

django-axes counts failed sign-ins per username and client address (settings: AXES_*).
API tokens are not passwords: DRF's TokenAuthentication looks a token up and never calls
authenticate(), so there is no password form in the API to guess at.
"""

from __future__ import annotations

from datetime import timedelta

from axes.helpers import get_client_username, get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or behind NOTIFIER_PROXY_COUNT proxies the
    X-Forwarded-For entry that the outermost proxy added.

    Each proxy appends the address it received the request from, so with N proxies the
    N-th entry from the right is the client as the first proxy saw it; anything before it
    is what the client wrote itself, and is ignored.
    """
    proxies = settings.NOTIFIER_PROXY_COUNT
    remote = request.META.get("REMOTE_ADDR")
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """429 with a page that names the username and says when to try again."""
    cool_off = get_cool_off(request) or timedelta(0)
    minutes = max(1, round(cool_off.total_seconds() / 60))
    response = render(
        request,
        "sign_in_locked.html",
        {
            "username": get_client_username(request, credentials) or "",
            "minutes": minutes,
            "until": timezone.now() + cool_off,
        },
        status=429,
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
