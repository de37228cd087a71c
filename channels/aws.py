"""One place that turns an AWS call into a result or ChannelError for every AWS kind.

The AWS twin of channels/http.py: throttling, 5xx and connection trouble are retryable;
every other ClientError (a bad address, a missing topic, no permission) is permanent.
boto3's own retries are off: notifier.dispatch owns retries and backoff.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)
from django.conf import settings

from channels.base import ChannelError, ErrorCode, code_for_status

# Error codes AWS services use for "slow down"; see
# https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)

# Credentials AWS did not accept, and credentials that may not do this; see
# https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html
AUTH_CODES = frozenset(
    {
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "InvalidAccessKeyId",
    }
)
FORBIDDEN_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "AuthorizationError", "AuthorizationErrorException"}
)

_clients_lock = threading.Lock()


@functools.cache
def _client(service: str, timeout: float) -> Any:
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=timeout,
    )
    with _clients_lock:  # creating clients is not thread-safe; using them is
        return boto3.session.Session().client(service, config=config)


def client(service: str) -> Any:
    """A shared client for `service`, with NOTIFIER_SEND_TIMEOUT and no retries of its own."""
    return _client(service, settings.NOTIFIER_SEND_TIMEOUT)


def reset_clients() -> None:
    """Forget cached clients (after the AWS endpoint or region changed, e.g. in tests)."""
    _client.cache_clear()


def message_id(answer: Any, *, what: str) -> str:
    """The MessageId an accepted SNS publish or SES send answers with; without one the
    answer is not proof of delivery (ErrorCode.BAD_RESPONSE, retried)."""
    found = answer.get("MessageId") if isinstance(answer, dict) else None
    if not found:
        raise ChannelError(
            f"{what} answered without a MessageId: not proof that it accepted the message; "
            "it will be retried",
            code=ErrorCode.BAD_RESPONSE,
            retryable=True,
        )
    return str(found)


def call(what: str, operation: Callable[..., Any], **params: Any) -> Any:
    """Run one AWS operation; raise ChannelError for failures, retryable where that helps."""
    try:
        return operation(**params)
    except ClientError as exc:
        raise error_for(exc, what=what) from None
    except (ReadTimeoutError, ConnectionError) as exc:
        timed_out = isinstance(exc, ReadTimeoutError | ConnectTimeoutError)
        raise ChannelError(
            f"could not reach {what}: {exc}",
            code=ErrorCode.TIMEOUT if timed_out else ErrorCode.UNREACHABLE,
            retryable=True,
        ) from None
    except NoCredentialsError:
        raise ChannelError(
            f"no AWS credentials for {what}: give the service credentials (environment, "
            "profile or instance role)",
            code=ErrorCode.BAD_CONFIG,
        ) from None
    except NoRegionError:
        raise ChannelError(
            f"no AWS region for {what}: set AWS_DEFAULT_REGION (boto3 does not read AWS_REGION)",
            code=ErrorCode.BAD_CONFIG,
        ) from None
    except BotoCoreError as exc:
        raise ChannelError(f"could not call {what}: {exc}", code=ErrorCode.INTERNAL) from None


def error_for(exc: ClientError, *, what: str) -> ChannelError:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    message = error.get("Message", "") or str(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in THROTTLING_CODES or status == 429:
        return ChannelError(
            f"{what} is throttling us ({code}): {message}",
            code=ErrorCode.RATE_LIMITED,
            retryable=True,
            response_status=status,
            provider_code=code,
        )
    if status is not None and status >= 500:
        return ChannelError(
            f"{what} had a server error ({code or status}): {message}",
            code=ErrorCode.SERVER_ERROR,
            retryable=True,
            response_status=status,
            provider_code=code,
        )
    return ChannelError(
        f"{what} refused the request ({code}): {message}",
        code=_client_error_code(code, status),
        response_status=status,
        provider_code=code,
    )


def _client_error_code(code: str, status: int | None) -> ErrorCode:
    """A permanent AWS error's code: by the botocore error code first, then the status."""
    if code in AUTH_CODES:
        return ErrorCode.UNAUTHORIZED
    if code in FORBIDDEN_CODES:
        return ErrorCode.FORBIDDEN
    if code.endswith(("NotFound", "NotFoundException")) or code == "NoSuchEntity":
        return ErrorCode.NOT_FOUND
    return code_for_status(status)
