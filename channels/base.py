"""The channel module contract.

A channel is a module listed in channels.registry.KINDS with:

- ``KIND``: the short name (``newrelic``); its REST key is ``<KIND>_notification``.
- ``LABEL``: what people read in the admin and history.
- ``DEFAULT_EVENTS``: the events a new setup of this kind hears unless told otherwise.
- ``SETUP_MODEL``: a model inheriting registrations.models.NotificationSetup with the kind's
  typed, validated fields (shown as ordinary form fields with help text).
- ``send(event, setup, context=None) -> Delivery``: render and send one notification; raise
  ``ChannelError(message, code=..., retryable=...)`` when it did not go through, with an
  ``ErrorCode`` saying why. Building the request is a pure function of (event, setup,
  settings), tested on its own. Decorate it with
  ``@sender`` so failures never carry the setup's secrets. ``context`` (a ``SendContext``)
  carries the delivery's stable id, to pass to the provider wherever it can recognise a
  repeat, and says whether this send repeats one that was in flight when its sender died
  (then check with the provider first where it allows); ``context.test`` marks a test send,
  which the channel says in every machine-readable place its provider offers. ``@sender``
  makes a fresh context when none is given (direct calls). A 2xx answer that is not what the
  provider's API returns is ``ErrorCode.BAD_RESPONSE``, never a success.
- ``SETUP_FIELDS``: the kind's own fields, in the order the admin and the API show them.

Optional:

- ``TEMPLATE_PARTS``: which of ``subject`` and ``body`` the kind renders from templates in
  templates/messages/<kind>/ (a setup may override them); empty for kinds whose payload is
  the DeploymentEvent itself.
- ``SETUP_SCHEMA``: per field, what the OpenAPI document adds to its schema (a ``pattern``
  the model's validators check), so a client can tell a valid value before sending it.
- ``SETUP_EXTRA_KWARGS``: extra serializer kwargs per field. Fields of type
  channels.secrets.SecretField are write-only in the API and masked in the admin anyway.

Retries, backoff, the ledger and bookkeeping live in notifier.dispatch, never in a channel.
"""

from __future__ import annotations

import functools
import logging
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from channels.secrets import redact, secret_values, undecryptable_fields

log = logging.getLogger("channels")

# How a test send says so where people read it (machines read the kind's own test field:
# an SNS attribute, a header, a JSON field); see registrations/testing.py.
TEST_SUBJECT_PREFIX = "[TEST] "
TEST_MARK = "TEST — "


def test_subject(text: str, *, test: bool) -> str:
    return f"{TEST_SUBJECT_PREFIX}{text}" if test else text


def test_marked(text: str, *, test: bool) -> str:
    return f"{TEST_MARK}{text}" if test else text


@dataclass(frozen=True)
class Delivery:
    """What the provider answered to a notification that went through."""

    response_status: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class SendContext:
    """What a channel knows about the delivery it sends, beyond the event and the setup.

    delivery_id: the same on every retry and resend of one (deployment, event, setup), so a
    provider (or a receiver) can recognise a repeat; a test send gets a fresh one.
    test: a test send (admin, API), outside the ledger.
    in_flight_since: set when this attempt re-sends one whose sender died after the provider
    may have received it (the start of the first such attempt): check before sending again.
    """

    delivery_id: str
    test: bool = False
    in_flight_since: datetime | None = None

    @property
    def in_flight_before(self) -> bool:
        return self.in_flight_since is not None

    @classmethod
    def for_test(cls) -> SendContext:
        return cls(delivery_id=f"test-{uuid.uuid4()}", test=True)

    @classmethod
    def direct(cls) -> SendContext:
        """A direct call's: a fresh id, and not marked as a test."""
        return cls(delivery_id=f"direct-{uuid.uuid4()}")


