"""One place that turns an HTTP exchange into Delivery or ChannelError for every kind.

URLs a person typed in (webhooks, Slack and Teams webhook URLs) are checked by
channels.addresses and then connected to at exactly the addresses that were checked: the
host name is resolved once, and the connection pool is keyed by the checked address while the
Host header, the TLS server name (SNI) and the certificate check keep the URL's host name.
Those requests never go through a proxy from the environment (a proxy would resolve the name
again, out of our sight). Each sending thread has its own sessions: requests does not promise
a Session is safe to share between threads.
"""

from __future__ import annotations

import os
import threading
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils import timezone
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from channels.addresses import URLRefused, url_addresses
from channels.base import ChannelError, Delivery, ErrorCode, code_for_status
from channels.secrets import CUT, redact_patterns

USER_AGENT = "codedeploy-notifier/1"
EXCERPT_LIMIT = 200  # characters of a provider's error body (or redirect target) shown
_EXCERPT_WINDOW = 4096  # bytes of the body looked at to make the excerpt


@dataclass(frozen=True)
class _Pin:
    host: str
    port: int
    address: str


# The checked address the current request must connect to (per thread, as contexts are).
_pin: ContextVar[_Pin | None] = ContextVar("channels_http_pin", default=None)
_local = threading.local()


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address channels.addresses checked, whatever DNS answers by now.

    The urllib3 pool is chosen by the checked address; `server_hostname` keeps SNI and the
    certificate check on the URL's host name, and the Host header carries it. A request whose
    host was not checked is refused rather than resolved. Proxies are never used."""

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        scheme, host = host_params["scheme"], host_params["host"]
        port = host_params["port"] or (443 if scheme == "https" else 80)
        pin = _pin.get()
        if pin is None or (pin.host, pin.port) != (host, port):
            raise requests.ConnectionError(f"{host} was not checked before connecting")
        if scheme == "https":
            pool_kwargs = {**pool_kwargs, "server_hostname": host}
        return self.poolmanager.connection_from_host(
            scheme=scheme, host=pin.address, port=port, pool_kwargs=pool_kwargs
        )

    def add_headers(self, request, **kwargs) -> None:
        request.headers["Host"] = urlsplit(request.url).netloc

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        return super().send(request, stream, timeout, verify, cert, proxies={})


def _new_session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def session() -> requests.Session:
    """This thread's session for the providers' own URLs (settings), reused by the thread."""
    if getattr(_local, "session", None) is None:
        _local.session = _new_session()
    return _local.session


def user_url_session() -> requests.Session:
    """This thread's session for URLs a person supplied: pinned addresses, no proxy and no
    .netrc from the environment; an operator's CA bundle (REQUESTS_CA_BUNDLE) still counts."""
    if getattr(_local, "user_url_session", None) is None:
        user = _new_session()
        user.trust_env = False
        user.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        adapter = PinnedAddressAdapter()
        user.mount("http://", adapter)
        user.mount("https://", adapter)
        _local.user_url_session = user
    return _local.user_url_session


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
    user_url = kwargs.pop("user_url", False)
    addresses: list[str] = []
    if user_url:
        # A URL a person typed in: check where it resolves to now, not only at save time,
        # and connect to what was checked.
        try:
            addresses = url_addresses(url)
        except URLRefused as exc:
            raise ChannelError(f"the {what} URL {exc.problem}", code=ErrorCode.BAD_CONFIG) from None
    kwargs.setdefault("timeout", settings.NOTIFIER_SEND_TIMEOUT)
    # Never follow a redirect: it could lead a checked URL to an internal address.
    kwargs.setdefault("allow_redirects", False)
    try:
        if user_url:
            response = _send_pinned(method, url, addresses, **kwargs)
        else:
            response = session().request(method, url, **kwargs)
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


def _send_pinned(method: str, url: str, addresses: list[str], **kwargs: Any) -> requests.Response:
    """Send to the first checked address that accepts a connection (as a resolver's client
    would try them in order); a refused connection sends nothing, so the next may be tried."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for number, address in enumerate(addresses, start=1):
        token = _pin.set(_Pin(host=host, port=port, address=address))
        try:
            return user_url_session().request(method, url, **kwargs)
        except requests.ConnectionError as exc:
            if number == len(addresses) or not _refused(exc):
                raise
        finally:
            _pin.reset(token)
    raise requests.ConnectionError(f"{host} has no address to connect to")


def _refused(exc: requests.ConnectionError) -> bool:
    if isinstance(exc, requests.Timeout):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def excerpt(text: str, *, limit: int = EXCERPT_LIMIT) -> str:
    """At most `limit` characters of `text` on one line, with known token shapes masked.

    A cut is marked with channels.secrets.CUT, where redact() also masks a secret cut short."""
    line = redact_patterns(" ".join(text.split()))
    return line if len(line) <= limit else line[:limit] + CUT


def _body_excerpt(response: requests.Response) -> str:
    head = response.content[:_EXCERPT_WINDOW]
    try:
        text = head.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        text = head.decode("utf-8", errors="replace")
    return excerpt(text)


def error_for(response: requests.Response, *, what: str) -> ChannelError:
    status = response.status_code
    snippet = _body_excerpt(response)
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
            f"{excerpt(response.headers.get('Location', 'nowhere'))}: use the final URL in the "
            "setup",
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
    return excerpt(text)


def bad_response(response: requests.Response, *, what: str, expected: str) -> ChannelError:
    """A 2xx answer that is not what the provider's API returns (a proxy's HTML page, an
    empty body where an id is expected): not proof of delivery, so retried."""
    body = _body_excerpt(response) or "an empty body"
    return ChannelError(
        f"{what} answered {response.status_code} but not with {expected} (a proxy or gateway "
        f"in the way?): {body}; it will be retried",
        code=ErrorCode.BAD_RESPONSE,
        retryable=True,
        response_status=response.status_code,
    )


def json_answer(response: requests.Response, *, what: str, expected: str) -> dict[str, Any]:
    """The answer's JSON object, or a BAD_RESPONSE error naming what was expected."""
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise bad_response(response, what=what, expected=expected)
    return answer


def ok(response: requests.Response, detail: str = "") -> Delivery:
    return Delivery(response_status=response.status_code, detail=detail)
