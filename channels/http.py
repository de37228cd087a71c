"""One place that turns an HTTP exchange into Delivery or ChannelError for every kind."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from channels.base import ChannelError, Delivery, ErrorCode, code_for_status

USER_AGENT = "codedeploy-notifier/1"
_session = requests.Session()
_session.headers["User-Agent"] = USER_AGENT


def session() -> requests.Session:
    return _session


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date (RFC 9110, section 10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - timezone.now()).total_seconds())
    except (TypeError, ValueError):
        return None


def request(method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
    """Send one request; raise ChannelError for failures, retryable where a retry can help.

    `what` names the provider in messages ("New Relic"). `user_url=True` checks a URL a
    person supplied against channels.addresses before sending. Callers get the response only
    for 2xx answers, and may raise their own clearer ChannelError for particular statuses by
    passing `expect_errors=True` and checking `response.ok` themselves.
    """
    expect_errors = kwargs.pop("expect_errors", False)
    if kwargs.pop("user_url", False):
        # A URL a person typed in: check where it resolves to now, not only at save time.
        from channels.addresses import url_problem

        problem = url_problem(url)
        if problem:
            raise ChannelError(f"the {what} URL {problem}", code=ErrorCode.BAD_CONFIG)
    kwargs.setdefault("timeout", settings.NOTIFIER_SEND_TIMEOUT)
    # Never follow a redirect: it could lead a checked URL to an internal address.
    kwargs.setdefault("allow_redirects", False)
    try:
        response = _session.request(method, url, **kwargs)
    except requests.Timeout:
        raise ChannelError(
            f"{what} did not answer within {kwargs['timeout']:g} seconds",
            code=ErrorCode.TIMEOUT,
            retryable=True,
        ) from None
    except requests.ConnectionError as exc:
        raise ChannelError(
            f"could not connect to {what}: {_reason(exc)}",
            code=ErrorCode.UNREACHABLE,
            retryable=True,
        ) from None
    except requests.RequestException as exc:  # an invalid URL, too many redirects...
        raise ChannelError(f"could not send to {what}: {exc}", code=ErrorCode.BAD_CONFIG) from None
    if response.status_code < 300 or expect_errors:
        return response
    raise error_for(response, what=what)


def error_for(response: requests.Response, *, what: str) -> ChannelError:
    status = response.status_code
    snippet = response.text[:300].strip()
    if status == 429:
        return ChannelError(
            f"{what} is rate limiting us (429 Too Many Requests)",
            code=ErrorCode.RATE_LIMITED,
            retryable=True,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            response_status=status,
        )
    if 300 <= status < 400:
        return ChannelError(
            f"{what} answered with a redirect ({status}) to "
            f"{response.headers.get('Location', 'nowhere')}: use the final URL in the setup",
            code=ErrorCode.BAD_CONFIG,
            response_status=status,
        )
    if status >= 500:
        return ChannelError(
            f"{what} had a server error ({status}): {snippet}",
            code=ErrorCode.SERVER_ERROR,
            retryable=True,
            response_status=status,
        )
    return ChannelError(
        f"{what} refused the request ({status}): {snippet}",
        code=code_for_status(status),
        response_status=status,
    )


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "the host name does not resolve"
    return text[:200]


def ok(response: requests.Response, detail: str = "") -> Delivery:
    return Delivery(response_status=response.status_code, detail=detail)
