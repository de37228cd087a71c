"""The channel module contract.

A channel is a module listed in channels.registry.KINDS with:

- ``KIND``: the short name (``newrelic``); its REST key is ``<KIND>_notification``.
- ``LABEL``: what people read in the admin and history.
- ``DEFAULT_EVENTS``: the events a new setup of this kind hears unless told otherwise.
- ``SETUP_MODEL``: a model inheriting registrations.models.NotificationSetup with the kind's
  typed, validated fields (shown as ordinary form fields with help text).
- ``send(event, setup) -> Delivery``: render and send one notification; raise
  ``ChannelError(message, retryable=...)`` when it did not go through. Building the request
  is a pure function of (event, setup, settings), tested on its own.

Retries, backoff, the ledger and bookkeeping live in notifier.dispatch, never in a channel.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    """What the provider answered to a notification that went through."""

    response_status: int | None = None
    detail: str = ""


class ChannelError(Exception):
    """A notification that did not go through.

    retryable: True for timeouts, 429, 5xx and throttling (the dispatcher backs off and
    tries again); False for anything a retry cannot fix (bad configuration, 4xx).
    retry_after: seconds the provider asked us to wait (Retry-After), if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        response_status: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.response_status = response_status

    def __str__(self) -> str:
        return self.message
