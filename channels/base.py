"""The channel module contract.

A channel is a module listed in channels.registry.KINDS with:

- ``KIND``: the short name (``newrelic``); its REST key is ``<KIND>_notification``.
- ``LABEL``: what people read in the admin and history.
- ``DEFAULT_EVENTS``: the events a new setup of this kind hears unless told otherwise.
- ``SETUP_MODEL``: a model inheriting registrations.models.NotificationSetup with the kind's
  typed, validated fields (shown as ordinary form fields with help text).
- ``send(event, setup) -> Delivery``: render and send one notification; raise
  ``ChannelError(message, retryable=...)`` when it did not go through. Building the request
  is a pure function of (event, setup, settings), tested on its own. Decorate it with
  ``@sender`` so failures never carry the setup's secrets.
- ``SETUP_FIELDS``: the kind's own fields, in the order the admin and the API show them.

Optional:

- ``TEMPLATE_PARTS``: which of ``subject`` and ``body`` the kind renders from templates in
  templates/messages/<kind>/ (a setup may override them); empty for kinds whose payload is
  the DeploymentEvent itself.
- ``SETUP_EXTRA_KWARGS``: extra serializer kwargs per field. Fields of type
  channels.secrets.SecretField are write-only in the API and masked in the admin anyway.

Retries, backoff, the ledger and bookkeeping live in notifier.dispatch, never in a channel.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from channels.secrets import redact, secret_values, undecryptable_fields

log = logging.getLogger("channels")


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


def sender(send: Callable[[Any, Any], Delivery]) -> Callable[[Any, Any], Delivery]:
    """Wrap a channel's send: refuse undecryptable secrets, and take the setup's secrets out
    of every error (and of the log of a crash) before anyone sees it."""

    @functools.wraps(send)
    def wrapper(event, setup) -> Delivery:
        broken = undecryptable_fields(setup)
        if broken:
            raise ChannelError(
                f"{', '.join(broken)} cannot be decrypted with NOTIFIER_ENCRYPTION_KEY (was the "
                "key changed?): enter the value again in the setup, or restore the old key"
            )
        try:
            return send(event, setup)
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
                retryable=True,
            ) from None

    return wrapper
