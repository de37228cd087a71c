"""AWS sessions for a source: an account and region the service watches.

The engine takes a plain `SourceConfig`; the Django model (registrations.sources.Source)
converts itself to one. A source uses the service's own credentials (boto3's chain), or a
role assumed through STS with those credentials. Assumed-role credentials are botocore's
`DeferredRefreshableCredentials`: the first AssumeRole happens on the first AWS call, and
botocore assumes the role again before the credentials expire (15 minutes before, its
advisory window), so no timer of our own is needed.
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

ROLE_SESSION_NAME = "codedeploy-notifier"
# Held while making a client from a session of boto3_session_for: a source's session is
# shared by its poller and its push consumer, on different threads.
CLIENT_LOCK = threading.Lock()
ROLE_DOCS = "docs/source-role.json"
# A check runs inside a web request: a source that does not answer must not hold it long.
STS_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=10
)


@dataclass(frozen=True)
class SourceConfig:
    """What the engine needs to reach one source: its name (for messages and its poll state),
    its region (empty: boto3's chain, i.e. AWS_REGION), the role to assume (empty: the
    service's own credentials) with its optional external id, and its account id when its
    identity check has learned it (empty: not known yet), and the SQS queue EventBridge puts
    its CodeDeploy events on (empty: no push, polling alone)."""

    name: str
    region: str = ""
    role_arn: str = ""
    external_id: str = ""
    queue_url: str = ""
    account_id: str = field(default="", compare=False)  # learned, not part of the identity


class SourceError(Exception):
    """A source could not be reached; the message says why and what to do. `code` is for
    code: `role_not_assumed`, `identity_failed`."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def _own_session(config: SourceConfig) -> boto3.Session:
    return boto3.Session(region_name=config.region or None)


def _role_refresher(config: SourceConfig) -> Callable[[], dict[str, Any]]:
    """The function botocore calls for fresh credentials: one AssumeRole, made with the
    service's own credentials."""

    def refresh() -> dict[str, Any]:
        params = {"RoleArn": config.role_arn, "RoleSessionName": ROLE_SESSION_NAME}
        if config.external_id:
            params["ExternalId"] = config.external_id
        sts = _own_session(config).client("sts", config=STS_CONFIG)
        try:
            credentials = sts.assume_role(**params)["Credentials"]
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(role_refused_message(config, exc), code="role_not_assumed") from exc
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": credentials["Expiration"].isoformat(),
        }

    return refresh


def role_refused_message(config: SourceConfig, exc: Exception) -> str:
    """Why the role of `config` could not be assumed, in words, with what to do."""
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    if code == "AccessDenied":
        condition = (
            ' with the condition {"StringEquals": {"sts:ExternalId": "<this source\'s '
            'external id>"}}'
            if config.external_id
            else ""
        )
        return (
            f"source {config.name!r}: AWS refused to let this service assume {config.role_arn} "
            "(AccessDenied). In that role's trust policy, allow this service's IAM principal "
            f"the action sts:AssumeRole{condition}; {ROLE_DOCS} has the policy to create"
        )
    return (
        f"source {config.name!r}: could not assume {config.role_arn}: {exc}. Check the role "
        f"ARN and that STS is reachable from this service; {ROLE_DOCS} has the role to create"
    )


def assumed_role_credentials(
    config: SourceConfig, *, time_fetcher: Callable[[], datetime] | None = None
) -> DeferredRefreshableCredentials:
    """Credentials of `config`'s role, assumed on first use and again before they expire.
    `time_fetcher` is botocore's clock (tests pass their own to reach expiry)."""
    clock = {"time_fetcher": time_fetcher} if time_fetcher else {}
    return DeferredRefreshableCredentials(
        refresh_using=_role_refresher(config), method="sts-assume-role", **clock
    )


@functools.lru_cache(maxsize=256)
def boto3_session_for(config: SourceConfig) -> boto3.Session:
    """A boto3 session acting in `config`'s account and region, one per config (cached, so
    the assumed credentials are shared and refreshed in one place). Make clients from it in
    one thread at a time (boto3 sessions are not thread-safe)."""
    if not config.role_arn:
        return _own_session(config)
    core = botocore.session.get_session()
    # botocore has no public setter for a session's credentials; this is the documented
    # pattern for refreshable credentials (botocore.credentials.RefreshableCredentials).
    core._credentials = assumed_role_credentials(config)
    return boto3.Session(botocore_session=core, region_name=config.region or None)


def source_account_id(config: SourceConfig) -> str:
    """The account `config` acts in, from STS GetCallerIdentity; SourceError (in words) when
    the role cannot be assumed or the identity cannot be read."""
    sts = boto3_session_for(config).client("sts", config=STS_CONFIG)
    try:
        return sts.get_caller_identity()["Account"]
    except SourceError:
        raise
    except (ClientError, BotoCoreError) as exc:
        raise SourceError(
            f"source {config.name!r}: could not read the account's identity "
            f"(sts:GetCallerIdentity): {exc}. Check the service's credentials and region",
            code="identity_failed",
        ) from exc
