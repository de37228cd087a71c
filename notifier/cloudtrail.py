"""Who called CreateDeployment: the IAM principal, from CloudTrail.

Two roads bring the same record: `LookupEvents` (polling; each event's `CloudTrailEvent` is the
JSON record) and EventBridge's "AWS API Call via CloudTrail" events (push; their `detail` is
the record). `cloudtrail_principal` reads either.
https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html

LookupEvents allows 2 requests a second per account and region
(https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html): every
call goes through that source's TokenBucket, and one call covers a time window of many
deployments, never one call per deployment.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.config import Config

LOOKUP_RATE = 2.0  # requests a second, CloudTrail's limit per account and region
LOOKUP_PAGE = 50  # MaxResults' maximum
# One retry at most: a lookup runs in its source's poll thread after the cycle, and one not
# answered now is simply asked again NOTIFIER_DEPLOYER_LOOKUP_EVERY later.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=10
)


@dataclass(frozen=True)
class Principal:
    """The IAM identity that created a deployment, as CloudTrail recorded it."""

    type: str  # IAMUser, AssumedRole, Root, AWSService, FederatedUser, IdentityCenterUser
    arn: str = ""
    user_name: str = ""  # an IAM user's name
    session_name: str = ""  # an assumed role's session name
    role_arn: str = ""  # the role an assumed-role session came from
    role_name: str = ""
    invoked_by: str = ""  # the AWS service that called for it, e.g. codepipeline.amazonaws.com
    event_time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["event_time"] = self.event_time.isoformat() if self.event_time else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Principal:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if values.get("event_time"):
            values["event_time"] = datetime.fromisoformat(values["event_time"])
        return cls(**values)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def cloudtrail_principal(event_detail: dict) -> tuple[str, Principal] | None:
    """(deployment id, Principal) from one CloudTrail record of a successful
    codedeploy:CreateDeployment; None for any other record (another call, a refused call)."""
    if not isinstance(event_detail, dict):
        return None
    if event_detail.get("eventName") != "CreateDeployment":
        return None
    if event_detail.get("eventSource", "codedeploy.amazonaws.com") != "codedeploy.amazonaws.com":
        return None
    deployment_id = (event_detail.get("responseElements") or {}).get("deploymentId")
    identity = event_detail.get("userIdentity") or {}
    if not deployment_id or not isinstance(identity, dict):
        return None
    arn = identity.get("arn") or ""
    kind = identity.get("type") or ""
    session_name = ""
    if kind == "AssumedRole" and arn.count("/") >= 2:
        session_name = arn.split("/", 2)[2]  # arn:aws:sts::1:assumed-role/Role/session
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    principal = Principal(
        type=kind,
        arn=arn,
        user_name=identity.get("userName", "") if kind == "IAMUser" else "",
        session_name=session_name,
        role_arn=issuer.get("arn", "") if issuer.get("type") == "Role" else "",
        role_name=issuer.get("userName", "") if issuer.get("type") == "Role" else "",
        invoked_by=identity.get("invokedBy") or _service_agent(event_detail),
        event_time=_time(event_detail.get("eventTime")),
    )
    return deployment_id, principal


def _service_agent(event_detail: dict) -> str:
    agent = event_detail.get("userAgent") or ""
    return agent if agent.endswith(".amazonaws.com") else ""


class TokenBucket:
    """At most `rate` takes a second, `burst` at once; `take` waits its turn. CloudTrail's
    buckets get a burst of 1: calls 1/rate apart, so no second ever holds more than `rate`."""

    def __init__(self, rate: float = LOOKUP_RATE, burst: float = 1.0) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                time.sleep((1 - self.tokens) / self.rate)


_buckets: dict[str, TokenBucket] = {}
_buckets_lock = threading.Lock()


def bucket_for(account_region: str) -> TokenBucket:
    """The one TokenBucket of an account and region (every source acting in it shares it)."""
    with _buckets_lock:
        return _buckets.setdefault(account_region, TokenBucket())


def lookup_principals(
    client: Any, *, start: datetime, end: datetime, bucket: TokenBucket, max_pages: int = 10
) -> tuple[dict[str, Principal], int]:
    """Every CreateDeployment CloudTrail recorded between `start` and `end`: deployment id ->
    Principal, and the number of LookupEvents calls made (at most `max_pages`, each waiting for
    `bucket`)."""
    found: dict[str, Principal] = {}
    params: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateDeployment"}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": LOOKUP_PAGE,
    }
    calls = 0
    while calls < max_pages:
        bucket.take()
        answer = client.lookup_events(**params)
        calls += 1
        for item in answer.get("Events", []):
            try:
                record = json.loads(item.get("CloudTrailEvent") or "{}")
            except ValueError:
                continue
            parsed = cloudtrail_principal(record)
            if parsed is not None:
                found[parsed[0]] = parsed[1]
        if not answer.get("NextToken"):
            break
        params["NextToken"] = answer["NextToken"]
    return found, calls
