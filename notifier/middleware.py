"""Refuse a request body over DATA_UPLOAD_MAX_MEMORY_SIZE with a 413 that names the limit,
on every endpoint (the API, POST /registrations, the admin and the sign-in pages), before any
view or middleware reads a byte of it."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape

# The paths that speak JSON; every other page answers in HTML.
JSON_PATH_PREFIXES = ("/api/", "/registrations")


def body_too_large_message(*, size: int | None, limit: int) -> str:
    """What a client reads when its body is over the limit (`size` None: not known)."""
    what = f"is {size:,} bytes" if size is not None else "is too large"
    return (
        f"The request body {what}; at most {limit:,} are accepted. "
        "A registration is a few kilobytes: send less."
    )


def body_too_large_response(request: HttpRequest, *, size: int | None) -> HttpResponse:
    message = body_too_large_message(size=size, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if request.path.startswith(JSON_PATH_PREFIXES):
        return JsonResponse({"detail": message}, status=413)
    page = (
        "<!doctype html><title>Request too large</title><h1>Request too large</h1>"
        f"<p>{escape(message)}</p>"
    )
    return HttpResponse(page, status=413, content_type="text/html; charset=utf-8")


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


class RequestBodyLimitMiddleware:
    """First in MIDDLEWARE: a Content-Length over the limit is answered at once, unread.

    Django itself raises RequestDataTooBig only when something reads request.body or
    request.POST, and turns it into a 400 (or, inside DRF, a 500); a body without a
    Content-Length is read by the API's parser no further than the limit
    (registrations.parsers.LimitedJSONParser).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        size = _content_length(request)
        if limit is not None and size is not None and size > limit:
            return body_too_large_response(request, size=size)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, RequestDataTooBig):
            return body_too_large_response(request, size=_content_length(request) or None)
        return None


DEMO_BANNER = (
    '<div class="demo-banner" role="note" style="background:#fff4ce;color:#1d2330;'
    'border-bottom:2px solid #8a6100;padding:.4rem 1rem;font:15px/1.45 system-ui,sans-serif">'
    "<strong>Demo:</strong> simulated AWS on this machine; notifications go to the "
    '<a href="/demo/inbox/" style="color:#1d2330">demo inbox</a>.</div>'
)
_BODY_TAG = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)


class DemoBannerMiddleware:
    """With NOTIFIER_DEMO on, a banner right after <body> of every HTML page (history, admin,
    API docs, sign-in, 404) saying this is the demo; a no-op otherwise. Streaming and
    compressed responses are left as they are."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not settings.NOTIFIER_DEMO or not _bannerable(response):
            return response
        content = response.content
        found = _BODY_TAG.search(content)
        if found is None:
            return response
        charset = getattr(response, "charset", None) or "utf-8"
        banner = DEMO_BANNER.encode(charset)
        response.content = content[: found.end()] + banner + content[found.end() :]
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response


def _bannerable(response: HttpResponse) -> bool:
    return (
        not getattr(response, "streaming", False)
        and not response.has_header("Content-Encoding")
        and response.get("Content-Type", "").split(";")[0].strip() == "text/html"
    )
