"""The DynamoDB client, and its failures turned into StorageError a person can act on.

Throttling and transient errors are retried by botocore's adaptive mode (backoff plus
client-side rate limiting, notifier.codedeploy.AWS_CONFIG); whatever still fails becomes
StorageError.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from notifier.codedeploy import AWS_CONFIG
from notifier.storage.base import StorageError
from notifier.storage.dynamodb.items import from_item


def conditional_failed(exc: ClientError) -> bool:
    """True when a conditional write lost: the condition did not hold, nothing was written."""
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def describe_error(exc: Exception, action: str) -> str:
    """A DynamoDB failure in words a person can act on."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        if code == "ResourceNotFoundException":
            return (
                f"DynamoDB has no table for {action} ({message}); create the tables with "
                "`python manage.py dynamodb_create_tables` and check "
                "NOTIFIER_DYNAMODB_TABLE_PREFIX and AWS_REGION"
            )
        if code in ("AccessDeniedException", "UnrecognizedClientException"):
            return (
                f"AWS denied dynamodb:{exc.operation_name} for {action}; add it to the "
                f"service role's IAM policy (see docs/iam-policy.json). AWS said: {message}"
            )
        if code in (
            "ProvisionedThroughputExceededException",
            "ThrottlingException",
            "RequestLimitExceeded",
        ):
            return f"DynamoDB throttled {action} even after backing off: {message}"
        return f"DynamoDB refused {action} ({code}): {message}"
    return f"could not reach DynamoDB for {action}: {exc}"


def guarded(method: Callable) -> Callable:
    """Turn DynamoDB failures into StorageError, so callers handle one exception type (the
    registrations table, registrations/storage.py, uses it too)."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(describe_error(exc, method.__name__)) from exc

    return wrapper


@functools.cache
def _client_for(endpoint: str, region: str) -> Any:
    # Clients are thread-safe (resources are not): the dispatcher's threads share this one.
    return boto3.client("dynamodb", config=AWS_CONFIG)


def _endpoint_and_region() -> tuple[str, str]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL", "")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "")
    return endpoint, region


def dynamodb_client() -> Any:
    """One client per endpoint and region (boto3 reads both from the environment)."""
    return _client_for(*_endpoint_and_region())


# A health check must answer within a load balancer's timeout (often 2 s) even when DynamoDB
# is down: one try with short timeouts, where AWS_CONFIG's 8 retries took 3-5 s.
HEALTH_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=0.5, read_timeout=0.5
)


@functools.cache
def _health_client_for(endpoint: str, region: str) -> Any:
    return boto3.client("dynamodb", config=HEALTH_CONFIG)


def health_dynamodb_client() -> Any:
    """The client health checks read with (HEALTH_CONFIG), one per endpoint and region."""
    return _health_client_for(*_endpoint_and_region())


def _pages(read: Callable[..., dict[str, Any]], params: dict[str, Any]) -> Iterator[dict]:
    """Every item a Scan or Query returns, as plain values, page after page."""
    while True:
        answer = read(**params)
        for item in answer.get("Items", []):
            yield from_item(item)
        if "LastEvaluatedKey" not in answer:
            return
        params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def scan(client: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every item of the table as plain values, page after page."""
    return _pages(client.scan, {"TableName": table})


def query(client: Any, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item a Query (`params` as boto3 takes them) returns, page after page."""
    return _pages(client.query, params)


def conditional_write(write: Callable[..., dict[str, Any]], **params: Any) -> dict | None:
    """Make a conditional write (PutItem, UpdateItem, DeleteItem with a ConditionExpression):
    DynamoDB's answer, or None when the condition did not hold and nothing was written."""
    try:
        return write(**params)
    except ClientError as exc:
        if conditional_failed(exc):
            return None
        raise