class ErrorCode(StrEnum):
    """Why a notification did not go through, for code to branch on (people read the message).

    A closed set: the ledger stores it beside the message (``error_code``), history chooses
    its advice by it, and channels decide on fallbacks by it, never by the message's words.
    """

    BAD_REQUEST = "bad_request"  # the provider refused what we sent (400, 422, other 4xx)
    UNAUTHORIZED = "unauthorized"  # the key, token or password was refused (401, SMTP 535)
    FORBIDDEN = "forbidden"  # the credentials are good but may not do this (403, AccessDenied)
    NOT_FOUND = "not_found"  # the target (application, topic, channel, URL) does not exist
    RATE_LIMITED = "rate_limited"  # 429 or AWS throttling: retried with backoff
    TIMEOUT = "timeout"  # the provider did not answer within NOTIFIER_SEND_TIMEOUT
    UNREACHABLE = "unreachable"  # no connection: refused, DNS, TLS handshake, network
    SERVER_ERROR = "server_error"  # the provider failed (5xx): retried with backoff
    BAD_CONFIG = "bad_config"  # our side is misconfigured: a setting or a setup field
    UNDECRYPTABLE = "undecryptable"  # a secret cannot be decrypted with NOTIFIER_ENCRYPTION_KEY
    INTERNAL = "internal"  # a bug in this service (a channel crashed)
    SETUP_DISABLED = "setup_disabled"  # the setup was deleted or disabled before sending
    # A 2xx answer that is not what the provider's API returns (an HTML page from a proxy, an
    # empty body where an id is expected): not proof of delivery, so retried with backoff.
    BAD_RESPONSE = "bad_response"
    # Not sent: a started or ready notification due after the outcome was delivered.
    SUPERSEDED = "superseded"


# The code an HTTP status means, for statuses that have one of their own.
STATUS_CODES = {
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    410: ErrorCode.NOT_FOUND,
    429: ErrorCode.RATE_LIMITED,
}


def code_for_status(status: int | None) -> ErrorCode:
    if status is None:
        return ErrorCode.BAD_REQUEST
    if status >= 500:
        return ErrorCode.SERVER_ERROR
    return STATUS_CODES.get(status, ErrorCode.BAD_REQUEST)


class ChannelError(Exception):
    """A notification that did not go through.

    code: an ErrorCode saying why, for code to branch on; the message is for people.
    retryable: True for timeouts, 429, 5xx and throttling (the dispatcher backs off and
    tries again); False for anything a retry cannot fix (bad configuration, 4xx).
    retry_after: seconds the provider asked us to wait (Retry-After), if it said.
    provider_code: the provider's own error name where it gave one (Slack's
    ``channel_not_found``, AWS's ``NotFound``), for a channel's own fallbacks.
    """

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode,
        retryable: bool = False,
        retry_after: float | None = None,
        response_status: int | None = None,
        provider_code: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.code = ErrorCode(code)
        self.provider_code = provider_code
        self.retryable = retryable
        self.retry_after = retry_after
        self.response_status = response_status

    def __str__(self) -> str:
        return self.message


def sender(send: Callable[[Any, Any, SendContext], Delivery]) -> Callable[..., Delivery]:
    """Wrap a channel's send: make a context when none is given, refuse undecryptable
    secrets, and take the setup's secrets out of every error (and of the log of a crash)
    before anyone sees it."""

    @functools.wraps(send)
    def wrapper(event, setup, context: SendContext | None = None) -> Delivery:
        context = context or SendContext.direct()
        broken = undecryptable_fields(setup)
        if broken:
            raise ChannelError(
                f"{', '.join(broken)} cannot be decrypted with NOTIFIER_ENCRYPTION_KEY (was the "
                "key changed?): enter the value again in the setup, or restore the old key",
                code=ErrorCode.UNDECRYPTABLE,
            )
        try:
            return send(event, setup, context)
        except ChannelError as exc:
            exc.message = redact(exc.message, secret_values(setup))
            exc.args = (exc.message,)
            raise
        except Exception as exc:
            secrets = secret_values(setup)
            log.error("%s", redact(traceback.format_exc(), secrets))
            raise ChannelError(
                f"internal error in the {send.__module__} channel: "
                f"{redact(f'{type(exc).__name__}: {exc}', secrets)}",
                code=ErrorCode.INTERNAL,
                retryable=True,
            ) from None

    return wrapper
